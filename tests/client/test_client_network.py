"""`AutumnClient` reaches the server as the CLI does (`api/transport.py`): the
environment's proxies, but never for this machine, so a key sent to a loopback backend
never passes through a proxy; and a proxy for a remote backend is used."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from atmn_auth import AsyncAutumnClient, AutumnClient
from security.hostile_backend import HostileBackend

from .helpers import LoopbackApi, NeverSignIn, Seen

KEY = "am_sk_test_" + "n" * 42


def answer(seen: Seen) -> tuple[int, dict[str, Any]]:
    return 200, {"id": "org_1", "name": "Acme", "slug": "acme", "path": seen.path}


@pytest.fixture
def api() -> Iterator[LoopbackApi]:
    with LoopbackApi(answer) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[HostileBackend]:
    """What a proxy on this machine would see: every request it is sent, recorded."""
    with HostileBackend() as recording:
        yield recording


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(f"AUTUMN_SECRET_KEY={KEY}\n")
    return tmp_path


def proxied(
    monkeypatch: pytest.MonkeyPatch, backend: str, proxy: HostileBackend, **extra: str
) -> None:
    """The process environment a developer behind a proxy has (`environ` left at its
    default, `os.environ`, as most programs use the client)."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    values = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "ALL_PROXY": proxy.url}
    for name, value in {"ATMN_BACKEND_URL": backend, **values, **extra}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_backend_is_never_reached_through_a_proxy(
    api: LoopbackApi,
    proxy: HostileBackend,
    project_dir: Path,
    host: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxied(monkeypatch, api.url.replace("127.0.0.1", host), proxy)
    with AutumnClient(cwd=project_dir, reauthenticator=NeverSignIn()) as client:
        response = client.get("/v1/customers")
    assert response.status_code == 200
    assert response.json()["path"] == "/v1/customers"
    assert proxy.requests == []  # the key never went near the proxy
    assert api.seen and {seen.authorization for seen in api.seen} == {f"Bearer {KEY}"}


def test_the_async_client_does_the_same(
    api: LoopbackApi, proxy: HostileBackend, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxied(monkeypatch, api.url, proxy)

    async def call() -> httpx2.Response:
        async with AsyncAutumnClient(cwd=project_dir, reauthenticator=NeverSignIn()) as client:
            return await client.get("/v1/customers")

    assert asyncio.run(call()).status_code == 200
    assert proxy.requests == []


def test_a_remote_backend_goes_through_the_proxy_the_environment_names(
    proxy: HostileBackend, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rules the CLI has: http to a host that is not this machine goes to the
    proxy (here one that answers 404 to everything it is asked)."""
    proxied(monkeypatch, "http://autumn.example", proxy, ATMN_ALLOW_INSECURE_HTTP="1")
    with AutumnClient(cwd=project_dir, reauthenticator=NeverSignIn()) as client:
        response = client.get("/v1/customers")
    assert response.status_code == 404
    assert proxy.requests, "nothing reached the proxy"
    assert {request.path.partition("/v1/")[0] for request in proxy.requests} == {
        "http://autumn.example"
    }
