"""The lock that lets one writer at a time rewrite a `.env`.

`locked(target)` takes `flock(LOCK_EX)` on the directory holding the file, opened
read-only: every process that can open the project directory (another user, `sudo`, a
container that mounts the project) takes the same lock, and no file is created for it,
so nothing appears in the project for git to see and nothing is left behind when a
writer dies (the kernel drops the lock with the process). A lock per user in each
user's cache directory could not do that: two users' writers would then run at once and
each delete the other's temporary file as a dead writer's.

The price of a lock every user can take: anyone who can open the project directory (read
access is enough for `flock`) can hold it and make writes wait. A writer holds it for
milliseconds, so `ensure_free` (called before a sign-in, see `auth.filemode`) refuses at
once when it stays held, and both it and the timeout name the holder (pid, user, command)
where `/proc/locks` tells it: the person can then see whether it is a stuck atmn or
someone else's process, instead of signing in for keys that have nowhere to go.

Where the directory cannot be locked that way (no `fcntl`: Windows; a file system that
refuses `flock` on a directory; a directory that cannot be opened) the lock is a file
in the user's cache directory (`filelock`), which serialises that user's writers only.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from atmn_auth.errors import EnvFileError

LOCK_TIMEOUT = 30.0
#: How long `ensure_free` waits for a writer to finish (a write holds the lock for
#: milliseconds; an fsync on a slow disk, a little longer).
PRECHECK_WAIT = 2.0


@contextlib.contextmanager
def locked(target: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Holds the lock of `target` (a real path: symlinks resolved) while the block runs;
    `EnvFileError` when another writer keeps it for `timeout` seconds."""
    fd = _lock_directory(target, timeout)
    if fd is None:
        with _cache_file_lock(target, timeout):
            yield
        return
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def ensure_free(target: Path, wait: float = PRECHECK_WAIT) -> None:
    """Raises `EnvFileError` now when the lock of `target` (a real path) stays held for
    `wait` seconds, naming its holder: for the flows that sign in before they write, so
    that nobody signs in for keys the write would then time out on. Returns when the lock
    could be taken (and released at once) or cannot be checked here."""
    fd = _lock_directory(target, wait, precheck=True)
    if fd is not None:
        os.close(fd)


def _lock_directory(target: Path, timeout: float, *, precheck: bool = False) -> int | None:
    """A descriptor of `target`'s directory holding `flock(LOCK_EX)`, or None when the
    directory cannot be locked this way."""
    try:
        import fcntl
    except ImportError:
        return None
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target.parent, flags)
    except OSError:
        return None
    deadline = time.monotonic() + timeout
    pause = 0.002
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _held(target, fd, timeout, precheck=precheck) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
    except OSError:  # flock not supported here (ENOLCK, EOPNOTSUPP, ...)
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise


def _timeout(target: Path, timeout: float) -> EnvFileError:
    return EnvFileError(f"another atmn has been writing {target} for {timeout:.0f}s; try again")


def _held(target: Path, fd: int, timeout: float, *, precheck: bool) -> EnvFileError:
    """What to say when the directory lock stayed held: who holds it, where known."""
    directory = target.parent
    who = describe_holders(fd)
    if precheck:
        return EnvFileError(
            f"cannot write {target} now: the lock on {directory}, which every atmn writing "
            f"there takes, is held by {who}; nothing was done. Try again once it is "
            "released, or write elsewhere with --env-file"
        )
    return EnvFileError(
        f"{target} was not written: the lock on {directory}, which every atmn writing there "
        f"takes, has been held for {timeout:.0f}s by {who}; try again once it is released"
    )


# ---------------------------------------------------------------------------- its holder


def describe_holders(fd: int) -> str:
    """Who holds `flock` on the file open at `fd`, in words: `pid 597 (flock, user mallory,
    uid 1001)`; where `/proc/locks` does not say (not Linux, a holder in another PID
    namespace), `another process (possibly another user's)`."""
    try:
        st = os.fstat(fd)
        pids = holders(st.st_dev, st.st_ino)
    except OSError:
        pids = []
    if not pids:
        return "another process (possibly another user's; which one is not known here)"
    return " and ".join(_process(pid) for pid in pids)


def holders(dev: int, ino: int, locks: str = "/proc/locks") -> list[int]:
    """The pids `locks` lists as holding an `flock` on the file (`dev`, `ino`); 0 for a
    holder outside this PID namespace. Waiters (`->` lines) are left out."""
    wanted = (os.major(dev), os.minor(dev), ino)
    found: list[int] = []
    with open(locks, encoding="ascii", errors="replace") as table:
        for line in table:
            fields = line.split()
            # 1: FLOCK  ADVISORY  WRITE 597 fe:00:2236417 0 EOF
            if len(fields) < 6 or fields[1] != "FLOCK":  # a POSIX lock, or a waiter ("->")
                continue
            try:
                major, minor, inode = fields[5].split(":")
                where = (int(major, 16), int(minor, 16), int(inode))
                pid = int(fields[4])
            except ValueError:
                continue
            if where == wanted and pid not in found:
                found.append(pid)
    return found


def _process(pid: int) -> str:
    """`pid 597 (flock, user mallory, uid 1001)`, with what `/proc/PID/status` tells."""
    if pid <= 0:
        return "a process in another PID namespace (a container or its host)"
    name, uid = None, None
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key == "Name":  # the holder chose it: it may hold escape sequences
                    from atmn_auth.text import printable

                    name = printable(value, 64) or None
                elif key == "Uid" and value.split():
                    uid = int(value.split()[0])
    except FileNotFoundError:
        return f"pid {pid} (no longer running: a process it started still holds it)"
    except (OSError, ValueError):  # hidden from us (hidepid), or unreadable
        return f"pid {pid}"
    shown = [name] if name else []
    if uid is not None:
        from atmn_auth.envfiles.trust import owner

        named = owner(uid)
        shown.append(f"user {named}" if named != f"uid {uid}" else named)
    return f"pid {pid} ({', '.join(shown)})" if shown else f"pid {pid}"


# ---------------------------------------------------------------------------- the fallback


@contextlib.contextmanager
def _cache_file_lock(target: Path, timeout: float) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock = FileLock(lock_path_for(target), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise _timeout(target, timeout) from None
    try:
        yield
    finally:
        lock.release()


def lock_path_for(target: Path) -> Path:
    """The fallback lock file for `target`: outside the project, keyed by its real path."""
    import hashlib  # imported here: reading a .env (atmn env) does not need it

    digest = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()[:32]
    return _lock_dir() / f"{digest}.lock"


def _lock_dir() -> Path:
    import tempfile

    import platformdirs

    candidates = [
        platformdirs.user_cache_path("atmn", appauthor=False) / "locks",
        Path(tempfile.gettempdir()) / f"atmn-locks-{_uid()}",
    ]
    for directory in candidates:
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            st = os.stat(directory)
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                continue  # someone else's directory in a shared /tmp: do not trust it
            if os.access(directory, os.W_OK | os.X_OK):
                return directory
        except OSError:
            continue
    raise EnvFileError(
        "cannot create a lock directory (tried "
        + ", ".join(str(c) for c in candidates)
        + "); set XDG_CACHE_HOME to a writable directory"
    )


def _uid() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
