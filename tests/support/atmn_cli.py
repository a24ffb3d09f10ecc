"""Running the real `atmn` console script as a user would, in a minimal environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ATMN = str(Path(sys.executable).with_name("atmn"))
CALLBACK_PORTS = (31448, 31449, 31450, 31451, 31452)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: no display, no stray Autumn keys, a private HOME."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    env.update(extra)
    return env


def run_atmn(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATMN, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
