"""A rotation cut short between its write and the old keys' revocation (the process was
killed): what it left pending, recorded outside the project, and finished later.

`atmn keys rotate` records the old keys it is about to retire just before it writes the
new ones (`record`), and clears the record once they are settled, or once the old keys
are back in the file (`clear`). A record still there means the process died in between:
the file holds new keys while the old pair is valid and held nowhere. The next `atmn
keys rotate` in that project finishes the job (`finish`: revoke, unless the project
still holds a key, as rotate itself would), and `atmn env` says so meanwhile (`notice`).

The record holds the old keys themselves (revoking needs them): it is a private file
(0600, in a 0700 directory of the user's state directory), written atomically, as the
`.env` they came from was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atmn_auth.errors import AtmnError
from atmn_auth.keyformat import key_kind, redact

if TYPE_CHECKING:
    from atmn_auth.api.autumn import Autumn, MintedKeys
    from atmn_auth.settings import Settings


def _directory(environ: Mapping[str, str]) -> Path:
    """platformdirs' user state directory for atmn; on Linux without importing it (`atmn
    env` looks here at every run)."""
    import sys

    if sys.platform.startswith("linux"):
        state = environ.get("XDG_STATE_HOME", "").strip()
        base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
        return base / "atmn" / "pending-rotations"
    import platformdirs

    return platformdirs.user_state_path("atmn", appauthor=False) / "pending-rotations"


def _path(target: Path, environ: Mapping[str, str]) -> Path:
    import hashlib

    digest = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()[:32]
    return _directory(environ) / f"{digest}.json"


def record(
    target: Path, old: Sequence[str], new: MintedKeys, backend_url: str, environ: Mapping[str, str]
) -> None:
    """Before the write: the old keys the new ones will retire. Best effort (a rotation
    is not refused for want of a state directory)."""
    import json
    import tempfile

    if not old:
        return
    path = _path(target, environ)
    data = {
        "env_file": os.path.realpath(target),
        "backend_url": backend_url,
        "old": list(old),
        "new_last4": [key[-4:] for key in new.all()],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pending.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return


def clear(target: Path, environ: Mapping[str, str]) -> None:
    try:
        os.unlink(_path(target, environ))
    except OSError:
        return


def load(target: Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The record for `target`, when one is left and readable."""
    if not os.path.isdir(_directory(environ)):
        return None  # no rotation was ever cut short here: the usual case, one stat
    import json  # only now: `atmn env --offline` gets here on every run

    try:
        with open(_path(target, environ), encoding="utf-8") as stored:
            data = json.load(stored)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("old"), list):
        return None
    data["old"] = [key for key in data["old"] if isinstance(key, str) and key_kind(key)]
    return data


def notice(target: Path, environ: Mapping[str, str], settings: Settings) -> str | None:
    """One sentence for `atmn env` while a record is left for `target`."""
    data = load(target, environ)
    if data is None or data.get("backend_url") != settings.backend_url or not data["old"]:
        return None
    shown = ", ".join(redact(key) for key in data["old"])
    return (
        f"an `atmn keys rotate` of {target} was cut short after writing the new keys: the "
        f"old keys it replaced ({shown}) were not revoked and still work; run "
        f"`{settings.command('keys rotate')}` to finish it (it revokes them first)."
    )


def finish(
    autumn: Autumn,
    settings: Settings,
    target: Path,
    *,
    cwd: Path,
    environ: Mapping[str, str],
) -> list[str]:
    """Settles what an interrupted rotation of `target` left pending: each old key is
    revoked (or kept, when this project still holds it); lines saying so. When the file
    no longer holds that rotation's new keys, nothing is revoked (something else wrote
    it since) and the line says which keys are left."""
    from atmn_auth.auth.inforce import revoke_one
    from atmn_auth.envfiles.reader import read_env
    from atmn_auth.envfiles.uses import kept_because

    data = load(target, environ)
    if data is None or data.get("backend_url") != settings.backend_url:
        return []
    old: list[str] = data["old"]
    try:
        held = [v for v in read_env(target).values() if isinstance(v, str) and key_kind(v)]
    except AtmnError:  # unreadable: the rotation itself will say so
        held = []
    ours = {value[-4:] for value in held}
    if not old or not set(data.get("new_last4") or []) <= ours:
        clear(target, environ)
        if not old:
            return []
        shown = ", ".join(redact(key) for key in old)
        return [
            f"An earlier `atmn keys rotate` of {target} was cut short; the file no longer "
            f"holds its new keys, so the old keys it replaced ({shown}) are left as they are: "
            "revoke them once nothing uses them."
        ]
    lines = []
    for key in old:
        fate = kept_because(key, cwd=cwd, environ=environ) or revoke_one(autumn, key)
        if fate in ("revoked", "already_invalid"):
            lines.append(f"Finished an interrupted rotation: revoked the old key {redact(key)}.")
        elif fate.startswith("kept: "):
            lines.append(
                f"Finished an interrupted rotation: kept the old key {redact(key)}, "
                f"{fate.removeprefix('kept: ')}."
            )
        else:
            why = "this server cannot revoke keys" if fate == "unsupported" else fate
            lines.append(
                f"An interrupted rotation left the old key {redact(key)} working ({why}): "
                f"{settings.revoke_elsewhere(key)}."
            )
    clear(target, environ)
    return lines
