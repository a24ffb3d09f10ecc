"""Whose `.env` files the search may use: only yours (or root's).

The walk up to the nearest `.env` passes through directories other people may write to
(`/tmp`, a shared checkout, another user's home). A `.env` planted there would hand you
its key (`atmn env`, `AutumnClient`) or receive yours (`atmn login`). So, as git does
with `safe.directory` (CVE-2022-24765), a `.env` is used only when both the file and the
directory holding it belong to the current user or to root; under `sudo` (running as
root with `SUDO_UID` set), to the user who ran sudo too. Any other `.env` is skipped with
a warning naming it (once per process), and the search goes on upwards.

On systems without user ids (Windows) every file is trusted.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

#: Where the warnings go: one line each, already worded. `atmn` leaves the default (a
#: `! Warning: ...` line on standard error); a program may point it elsewhere.
warn: Callable[[str], None]
_warned: set[str] = set()


def _stderr(line: str) -> None:
    try:
        sys.stderr.write(f"! Warning: {line}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # no usable stderr: nobody to tell
        pass


warn = _stderr


def trusted_uids() -> frozenset[int] | None:
    """The owners whose files are used: you and root (and, as root under sudo, the user
    who ran sudo). None where files have no owners."""
    if not hasattr(os, "geteuid"):
        return None
    me = os.geteuid()
    uids = {me, 0}
    sudo = os.environ.get("SUDO_UID", "")
    if me == 0 and sudo.isdigit():
        uids.add(int(sudo))
    return frozenset(uids)


def untrusted_reason(path: Path, uids: frozenset[int] | None = None) -> str | None:
    """Why the existing `path` must not be used, or None when it may be."""
    uids = trusted_uids() if uids is None else uids
    if uids is None:
        return None
    try:
        link = os.lstat(path)
        directory = os.stat(path.parent)
    except OSError:
        return None  # gone meanwhile, or not ours to look at: reading it says so
    if directory.st_uid not in uids:
        return f"its directory {path.parent} belongs to {_owner(directory.st_uid)}"
    if link.st_uid not in uids:
        return f"it belongs to {_owner(link.st_uid)}"
    if stat.S_ISLNK(link.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            return None  # a dangling link: nothing to read
        if target.st_uid not in uids:
            return f"the file it links to belongs to {_owner(target.st_uid)}"
    return None


def trusted(path: Path, uids: frozenset[int] | None = None) -> bool:
    """Whether the existing `path` may be used; warns (once) when it may not."""
    reason = untrusted_reason(path, uids)
    if reason is None:
        return True
    shown = str(path)
    if shown not in _warned:
        _warned.add(shown)
        warn(
            f"skipped {path}: {reason}, not to you or root, so its keys are not trusted "
            "and none are written to it; remove it or take it over (chown) if it is yours."
        )
    return False


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"
