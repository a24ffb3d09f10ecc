"""Fixtures for the `atmn keys` tests: one real stand-in per module, and a project whose
`.env` a real `atmn login` wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from security.hostile_backend import HostileBackend
from support.autumn_server import AutumnServer

from .keys_helpers import Project, logged_in


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AutumnServer]:
    started = AutumnServer(tmp_path_factory.mktemp("autumn") / "data").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def without_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AutumnServer]:
    """A stand-in without contract §7 (`--disable keys`), as hosted Autumn may be."""
    started = AutumnServer(tmp_path_factory.mktemp("autumn") / "data", disable=["keys"]).start()
    yield started
    started.stop()


@pytest.fixture
def project(server: AutumnServer, tmp_path: Path) -> Project:
    return logged_in(tmp_path, server)


@pytest.fixture
def proxy(server: AutumnServer) -> Iterator[HostileBackend]:
    """A recording proxy in front of the stand-in, that tests can make misbehave."""
    with HostileBackend(upstream=server.url) as recording:
        yield recording
