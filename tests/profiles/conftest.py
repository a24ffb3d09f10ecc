"""Every command of atmn against both profiles of the stand-in: the full one (every
extension of contract §X) and `autumn-local serve --hosted` (hosted Autumn's answers, §H).

`profile` and `any_server` are module-scoped here (one server per profile per module,
tests grouped by profile): the tests share it, and name the organization the browser
approves, so no test depends on another's state.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.autumn_server import AutumnServer

from .helpers import RecordingProxy


@pytest.fixture(scope="module", params=["full", "hosted"])
def profile(request: pytest.FixtureRequest) -> str:
    """ "full" (the stand-in's extensions) or "hosted" (hosted Autumn's answers, §H)."""
    return str(request.param)


@pytest.fixture(scope="module")
def any_server(profile: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AutumnServer]:
    """One autumn-local on `profile` for the module."""
    directory = tmp_path_factory.mktemp(f"autumn-{profile}") / "data"
    server = AutumnServer(directory, hosted=profile == "hosted").start()
    yield server
    server.stop()


@pytest.fixture
def proxy(any_server: AutumnServer) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the module's server."""
    with RecordingProxy(any_server.url) as recording:
        yield recording
