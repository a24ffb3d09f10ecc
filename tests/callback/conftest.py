from __future__ import annotations

from collections.abc import Iterator

import pytest

from atmn_auth.loopback.callback import CallbackServer

from .helpers import STATE, free_ports


@pytest.fixture
def server() -> Iterator[CallbackServer]:
    with CallbackServer(STATE, ports=free_ports(3)) as srv:
        yield srv
