"""Only a 401 from Autumn starts a sign-in; everything else reaches the caller untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from atmn_auth import AsyncAutumnClient, AutumnClient

from .helpers import LoopbackApi, NeverSignIn, Seen

KEY = "am_sk_test_" + "k" * 42


def answer(seen: Seen) -> tuple[int, dict[str, Any]]:
    if seen.path == "/v1/organization/me":
        return 200, {"id": "org_1", "name": "Acme", "slug": "acme"}
    if seen.path.startswith("/status/"):
        status = int(seen.path.rsplit("/", 1)[1])
        return status, {"message": f"status {status}", "code": "test"}
    return 200, {"path": seen.path}


@pytest.fixture
def api() -> Iterator[LoopbackApi]:
    with LoopbackApi(answer) as server:
        yield server


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(f"AUTUMN_SECRET_KEY={KEY}\n")
    return tmp_path


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 503])
def test_other_errors_are_returned_as_they_are_without_a_sign_in(
    api: LoopbackApi, project_dir: Path, status: int
) -> None:
    reauth = NeverSignIn()
    environ = {"ATMN_BACKEND_URL": api.url}
    with AutumnClient(cwd=project_dir, environ=environ, reauthenticator=reauth) as autumn:
        response = autumn.post(f"/status/{status}", json={"n": 1})

    assert response.status_code == status
    assert response.json()["message"] == f"status {status}"
    assert response.history == []
    assert reauth.calls == 0
    sent = [s for s in api.seen if s.path == f"/status/{status}"]
    assert len(sent) == 1
    assert sent[0].authorization == f"Bearer {KEY}"


def test_async_client_returns_403_and_500_without_a_sign_in(
    api: LoopbackApi, project_dir: Path
) -> None:
    import asyncio

    reauth = NeverSignIn()

    async def calls() -> list[int]:
        async with AsyncAutumnClient(
            cwd=project_dir, environ={"ATMN_BACKEND_URL": api.url}, reauthenticator=reauth
        ) as autumn:
            answers = await asyncio.gather(autumn.get("/status/403"), autumn.get("/status/500"))
        return [r.status_code for r in answers]

    assert asyncio.run(calls()) == [403, 500]
    assert reauth.calls == 0


def test_network_errors_are_raised_as_they_are(project_dir: Path) -> None:
    with LoopbackApi(answer) as gone:
        url = gone.url  # a port nobody listens on once it is closed
    reauth = NeverSignIn()
    with (
        AutumnClient(
            cwd=project_dir, environ={"ATMN_BACKEND_URL": url}, reauthenticator=reauth
        ) as autumn,
        pytest.raises(httpx2.ConnectError),
    ):
        autumn.get("/v1/customers")
    assert reauth.calls == 0


def test_the_key_goes_to_the_backend_only(api: LoopbackApi, project_dir: Path) -> None:
    with (
        LoopbackApi(answer) as elsewhere,
        AutumnClient(
            cwd=project_dir, environ={"ATMN_BACKEND_URL": api.url}, reauthenticator=NeverSignIn()
        ) as autumn,
    ):
        assert autumn.get(f"{elsewhere.url}/collect").status_code == 200
        assert autumn.get("/v1/customers").status_code == 200

    assert [s.authorization for s in elsewhere.seen] == [None]
    assert api.seen[-1].authorization == f"Bearer {KEY}"


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_401_from_a_redirect_target_on_another_host_starts_no_sign_in(
    project_dir: Path, flavour: str
) -> None:
    """With `follow_redirects=True`, Autumn's redirect to another origin answering 401
    is that host's business: the caller gets the 401, the project's key stays, and the
    key is not sent there."""
    import asyncio

    with LoopbackApi(lambda seen: (401, {"message": "not yours", "code": "elsewhere"})) as other:

        def backend(seen: Seen) -> tuple[int, dict[str, Any], dict[str, str]]:
            return 302, {}, {"Location": f"{other.url}/files/1"}

        with LoopbackApi(backend) as api:
            reauth = NeverSignIn()
            environ = {"ATMN_BACKEND_URL": api.url}
            if flavour == "sync":
                with AutumnClient(
                    cwd=project_dir, environ=environ, reauthenticator=reauth, follow_redirects=True
                ) as autumn:
                    response = autumn.get("/v1/files/1")
            else:

                async def call() -> httpx2.Response:
                    async with AsyncAutumnClient(
                        cwd=project_dir,
                        environ=environ,
                        reauthenticator=reauth,
                        follow_redirects=True,
                    ) as autumn:
                        return await autumn.get("/v1/files/1")

                response = asyncio.run(call())

    assert response.status_code == 401
    assert response.json()["message"] == "not yours"
    assert [r.status_code for r in response.history] == [302]
    assert reauth.calls == 0
    assert (project_dir / ".env").read_text() == f"AUTUMN_SECRET_KEY={KEY}\n"
    assert [s.authorization for s in other.seen] == [None]
