"""Fixtures for the security tests: a hostile backend on loopback and a project with a `.env`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.autumn_server import AutumnServer

from .hostile_backend import HostileBackend, random_key

OLD_SANDBOX = random_key("sandbox")
ENV_BEFORE = (
    "# my project\n"
    "DATABASE_URL=postgres://localhost/app\n"
    f"AUTUMN_SECRET_KEY={OLD_SANDBOX}\n"
    "export STRIPE_WEBHOOK='whsec_kept as is'\n"
).encode()


@dataclass
class Project:
    dir: Path
    home: Path

    @property
    def env_file(self) -> Path:
        return self.dir / ".env"

    def files(self) -> set[str]:
        return {p.name for p in self.dir.iterdir()}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project directory whose `.env` already holds other settings and an old key."""
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / ".env").write_bytes(ENV_BEFORE)
    home = tmp_path / "home"
    home.mkdir()
    return Project(directory, home)


@pytest.fixture
def hostile() -> Iterator[HostileBackend]:
    with HostileBackend() as backend:
        yield backend


@pytest.fixture
def elsewhere() -> Iterator[HostileBackend]:
    """A second server, standing for another host: it must never be contacted."""
    with HostileBackend() as backend:
        yield backend


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AutumnServer]:
    """The real `autumn-local` stand-in, one per test module."""
    server = AutumnServer(tmp_path_factory.mktemp("autumn") / "data").start()
    yield server
    server.stop()
