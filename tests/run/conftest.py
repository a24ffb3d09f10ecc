"""Fixtures for tests/run: a project directory with a `.env` of well-formed keys, and a
minimal environment for the real `atmn` script."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_helpers import FAKE_LIVE, FAKE_SANDBOX, Keys, clean_env


@pytest.fixture
def fake_keys() -> Keys:
    return Keys(FAKE_SANDBOX, FAKE_LIVE)


@pytest.fixture
def project(tmp_path: Path, fake_keys: Keys) -> Path:
    where = tmp_path / "project"
    where.mkdir()
    (where / ".env").write_text(fake_keys.dotenv("OTHER=1\n"))
    return where


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)
