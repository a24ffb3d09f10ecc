"""Fixtures for the fault tests: the lock directory kept inside the test's own tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# The project with a `.env` and the hostile loopback backend of the security tests.
from security.conftest import hostile, project  # noqa: E402, F401
