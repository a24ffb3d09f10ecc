"""Running the real `atmn` console script against a real stand-in server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx2

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


def organization_of(server_url: str, key: str) -> httpx2.Response:
    return httpx2.get(
        f"{server_url}/v1/organization/me", headers={"Authorization": f"Bearer {key}"}
    )


def occupy(port: int) -> socket.socket:
    """Listens on 127.0.0.1:port, as another program would; fails if something listens there.

    SO_REUSEADDR only lets it past connections of earlier tests lingering in TIME_WAIT:
    Linux still refuses it while another socket is listening on the port.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock
