"""Whether git would keep a `.env` out of commits, so `login` and `env` can warn."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GIT_TIMEOUT = 5.0


def is_git_ignored(path: Path) -> bool | None:
    """True when git ignores `path`, False when it would track it, None when not in a
    git work tree (or git is missing or fails)."""
    path = Path(os.path.abspath(path))
    directory = path.parent
    if not directory.is_dir() or not _maybe_in_work_tree(directory):
        return None
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, "check-ignore", "-q", "--", path.name],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # 0: ignored; 1: not ignored; 128: not a git repository (or another fatal error).
    if result.returncode == 0:
        return True
    if result.returncode == 1:
        return False
    return None


def _maybe_in_work_tree(directory: Path) -> bool:
    """False only when no `.git` exists here or above (and GIT_DIR does not point
    elsewhere): then git need not be started at all, which saves `atmn env` a process."""
    if os.environ.get("GIT_DIR") or os.environ.get("GIT_WORK_TREE"):
        return True
    return any((parent / ".git").exists() for parent in (directory, *directory.parents))
