from __future__ import annotations

from pathlib import Path

import pytest

from support.autumn_server import AutumnServer

from .helpers import Project, sign_in_project


@pytest.fixture
def project(autumn_server: AutumnServer, tmp_path: Path) -> Project:
    """A project whose `.env` holds working keys for `acme`, minted by a real `atmn login`."""
    return sign_in_project(autumn_server, tmp_path / "project")
