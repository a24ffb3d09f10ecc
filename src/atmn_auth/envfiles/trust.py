"""Whose `.env` files the search may use: only yours (or root's), or those you said to trust.

The walk up to the nearest `.env` passes through directories other people may write to
(`/tmp`, a shared checkout, another user's home). A `.env` planted there would hand you
its key (`atmn env`, `AutumnClient`) or receive yours (`atmn login`). So, as git does
with `safe.directory` (CVE-2022-24765), a `.env` is used only when both the file and the
directory holding it belong to the current user or to root; under `sudo` (running as
root with `SUDO_UID` set), to the user who ran sudo too. Any other `.env` is skipped with
a warning naming it (once per process), and the search goes on upwards.

A project another user owns on purpose (a bind mount in a root container, whose files
belong to uid 1000; a checkout shared with a team) is trusted by naming its directory in
`ATMN_SAFE_DIRECTORIES` (absolute paths separated by `os.pathsep`; `*` trusts every
directory): a `.env` in a listed directory is used, and written, whoever owns it. Only
the directory itself is listed, not the ones below it (as git's `safe.directory`).

Everything is read from the `environ` the caller passes (`SUDO_UID` too), so the rule
is the one of the process environment the command was given (`AutumnClient(environ=…)`).
On systems without user ids (Windows) every file is trusted.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from atmn_auth.records import Frozen

SAFE_DIRECTORIES_VAR = "ATMN_SAFE_DIRECTORIES"

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


class Policy(Frozen):
    """Whose files are used: `uids` (None where files have no owners), and the
    directories trusted whoever owns them (`safe`, real paths; `every` for `*`)."""

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("uids", "safe", "every", "listed")
    __slots__ = _FIELDS
    uids: frozenset[int] | None
    safe: frozenset[str]
    every: bool
    #: `ATMN_SAFE_DIRECTORIES` as given, so that advice can add to it.
    listed: str

    def __init__(
        self,
        uids: frozenset[int] | None,
        safe: frozenset[str] = frozenset(),
        every: bool = False,
        listed: str = "",
    ) -> None:
        object.__setattr__(self, "uids", uids)
        object.__setattr__(self, "safe", safe)
        object.__setattr__(self, "every", every)
        object.__setattr__(self, "listed", listed)

    def is_safe(self, directory: Path | str) -> bool:
        """Whether `directory` is listed in `ATMN_SAFE_DIRECTORIES` (or `*` is)."""
        return self.every or (bool(self.safe) and os.path.realpath(directory) in self.safe)

    def owns(self, uid: int, directory: Path | str) -> bool:
        """Whether a file of `uid` in `directory` is trusted."""
        return self.uids is None or uid in self.uids or self.is_safe(directory)


def policy(environ: Mapping[str, str] | None = None) -> Policy:
    """The rule for a process whose environment is `environ` (`os.environ` when None)."""
    environ = os.environ if environ is None else environ
    uids = trusted_uids(environ)
    listed = environ.get(SAFE_DIRECTORIES_VAR, "")
    if uids is None or not listed:
        return Policy(uids)
    safe, every = set(), False
    for entry in listed.split(os.pathsep):
        entry = os.path.expanduser(entry)
        if entry == "*":
            every = True
        elif os.path.isabs(entry):
            safe.add(os.path.realpath(entry))
        elif entry and entry not in _warned:
            _warned.add(entry)
            warn(f"{SAFE_DIRECTORIES_VAR}: ignored {entry!r}, not an absolute path.")
    return Policy(uids, frozenset(safe), every, listed)


def trusted_uids(environ: Mapping[str, str] | None = None) -> frozenset[int] | None:
    """The owners whose files are used: you and root (and, as root under sudo, the user
    who ran sudo: `SUDO_UID` in `environ`). None where files have no owners."""
    if not hasattr(os, "geteuid"):
        return None
    environ = os.environ if environ is None else environ
    me = os.geteuid()
    uids = {me, 0}
    sudo = environ.get("SUDO_UID", "")
    if me == 0 and sudo.isdigit():
        uids.add(int(sudo))
    return frozenset(uids)


def untrusted_reason(path: Path, rule: Policy | None = None) -> str | None:
    """Why the existing `path` must not be used, or None when it may be."""
    rule = policy() if rule is None else rule
    if rule.uids is None or rule.is_safe(path.parent):
        return None
    uids = rule.uids
    try:
        link = os.lstat(path)
        directory = os.stat(path.parent)
    except OSError:
        return None  # gone meanwhile, or not ours to look at: reading it says so
    if directory.st_uid not in uids:
        return f"its directory {path.parent} belongs to {owner(directory.st_uid)}"
    if link.st_uid not in uids:
        return f"it belongs to {owner(link.st_uid)}"
    if stat.S_ISLNK(link.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            return None  # a dangling link: nothing to read
        if target.st_uid not in uids:
            return f"the file it links to belongs to {owner(target.st_uid)}"
    return None


class Skipped(Frozen):
    """A `.env` the search passed over, and why (`untrusted_reason`)."""

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("path", "reason")
    __slots__ = _FIELDS
    path: Path
    reason: str

    def __init__(self, path: Path, reason: str) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "reason", reason)

    def headline(self) -> str:
        """`… belongs to uid 1000 and was skipped`, the start of a next step."""
        if self.reason.startswith("it belongs to "):
            return f"{self.path} {self.reason.removeprefix('it ')} and was skipped"
        return f"{self.path} was skipped: {self.reason}"


def check(path: Path, rule: Policy, *, announce: bool = True) -> Skipped | None:
    """None when the existing `path` may be used; else what was skipped, said (once per
    process) through `warn` unless `announce` is false (the caller shows it itself)."""
    reason = untrusted_reason(path, rule)
    if reason is None:
        return None
    skipped = Skipped(path, reason)
    shown = str(path)
    if shown not in _warned:
        _warned.add(shown)
        if announce:
            warn(skip_warning(skipped, rule))
    return skipped


def trusted(path: Path, rule: Policy | None = None) -> bool:
    """Whether the existing `path` may be used; warns (once) when it may not."""
    return check(path, policy() if rule is None else rule) is None


def skip_warning(skipped: Skipped, rule: Policy) -> str:
    """The one line saying that `skipped` was not used, and what to do about it."""
    hint = trust_hint(skipped.path.parent, rule)
    what_to_do = "remove it or take it over (chown) if it is yours"
    if hint is not None:
        what_to_do = f"if you trust it: {hint}; else {what_to_do}"
    return (
        f"skipped {skipped.path}: {skipped.reason}, not to you or root, so its keys are not "
        f"trusted and none are written to it; {what_to_do}."
    )


def trust_hint(directory: Path, rule: Policy) -> str | None:
    """The command that trusts `directory` (`export ATMN_SAFE_DIRECTORIES=…`, keeping what
    is listed already); None for a directory anyone may write to, such as `/tmp`: what is
    in it is not its owner's, so listing it would trust whoever put a file there."""
    try:
        if os.stat(directory).st_mode & stat.S_IWOTH:
            return None
    except OSError:
        return None
    import shlex

    real = os.path.realpath(directory)
    value = f"{rule.listed}{os.pathsep}{real}" if rule.listed else real
    return f"export {SAFE_DIRECTORIES_VAR}={shlex.quote(value)}"


def owner(uid: int) -> str:
    """`ada (uid 1000)`, or `uid 1000` when the name is unknown. The name passes the
    filter server text does (`printable`): whoever made the account chose it."""
    try:
        import pwd

        from atmn_auth.text import printable

        name = printable(pwd.getpwuid(uid).pw_name, 64)
    except (ImportError, KeyError):
        return f"uid {uid}"
    return f"{name} (uid {uid})" if name else f"uid {uid}"
