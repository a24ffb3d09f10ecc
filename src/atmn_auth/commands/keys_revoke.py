"""`atmn keys revoke ID|NAME|LAST4`: revoke one key of the organization and environment of
the key in force (contract §7), authorized by that key.

The selector is compared with each listed key's id, its name (the server's, or the
`NAME (sandbox)` label) and its last 4 characters (`Ab12`, `…Ab12` or `am_sk_test_…Ab12`;
with the prefix, only keys of that environment: `am_sk_test_…Ab12` under `-p` is one
line saying it is a sandbox key, exit 1). No match: one line, exit 1. Several: they are
listed on standard error and nothing is revoked (exit 2: atmn does not choose). A key
this project uses (`envfiles.uses.uses_of`: any variable of the process environment, of its
`.env` or of the `.env.local` beside it, or a key variable of a `.env` farther up) is only revoked
after a warning and a yes on a terminal, or with `--yes`; elsewhere it is refused
(exit 2) without `--yes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from atmn_auth.auth.inforce import listed_keys, offered_key_in_force
from atmn_auth.envfiles.uses import uses_of
from atmn_auth.errors import AtmnError, InvalidKey, UsageError
from atmn_auth.keyformat import PREFIXES, KeyKind, key_kind
from atmn_auth.text import ago, printable

if TYPE_CHECKING:
    from atmn_auth.api.autumn import ListedKey
    from atmn_auth.auth.inforce import KeyInForce
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.settings import Settings

_LAST4 = re.compile(r"(am_sk_(?:test|live)_)?(?:…|\.\.\.)?([A-Za-z0-9]{4})")


def selector_kind(selector: str) -> KeyKind | None:
    """The environment a selector's prefix names (`am_sk_test_…Ab12`: sandbox), if any."""
    last4 = _LAST4.fullmatch(selector.strip())
    prefix = last4.group(1) if last4 is not None else None
    return next((kind for kind, known in PREFIXES.items() if known == prefix), None)


def matching(listed: list[ListedKey], selector: str) -> list[ListedKey]:
    """The listed keys `selector` names: by id, by name or label, or by last 4 characters
    (with a prefix, only keys of that environment)."""
    wanted = selector.strip()
    last4 = _LAST4.fullmatch(wanted)
    kind = selector_kind(wanted)
    folded = wanted.casefold()
    found = []
    for entry in listed:
        if (
            entry.id == wanted
            or folded in (entry.name.casefold(), entry.label().casefold())
            or (
                last4 is not None
                and entry.last4 == last4.group(2)
                and (kind is None or entry.env == kind)
            )
        ):
            found.append(entry)
    return found


def _looks_like_a_key(selector: str) -> bool:
    """A whole (or nearly whole) key, rather than the `am_sk_test_…Ab12` a list shows."""
    text = selector.strip()
    if key_kind(text) is not None:
        return True
    return text.startswith(("am_sk_", "am_pk_")) and "…" not in text and "..." not in text


def candidate_line(entry: ListedKey, now: datetime) -> str:
    return f"  {entry.id}  {entry.label()}  …{entry.last4}  created {ago(entry.created_at, now)}"


def run_revoke(
    inv: Invocation,
    *,
    selector: str,
    yes: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """`atmn keys revoke`: asks (`inv.console.asks`) only when a person can answer."""
    settings, cwd, environ = inv.settings, inv.cwd, inv.environ
    output, prompter = inv.console, inv.console.asks
    from atmn_auth.api.autumn import Autumn

    if _looks_like_a_key(selector):  # a key on the command line: never repeated
        raise UsageError(
            "that is a whole key (not repeated); name the key to revoke by its id, its name "
            "or its last 4 characters, as `atmn keys list` shows them"
        )
    named = selector_kind(selector)
    if named is not None and named != settings.kind:
        raise AtmnError(_other_environment(settings, selector.strip(), named))
    autumn = Autumn.of(settings, inv.session)
    force = offered_key_in_force(autumn, settings, cwd=cwd, environ=environ)
    listed = listed_keys(autumn, force)
    found = matching(listed, selector)
    moment = now()
    selector = printable(selector, 80)
    if not found:
        other = "" if settings.prod else " (live keys: atmn -p keys list)"
        raise AtmnError(
            f"no {settings.kind} key matches {selector!r}; nothing was revoked. "
            f"`{settings.command('keys list')}` shows them{other}"
        )
    if len(found) > 1:
        for entry in found:
            output.warn(candidate_line(entry, moment).strip())
        raise UsageError(
            f"{selector!r} matches {len(found)} keys (listed above); nothing was revoked: "
            f"name one by its id, e.g. `{settings.command('keys revoke')} {found[0].id}`"
        )
    (entry,) = found
    used = _used_here(force, entry, cwd=cwd, environ=environ)
    if used and not yes:
        output.warn(
            f'Warning: "{entry.label()}" ({entry.redacted()}) is {" and ".join(used)}: revoking '
            f"it breaks this project until `{settings.login_command()}` writes new keys."
        )
        if prompter is None:
            raise UsageError(
                f"refusing to revoke {entry.redacted()}, which this project uses, without "
                "--yes; nothing was revoked"
            )
        if not prompter.confirm(f'Revoke "{entry.label()}" ({entry.redacted()}) anyway?', False):
            output.result("Kept it; nothing was revoked.")
            return 0
    try:
        outcome = autumn.revoke_key_by_id(force.key, entry.id)
    except InvalidKey as exc:
        raise force.rejected(exc) from None
    if outcome == "not_found":
        raise AtmnError(
            f'the server no longer has "{entry.label()}" ({entry.id}): it was revoked meanwhile'
        )
    output.ok(f'Revoked "{entry.label()}" ({entry.redacted()}, {entry.id}).')
    if used:
        works = "works" if len(used) == 1 else "work"
        output.warn(
            f"Warning: {' and '.join(used)} no longer {works}: `{settings.login_command()}` "
            "writes new keys."
        )
    return 0


def _other_environment(settings: Settings, selector: str, named: KeyKind) -> str:
    """The one line for a selector whose prefix names the other environment's keys."""
    from atmn_auth.settings import Settings

    other = Settings(
        not settings.prod,
        settings.local,
        settings.backend_url,
        settings.web_url,
        settings.client_id,
        settings.issuer,
    )
    scope = "-p" if settings.prod else f"`{settings.command('keys revoke')}`"
    return (
        f"{selector} is a {named} key and {scope} revokes {settings.kind} keys; nothing was "
        f"revoked: `{other.command('keys revoke')} {selector}` revokes it"
    )


def _used_here(
    force: KeyInForce, entry: ListedKey, *, cwd: Path, environ: Mapping[str, str]
) -> list[str]:
    """Where this project uses `entry`, in words ("AUTUMN_SECRET_KEY in /p/.env"); empty
    when it does not."""
    places = uses_of(entry.is_key, cwd=cwd, environ=environ)
    if not places and entry.is_key(force.key):
        places = [f"{force.var} in {force.where()}"]
    return places
