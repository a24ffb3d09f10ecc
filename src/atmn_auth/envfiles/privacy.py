"""Whether keys may go into a file, checked twice: before anyone signs in
(`auth.filemode.ensure_private`), and again by the writer under its lock, on the file
that is actually written (`recheck`).

Between the two, minutes may pass in the browser. In a directory other users can write
(0777, or 2775 with a shared group), one of them can meanwhile replace `.env` with their
own world-readable file, or with a symlink to one: the second look refuses that. It
wants the same file as was checked (device and inode, or still none; a file your own
atmn rewrote meanwhile, which has a new inode, also passes), owned by you (or a trusted
owner), private, reached by the same path (no symlink swapped in), in a directory of
yours; and the temporary file never gets a wider mode than the file had when it was
checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from atmn_auth.envfiles import trust
from atmn_auth.records import Frozen


def exposure(mode: int) -> list[str]:
    """What a file mode lets other people do with the keys in the file."""
    problems = []
    if mode & stat.S_IWOTH:
        problems.append("anyone can change it")
    elif mode & stat.S_IWGRP:
        problems.append("its group can change it")
    if mode & stat.S_IROTH:
        problems.append("anyone can read it")
    return problems


def open_directory(directory: Path) -> str | None:
    """Who besides you can replace files in `directory`: a sentence, or None. A sticky
    bit (as on /tmp) stops them: only a file's owner may then rename or delete it."""
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return None
    if mode & stat.S_ISVTX:
        return None
    if mode & stat.S_IWOTH:
        return "anyone"
    if mode & stat.S_IWGRP:
        return "its group"
    return None


class Checked(Frozen):
    """A file as it was when keys were allowed into it: its real path, its identity
    (device, inode; None when it did not exist yet), whether the path given was a
    symlink, its mode (None: to be created 0600), and the rule that allowed it."""

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("path", "real", "identity", "link", "mode", "rule")
    __slots__ = _FIELDS
    path: Path
    real: Path
    identity: tuple[int, int] | None
    link: bool
    mode: int | None
    rule: trust.Policy

    def __init__(
        self,
        path: Path,
        real: Path,
        identity: tuple[int, int] | None,
        link: bool,
        mode: int | None,
        rule: trust.Policy,
    ) -> None:
        for name, value in zip(self._FIELDS, (path, real, identity, link, mode, rule), strict=True):
            object.__setattr__(self, name, value)

    __hash__ = None  # type: ignore[assignment]  # the rule is not needed as a key


def snapshot(path: Path, rule: trust.Policy) -> Checked:
    """`path` as it is now (after the checks allowed keys into it)."""
    absolute = Path(os.path.abspath(path))
    real = Path(os.path.realpath(absolute))
    try:
        link = stat.S_ISLNK(os.lstat(absolute).st_mode)
    except OSError:
        link = False
    try:
        st = os.stat(real)
    except OSError:
        return Checked(absolute, real, None, link, None, rule)
    return Checked(absolute, real, (st.st_dev, st.st_ino), link, stat.S_IMODE(st.st_mode), rule)


def recheck(checked: Checked) -> str | None:
    """Why keys must not be written now to the file `checked` described, or None. Called
    under the writers' lock, just before the write."""
    real = Path(os.path.realpath(checked.path))
    if real != checked.real:
        return f"{checked.path} now leads to {real}, not to the {checked.real} that was checked"
    try:
        link = stat.S_ISLNK(os.lstat(checked.path).st_mode)
    except OSError:
        link = False
    if link != checked.link:
        return f"{checked.path} was replaced by a symlink since it was checked"
    try:
        directory_owner = os.stat(real.parent).st_uid
    except OSError:
        directory_owner = None
    if directory_owner is not None and not checked.rule.owns(directory_owner, real.parent):
        return f"its directory {real.parent} now belongs to {trust.owner(directory_owner)}"
    try:
        st = os.stat(real)
    except FileNotFoundError:
        if checked.identity is not None:
            return f"{real} was removed since it was checked"
        return None
    except OSError as exc:
        return f"{real} cannot be looked at: {exc.strerror or exc}"
    if (st.st_dev, st.st_ino) != checked.identity and not _yours(st):
        # another atmn of yours may have rewritten it meanwhile (a new inode, yours): only
        # a file of someone else's is a swap
        what = "created" if checked.identity is None else "replaced"
        return f"{real} was {what} by {trust.owner(st.st_uid)} since it was checked"
    if not checked.rule.owns(st.st_uid, real.parent):
        return f"{real} now belongs to {trust.owner(st.st_uid)}"
    problems = exposure(stat.S_IMODE(st.st_mode))
    if problems:
        return f"{real} is now mode {stat.S_IMODE(st.st_mode):04o}: {' and '.join(problems)}"
    return None


def _yours(st: os.stat_result) -> bool:
    return not hasattr(os, "geteuid") or st.st_uid == os.geteuid()
