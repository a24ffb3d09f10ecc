"""One auth flow, two drivers: both clients give the same answers, history and errors.

Each test runs with `AutumnClient` and with `AsyncAutumnClient` (on an event loop in
another thread, through an anyio portal), so that what the async side does in a worker
thread (a sign-in, and the errors it raises) is checked against the sync side.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import start_blocking_portal

from atmn_auth import AsyncAutumnClient, AutumnClient
from atmn_auth.auth.recovery import FreshKeys, LoginReauthenticator, RejectedKey
from atmn_auth.client import KeyRejectedError, OrganizationChangedError
from atmn_auth.keyformat import SANDBOX_VAR
from support.autumn_server import AutumnServer, revoke_key

from .helpers import (
    LoopbackApi,
    NeverSignIn,
    Project,
    ScriptedOpener,
    Seen,
    SignInElsewhere,
    echo_api,
    sign_in_project,
)

Request = Callable[..., httpx2.Response]
StartServer = Callable[..., AutumnServer]

flavours = pytest.mark.parametrize("flavour", ["sync", "async"])

KEY = "am_sk_test_" + "k" * 42
ORG = {"id": "org_1", "name": "Acme", "slug": "acme"}


@contextlib.contextmanager
def autumn_client(flavour: str, **options: Any) -> Iterator[Request]:
    """`request(method, url, **kwargs)` through the client of `flavour`."""
    if flavour == "sync":
        with AutumnClient(**options) as client:
            yield client.request
        return
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(AsyncAutumnClient(**options)) as aclient,
    ):

        def request(*args: Any, **kwargs: Any) -> httpx2.Response:
            return portal.call(functools.partial(aclient.request, *args, **kwargs))

        yield request


def answer(seen: Seen) -> tuple[int, dict[str, Any]]:
    if seen.path == "/v1/organization/me":
        return 200, ORG
    return 200, {"path": seen.path}


@pytest.fixture
def api() -> Iterator[LoopbackApi]:
    with LoopbackApi(answer) as server:
        yield server


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(f"AUTUMN_SECRET_KEY={KEY}\n")
    return tmp_path


@flavours
def test_the_organization_lookup_goes_aside_once_and_stays_out_of_history(
    api: LoopbackApi, project_dir: Path, flavour: str
) -> None:
    environ = {"ATMN_BACKEND_URL": api.url}
    with autumn_client(
        flavour, cwd=project_dir, environ=environ, reauthenticator=NeverSignIn()
    ) as request:
        first = request("GET", "/v1/customers")
        second = request("GET", "/v1/customers")

    assert [first.status_code, second.status_code] == [200, 200]
    assert first.history == second.history == []
    assert [(s.path, s.authorization) for s in api.seen] == [
        ("/v1/organization/me", f"Bearer {KEY}"),
        ("/v1/customers", f"Bearer {KEY}"),
        ("/v1/customers", f"Bearer {KEY}"),
    ]


@flavours
def test_an_auth_driven_by_a_client_of_the_other_kind_sends_the_lookup_within_the_flow(
    api: LoopbackApi, project_dir: Path, flavour: str
) -> None:
    """Bound to no client of the kind driving it, the lookup is one more request of the
    flow: its answer (body read) shows in the history."""
    options: dict[str, Any] = {
        "cwd": project_dir,
        "environ": {"ATMN_BACKEND_URL": api.url},
        "reauthenticator": NeverSignIn(),
    }
    if flavour == "sync":
        auth = AsyncAutumnClient(**options).auth  # never sends anything itself
        with httpx2.Client(auth=auth) as plain:
            response = plain.get(f"{api.url}/v1/customers")
    else:
        with AutumnClient(**options) as bound, start_blocking_portal() as portal:

            async def call() -> httpx2.Response:
                async with httpx2.AsyncClient(auth=bound.auth) as plain:
                    return await plain.get(f"{api.url}/v1/customers")

            response = portal.call(call)

    assert response.status_code == 200
    assert [(r.status_code, r.json()) for r in response.history] == [(200, ORG)]
    assert response.request.headers["Authorization"] == f"Bearer {KEY}"


@flavours
def test_a_revoked_key_is_replaced_through_one_sign_in_and_the_body_replayed(
    project: Project, flavour: str
) -> None:
    with echo_api(project.server) as api:
        environ = dict(project.environ, ATMN_BACKEND_URL=api.url)
        reauth = SignInElsewhere(project.reauthenticator(), project.settings)
        with autumn_client(
            flavour, cwd=project.root, environ=environ, reauthenticator=reauth
        ) as request:
            assert request("POST", "/v1/echo", json={"warm": "up"}).status_code == 200
            project.revoke_keys()
            body = {"customer": "cus_123", "name": "Zoë"}
            replayed = request("POST", "/v1/echo", json=body)
            after = request("POST", "/v1/echo", json=body)

    assert reauth.calls == 1
    assert [r.status_code for r in replayed.history] == [401]
    assert json.loads(replayed.json()["body"]) == body
    assert after.history == []
    fresh = f"Bearer {project.keys()[SANDBOX_VAR]}"
    assert replayed.request.headers["Authorization"] == fresh
    assert after.request.headers["Authorization"] == fresh


class SignInThenRevoke:
    """Signs in for real, then the server revokes the new keys at once."""

    def __init__(self, inner: LoginReauthenticator, project: Project) -> None:
        self.inner = inner
        self.project = project
        self.calls = 0

    def unavailable_reason(self) -> str | None:
        return None

    def sign_in(self, rejected: RejectedKey) -> FreshKeys:
        self.calls += 1
        fresh = self.inner.sign_in(rejected)
        for key in (fresh.keys.sandbox_key, fresh.keys.live_key):
            assert revoke_key(self.project.server.url, key) == "revoked"
        return fresh

    def info(self, message: str) -> None:
        self.inner.info(message)


@flavours
def test_a_replacement_rejected_again_raises_and_later_calls_raise_without_a_sign_in(
    project: Project, flavour: str
) -> None:
    reauth = SignInThenRevoke(project.reauthenticator(), project)
    with autumn_client(
        flavour, cwd=project.root, environ=project.environ, reauthenticator=reauth
    ) as request:
        request("GET", "/v1/customers")
        project.revoke_keys()
        with pytest.raises(KeyRejectedError, match="rejected the replacement") as raised:
            request("GET", "/v1/customers")
        assert raised.value.response.status_code == 401
        with pytest.raises(KeyRejectedError, match="rejected the replacement"):
            request("GET", "/v1/customers")

    assert reauth.calls == 1


@flavours
def test_a_sign_in_into_another_organization_raises_organization_changed(
    start_autumn_server: StartServer, tmp_path: Path, flavour: str
) -> None:
    server = start_autumn_server(disable=["organizations"])
    project = sign_in_project(server, tmp_path / "p", org="acme")
    before = project.env_file.read_bytes()
    with autumn_client(
        flavour,
        cwd=project.root,
        environ=project.environ,
        reauthenticator=project.reauthenticator(ScriptedOpener(server, org="globex")),
    ) as request:
        request("GET", "/v1/customers")
        project.revoke_keys()
        with pytest.raises(OrganizationChangedError, match="not Acme") as raised:
            request("GET", "/v1/customers")

    assert raised.value.response.status_code == 401
    assert project.env_file.read_bytes() == before
