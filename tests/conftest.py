"""Shared fixtures: a real `autumn-local` server in a subprocess, per test."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.autumn_server import AutumnServer

# Files the tests create are private (0600), as a developer's `.env` should be: `atmn
# login` refuses to write keys into a `.env` others can read (auth/filemode.py), and the
# many tests that write a `.env` and then log in are about other things. Child processes
# (the real `atmn`) inherit it. The tests of that policy set their modes explicitly.
os.umask(0o077)

StartServer = Callable[..., AutumnServer]


@pytest.fixture
def start_autumn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Factory: `start_autumn_server(code_ttl=1, disable=["iss"], issuer=...)` -> AutumnServer.

    Options are `autumn-local serve` options (underscores for dashes; lists repeat the flag).
    `data_dir=` reuses a data directory. Every server started is stopped after the test.
    """
    servers: list[AutumnServer] = []

    def start(data_dir: Path | None = None, **options: Any) -> AutumnServer:
        directory = data_dir or tmp_path_factory.mktemp("autumn") / "data"
        server = AutumnServer(directory, **options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def autumn_server(start_autumn_server: StartServer) -> AutumnServer:
    """A fresh `autumn-local serve` on a free port with an empty data directory."""
    return start_autumn_server()


@pytest.fixture(params=["full", "hosted"])
def profile(request: pytest.FixtureRequest) -> str:
    """The server profile a test runs against: "full" (the stand-in's extensions) or
    "hosted" (`autumn-local serve --hosted`: hosted Autumn's answers, contract §H)."""
    return str(request.param)


@pytest.fixture
def any_server(start_autumn_server: StartServer, profile: str) -> AutumnServer:
    """A fresh autumn-local on one profile: the full one, or hosted Autumn's (§H)."""
    return start_autumn_server(hosted=profile == "hosted")
