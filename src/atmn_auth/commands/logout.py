"""`atmn logout`: take both keys out of the nearest `.env` and revoke them on the server.

`run_logout` does the work and returns the exit code; the click command only parses
flags. Keys are removed first (one atomic rewrite, which also returns the values it
removed), then each removed key is revoked with `DELETE /cli/api-keys/current`
where the server offers it (§5; best effort: every outcome is reported; `--keep-keys`
skips it). A server that cannot revoke (hosted Autumn) gets no request: logout says once
that the keys still work, and where to delete them (exit 0: the file was cleaned).
Values that are not Autumn secret keys are never sent to the server. Definitions logout
does not touch (the process environment, `.env.local`, farther `.env` files) are
reported. Running it again when nothing is left says so and exits 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from atmn_auth.auth.dashboard import still_working
from atmn_auth.keyformat import KEY_VARS, key_kind, redact
from atmn_auth.settings import Settings

if TYPE_CHECKING:
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.commands.invocation import Invocation

VARIABLES: tuple[str, ...] = (KEY_VARS["sandbox"], KEY_VARS["live"])


def run_logout(inv: Invocation, *, env_file: Path | None = None, keep_keys: bool = False) -> int:
    """`atmn logout`: results on `inv.console`; lines starting "Warning: " as its
    warnings (marked `!`, on standard error). Returns the exit code."""
    settings, cwd, environ = inv.settings, inv.cwd, inv.environ
    out, warn = inv.console.result, inv.console.warn
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.envfiles.reader import find_env_file, key_file
    from atmn_auth.envfiles.writer import update_env_file

    explicit = Path(os.path.abspath(env_file)) if env_file is not None else None
    target = explicit or find_env_file(cwd, environ)
    # The `.env.local` beside it first, when it holds the keys (it is read first)
    local = None if explicit else key_file(cwd, environ, VARIABLES)
    targets = [local, target] if local is not None and local != target else [target]
    removed: list[str] = []
    any_removed = False
    for path in targets:
        update = update_env_file(path, remove=VARIABLES)
        any_removed = any_removed or bool(update.removed)
        for var in update.removed:
            values = update.previous_all.get(var, [])
            shown = redact(update.previous[var]) if var in update.previous else "(no value)"
            older = len([v for v in values if v != update.previous.get(var)])
            extra = f" and {older} older definition{'s' if older != 1 else ''}" if older else ""
            out(f"Removed {var} ({shown}){extra} from {path}.")
            removed.extend(values)
    if not any_removed:
        where = f"{target} has no" if os.path.lexists(target) else f"there is no {target}, so no"
        out(f"Nothing to do: {where} {' or '.join(VARIABLES)}.")

    keys = _distinct(removed)
    autumn = Autumn.of(settings, inv.session)
    unrevocable = []
    for key in keys:
        line = _revoke(settings, autumn, key, keep_keys=keep_keys)
        if line is None:
            unrevocable.append(key)
        else:
            (warn if line.startswith("Warning: ") else out)(line)
    works = autumn.which_work(unrevocable) if unrevocable else {}
    for key in unrevocable:
        if works[key] is False:  # deleted in the dashboard already: nothing left to do
            out(f"{redact(key)} was already invalid on the server.")
    alive = [key for key in unrevocable if works[key] is not False]
    confirmed = all(works[key] for key in alive)
    for i, line in enumerate(still_working(settings, alive, confirmed=confirmed)):
        warn(f"Warning: {line}" if i == 0 else line)

    for line in _untouched(cwd=cwd, environ=environ, env_file=explicit, target=target):
        warn(f"Warning: {line}")
    return 0


def _distinct(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen


def _revoke(settings: Settings, autumn: Autumn, key: str, *, keep_keys: bool) -> str | None:
    """What became of `key`; None when the server cannot revoke keys (said once, after)."""
    shown = redact(key)
    if keep_keys:
        return f"Kept {shown} active on the server (--keep-keys)."
    if key_kind(key) is None:
        return f"Not revoking {shown}: it is not an Autumn secret key, so it was not sent anywhere."
    from atmn_auth.errors import BackendError, BackendUnreachable

    dashboard = settings.revoke_elsewhere(key)
    try:
        outcome = autumn.revoke_key(key)
    except (BackendUnreachable, BackendError) as exc:
        return f"Warning: could not revoke {shown}: {exc.message}. It may still work: {dashboard}."
    if outcome == "revoked":
        return f"Revoked {shown} on the server."
    if outcome == "already_invalid":
        return f"{shown} was already invalid on the server."
    return None


def _untouched(
    *, cwd: Path, environ: Mapping[str, str], env_file: Path | None, target: Path
) -> list[str]:
    from atmn_auth.envfiles.resolution import describe, resolve_key, shadows
    from atmn_auth.errors import EnvFileError

    lines: list[str] = []
    for var in VARIABLES:
        try:
            resolution = resolve_key(var, cwd=cwd, environ=environ, env_file=env_file)
        except EnvFileError:
            continue
        lines.extend(describe(s, var, target, still=True) for s in shadows(resolution, target))
    return lines
