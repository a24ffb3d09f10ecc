"""`atmn keys revoke ID|NAME|LAST4`: revoke one key of the organization and environment of
the key in force (contract §7), authorized by that key.

The selector is compared with each listed key's id, its name (the server's, or the
`NAME (sandbox)` label) and its last 4 characters (`Ab12`, `…Ab12` or `am_sk_test_…Ab12`).
No match: one line, exit 1. Several: they are listed on standard error and nothing is
revoked (exit 2: atmn does not choose). A key this project uses (the key in force, or one
in its `.env`) is only revoked after a warning and a yes on a terminal, or with `--yes`;
elsewhere it is refused (exit 2) without `--yes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from atmn_auth.errors import AtmnError, KeyRejected, UsageError
from atmn_auth.flows.keys import ago, in_env_file, key_in_force, listed_keys
from atmn_auth.keys import key_kind
from atmn_auth.text import printable

if TYPE_CHECKING:
    from atmn_auth.api.autumn import ListedKey
    from atmn_auth.api.session import Session
    from atmn_auth.flows.console import Prompter
    from atmn_auth.flows.keys import KeyInForce
    from atmn_auth.flows.style import Output
    from atmn_auth.settings import Settings

_LAST4 = re.compile(r"(?:am_sk_(?:test|live)_)?(?:…|\.\.\.)?([A-Za-z0-9]{4})")


def matching(listed: list[ListedKey], selector: str) -> list[ListedKey]:
    """The listed keys `selector` names: by id, by name or label, or by last 4 characters."""
    wanted = selector.strip()
    last4 = _LAST4.fullmatch(wanted)
    folded = wanted.casefold()
    found = []
    for entry in listed:
        if (
            entry.id == wanted
            or folded in (entry.name.casefold(), entry.label().casefold())
            or (last4 is not None and entry.last4 == last4.group(1))
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
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    session: Session,
    output: Output,
    selector: str,
    yes: bool = False,
    prompter: Prompter | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """`atmn keys revoke` without click; `prompter` is given only when a person can answer."""
    from atmn_auth.api.autumn import Autumn

    if _looks_like_a_key(selector):  # a key on the command line: never repeated
        raise UsageError(
            "that is a whole key (not repeated); name the key to revoke by its id, its name "
            "or its last 4 characters, as `atmn keys list` shows them"
        )
    force = key_in_force(settings, cwd=cwd, environ=environ)
    autumn = Autumn(session, settings.backend_url)
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
    used = _used_here(force, entry)
    if used is not None and not yes:
        output.warn(
            f'Warning: "{entry.label()}" ({entry.redacted()}) is {used}: revoking it breaks this '
            f"project until `{settings.login_command()}` writes new keys."
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
    except KeyRejected as exc:
        raise force.rejected(exc) from None
    if outcome == "not_found":
        raise AtmnError(
            f'the server no longer has "{entry.label()}" ({entry.id}): it was revoked meanwhile'
        )
    output.ok(f'Revoked "{entry.label()}" ({entry.redacted()}, {entry.id}).')
    if used is not None:
        output.warn(
            f"Warning: {used} no longer works: `{settings.login_command()}` writes new keys."
        )
    return 0


def _used_here(force: KeyInForce, entry: ListedKey) -> str | None:
    """How this project uses `entry`, in words, or None when it does not."""
    var = in_env_file(force, entry)
    if var is not None and force.env_file is not None:
        return f"{var} in {force.env_file}"
    if entry.is_key(force.key):
        return f"{force.var} in {force.where()}"
    return None
