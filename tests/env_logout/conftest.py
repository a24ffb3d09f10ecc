"""Fixtures for the `atmn env` and `atmn logout` tests: a real autumn-local per module,
freshly minted keys per test, a closed port and a server that never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from env_logout_helpers import Minted, mint_keys

from support.autumn_server import AutumnServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AutumnServer]:
    """One `autumn-local serve` for a test module; each test mints its own keys."""
    started = AutumnServer(tmp_path_factory.mktemp("autumn") / "data").start()
    yield started
    started.stop()


@pytest.fixture
def minted(server: AutumnServer) -> Minted:
    return mint_keys(server)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()
