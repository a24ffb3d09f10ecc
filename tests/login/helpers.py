"""Running the real `atmn` console script against a real stand-in server."""

from __future__ import annotations

import socket

import httpx2

from support.atmn_cli import ATMN, CALLBACK_PORTS, clean_env, run_atmn

__all__ = [
    "ATMN",
    "CALLBACK_PORTS",
    "clean_env",
    "occupy",
    "organization_of",
    "run_atmn",
]


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
