"""`atmn keys create --name NAME`: sign in as `atmn login` does, mint one pair named NAME
(contract §7), keep the key of the environment asked for, revoke the other at once, and
hand the kept key back once, for the caller to print. Nothing is written to any file.

A server that does not advertise naming keys (§X `key_names`, which hosted Autumn lacks)
is told apart before the browser opens, from its metadata: the answer is one line, exit
1, and nothing is minted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from atmn_auth.api.metadata import KEY_NAMES
from atmn_auth.auth.inforce import not_offered, revoke_one
from atmn_auth.errors import UsageError
from atmn_auth.keyformat import KeyKind, redact
from atmn_auth.settings import CALLBACK_PORTS
from atmn_auth.text import printable

if TYPE_CHECKING:
    from atmn_auth.api.autumn import Organization
    from atmn_auth.auth.signin import SignInOptions
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.settings import Settings
    from atmn_auth.term.console import Console

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class CreateOptions:
    name: str
    kind: KeyKind
    #: How to sign in (`--org`, `--no-browser`, `--timeout`, `--device`), as for login.
    sign_in: SignInOptions


@dataclass(frozen=True)
class Created:
    """The key kept (whole: the caller prints it once), and what became of its pair."""

    key: str
    label: str
    organization: Organization | None
    other_key: str
    other_outcome: str

    def __repr__(self) -> str:
        return (
            f"Created(key={redact(self.key)!r}, label={self.label!r}, "
            f"other_key={redact(self.other_key)!r}, other_outcome={self.other_outcome!r})"
        )


def check_name(name: str) -> str:
    """The name as given, when a server can store it and a list can show it."""
    if not name.strip():
        raise UsageError("--name must not be empty")
    if printable(name, MAX_NAME_LENGTH + 1) != name:
        raise UsageError("--name must be one line without control characters or extra spaces")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"--name is {len(name)} characters long; at most {MAX_NAME_LENGTH}")
    return name


def run_create(
    inv: Invocation, options: CreateOptions, *, ports: Sequence[int] = CALLBACK_PORTS
) -> int:
    """`atmn keys create`: the key alone as the result (standard output), everything
    else on the message stream (`print_created`). Returns the exit code."""
    created = create_key(inv, options, ports=ports)
    print_created(created, inv.settings, console=inv.console.messages_only())
    inv.console.result(created.key)
    return 0


def create_key(
    inv: Invocation, options: CreateOptions, *, ports: Sequence[int] = CALLBACK_PORTS
) -> Created:
    """Signs in, mints the pair named `options.name`, revokes the other key."""
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.auth.signin import sign_in

    name = check_name(options.name)
    settings = inv.settings
    autumn = Autumn.of(settings, inv.session)
    if not autumn.offers(KEY_NAMES):
        raise not_offered(settings)
    signed = sign_in(
        settings,
        inv.session,
        inv.console,
        environ=inv.environ,
        options=dataclasses.replace(options.sign_in, key_name=name),
        ports=ports,
    )
    signed.revoked.result()  # one request at a time on the session from here
    keys = signed.keys
    other_kind: KeyKind = "live" if options.kind == "sandbox" else "sandbox"
    kept, other = keys.of(options.kind), keys.of(other_kind)
    outcome = revoke_one(autumn, other)
    organization = signed.organization or autumn.organization_of(kept)
    return Created(
        key=kept,
        label=f"{name} ({options.kind})",
        organization=organization,
        other_key=other,
        other_outcome=outcome,
    )


def print_created(created: Created, settings: Settings, *, console: Console) -> None:
    """What `atmn keys create` says besides the key (the key alone goes to stdout): on the
    stream `console` writes results to, which the command points at stderr."""
    org = created.organization
    where = f" for {org.label()}" if org is not None else ""
    console.ok(f'Created "{created.label}" ({redact(created.key)}){where}.')
    other, fate = redact(created.other_key), created.other_outcome
    if fate in ("revoked", "already_invalid"):
        console.result(f"The other key minted with it ({other}) was revoked.")
    else:
        why = "this server cannot revoke keys" if fate == "unsupported" else fate
        elsewhere = settings.revoke_elsewhere(created.other_key)
        console.warn(
            f"Warning: could not revoke the other key minted with it ({other}: {why}); "
            f"it still works: {elsewhere}."
        )
