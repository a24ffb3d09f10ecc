"""The lock that lets one writer at a time rewrite a `.env`.

`locked(target)` takes `flock(LOCK_EX)` on the directory holding the file, opened
read-only: every process that can open the project directory (another user, `sudo`, a
container that mounts the project) takes the same lock, and no file is created for it,
so nothing appears in the project for git to see and nothing is left behind when a
writer dies (the kernel drops the lock with the process). A lock per user in each
user's cache directory could not do that: two users' writers would then run at once and
each delete the other's temporary file as a dead writer's.

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


def _lock_directory(target: Path, timeout: float) -> int | None:
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
                    raise _timeout(target, timeout) from None
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
