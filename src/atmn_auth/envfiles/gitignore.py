"""Whether git would keep a `.env` out of commits, so `login` and `env` can warn."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

GIT_TIMEOUT = 5.0


def is_git_ignored(path: Path) -> bool | None:
    """True when git ignores `path`, False when it would track it, None when not in a
    git work tree (or git is missing or fails)."""
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory) or not _maybe_in_work_tree(directory):
        return None
    code = _git(["check-ignore", "-q", "--", name], directory)
    # 0: ignored; 1: not ignored; 128: not a git repository (or another fatal error).
    if code == 0:
        return True
    if code == 1:
        return False
    return None


def _maybe_in_work_tree(directory: str) -> bool:
    """False only when no `.git` exists here or above (and GIT_DIR does not point
    elsewhere): then git need not be started at all, which saves `atmn env` a process."""
    if os.environ.get("GIT_DIR") or os.environ.get("GIT_WORK_TREE"):
        return True
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return True
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent


def _git(args: list[str], cwd: str) -> int | None:
    """git's exit code, with no input and its output discarded; None when git is missing,
    cannot be started, or takes longer than `GIT_TIMEOUT`.

    On POSIX through `os.posix_spawnp` (`git -C cwd`), which spares `atmn env` importing
    `subprocess` and `shutil` at start-up; elsewhere through `subprocess`.
    """
    spawn = getattr(os, "posix_spawnp", None)
    if spawn is None or os.name != "posix":
        return _git_subprocess(args, cwd)
    null = os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        pid = spawn("git", ["git", "-C", cwd, *args], os.environ, file_actions=actions)
    except OSError:  # not on PATH, or cannot be run
        return None
    return _wait(pid, GIT_TIMEOUT)


def _wait(pid: int, timeout: float) -> int | None:
    """The exit code of child `pid`, or None (having killed it) after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    pause = 0.0002
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            import signal

            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _git_subprocess(args: list[str], cwd: str) -> int | None:
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.returncode
