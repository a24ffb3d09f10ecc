"""A key revoked under a running program: the client signs in again once and carries on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atmn_auth import AutumnClient
from atmn_auth.auth.recovery import FreshKeys, LoginReauthenticator, RejectedKey
from atmn_auth.client import KeyRejectedError, OrganizationChangedError
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR
from support.autumn_server import AutumnServer, revoke_key

from .helpers import (
    PickOrganization,
    Project,
    ScriptedOpener,
    SignInElsewhere,
    echo_api,
    sign_in_project,
)

StartServer = Callable[..., AutumnServer]


def test_revoked_key_is_replaced_through_one_sign_in_and_the_call_succeeds(
    project: Project,
) -> None:
    before = project.keys()
    with AutumnClient(
        cwd=project.root, environ=project.environ, reauthenticator=project.reauthenticator()
    ) as autumn:
        assert autumn.get("/v1/customers").status_code == 200
        project.revoke_keys()
        sign_ins = project.sign_ins()

        response = autumn.get("/v1/customers")

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert project.sign_ins() == sign_ins + 1
    after = project.keys()
    assert after[SANDBOX_VAR] != before[SANDBOX_VAR]
    assert after[LIVE_VAR] != before[LIVE_VAR]
    for key in after.values():
        me = project.organization_of(key)
        assert me.status_code == 200
        assert me.json()["slug"] == "acme"
    told = "\n".join(project.lines)
    assert "rejected AUTUMN_SECRET_KEY" in told
    assert "Signed in again" in told
    assert str(before[SANDBOX_VAR]) not in told  # only ever shown redacted


def test_a_key_dead_before_first_use_is_replaced_for_the_organization_the_person_picks(
    project: Project,
) -> None:
    """Its organization was never learnt: the one approved on the consent page is used,
    and the terminal asks nothing."""
    project.revoke_keys()
    menu = PickOrganization("acme")
    opener = ScriptedOpener(project.server, org="globex")
    with AutumnClient(
        cwd=project.root,
        environ=project.environ,
        reauthenticator=project.reauthenticator(opener, prompter=menu),
    ) as autumn:
        response = autumn.get("/v1/organization/me")

    assert response.status_code == 200
    assert response.json()["slug"] == "globex"
    assert menu.asked == 0
    assert project.organization_of(project.keys()[SANDBOX_VAR]).json()["slug"] == "globex"


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def test_the_retried_request_carries_the_body_intact(project: Project) -> None:
    with echo_api(project.server) as api:
        environ = dict(project.environ, ATMN_BACKEND_URL=api.url)
        reauth = SignInElsewhere(project.reauthenticator(), project.settings)
        with AutumnClient(cwd=project.root, environ=environ, reauthenticator=reauth) as autumn:
            first = autumn.post("/v1/echo", json={"warm": "up"})
            assert json.loads(first.json()["body"]) == {"warm": "up"}
            project.revoke_keys()

            body = {"customer": "cus_123", "name": "Zoë", "items": list(range(50))}
            replayed = autumn.post("/v1/echo", json=body)
            streamed = autumn.post(
                "/v1/echo",
                content=chunks(b"part one,", b" part two"),
                headers={"Content-Type": "text/plain"},
            )

    assert reauth.calls == 1
    assert [r.status_code for r in replayed.history] == [401]
    assert json.loads(replayed.json()["body"]) == body
    assert replayed.json()["content_type"] == "application/json"
    rejected, retried = (s for s in api.seen if b"cus_123" in s.body)
    assert rejected.body == retried.body
    assert rejected.authorization != retried.authorization
    assert streamed.json()["body"] == "part one, part two"


class SignInThenRevoke:
    """Signs in for real, then the server revokes the new keys at once."""

    def __init__(self, inner: LoginReauthenticator, project: Project) -> None:
        self.inner = inner
        self.project = project

    def unavailable_reason(self) -> str | None:
        return None

    def sign_in(self, rejected: RejectedKey) -> FreshKeys:
        fresh = self.inner.sign_in(rejected)
        for key in (fresh.keys.sandbox_key, fresh.keys.live_key):
            assert revoke_key(self.project.server.url, key) == "revoked"
        return fresh

    def info(self, message: str) -> None:
        self.inner.info(message)


def test_a_replacement_key_rejected_again_raises_and_is_not_retried_forever(
    project: Project,
) -> None:
    reauth = SignInThenRevoke(project.reauthenticator(), project)
    with AutumnClient(cwd=project.root, environ=project.environ, reauthenticator=reauth) as autumn:
        autumn.get("/v1/customers")
        project.revoke_keys()
        sign_ins = project.sign_ins()

        with pytest.raises(KeyRejectedError, match="rejected the replacement") as raised:
            autumn.get("/v1/customers")
        assert raised.value.response.status_code == 401
        with pytest.raises(KeyRejectedError, match="rejected the replacement"):
            autumn.get("/v1/customers")

    assert project.sign_ins() == sign_ins + 1


def test_a_sign_in_into_another_organization_is_refused_and_nothing_is_kept(
    start_autumn_server: StartServer, tmp_path: Path
) -> None:
    # Like hosted Autumn: no organization list, the consent page decides.
    server = start_autumn_server(disable=["organizations"])
    project = sign_in_project(server, tmp_path / "p", org="acme")
    assert project.organization_of(project.keys()[SANDBOX_VAR]).json()["slug"] == "acme"
    before = project.env_file.read_bytes()

    wrong_org = ScriptedOpener(server, org="globex")
    with AutumnClient(
        cwd=project.root,
        environ=project.environ,
        reauthenticator=project.reauthenticator(wrong_org),
    ) as autumn:
        autumn.get("/v1/customers")
        project.revoke_keys()
        revoked = server.stats()["keys_revoked"]
        with pytest.raises(OrganizationChangedError, match="not Acme") as raised:
            autumn.get("/v1/customers")

    assert "allow_org_change=True" in str(raised.value)
    assert project.env_file.read_bytes() == before
    assert server.stats()["keys_revoked"] == revoked + 2  # the unwanted pair is revoked


def test_allow_org_change_keeps_the_other_organizations_keys(
    start_autumn_server: StartServer, tmp_path: Path
) -> None:
    server = start_autumn_server(disable=["organizations"])
    project = sign_in_project(server, tmp_path / "p", org="acme")
    with AutumnClient(
        cwd=project.root,
        environ=project.environ,
        reauthenticator=project.reauthenticator(ScriptedOpener(server, org="globex")),
        allow_org_change=True,
    ) as autumn:
        autumn.get("/v1/customers")
        project.revoke_keys()
        response = autumn.get("/v1/organization/me")

    assert response.json()["slug"] == "globex"
    assert project.organization_of(project.keys()[SANDBOX_VAR]).json()["slug"] == "globex"


class VisitPrintedUrl:
    """A person on another machine: reads the printed sign-in URL and opens it there."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.browser = ScriptedOpener(project.server)
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if "/oauth2/authorize?" in line:
            self.browser(line.strip())


def test_headless_without_a_terminal_prints_the_url_and_waits_for_the_browser(
    start_autumn_server, tmp_path: Path
) -> None:
    """Against a server without the device flow (hosted Autumn today): the address."""
    from atmn_auth.term.console import Console

    project = sign_in_project(start_autumn_server(disable=["device"]), tmp_path / "project")
    person = VisitPrintedUrl(project)
    local_browser = ScriptedOpener(project.server)
    reauth = LoginReauthenticator(
        cwd=project.root,
        environ=project.environ,
        headless=True,
        interactive=False,
        console=Console(info=person, interactive=False, opener=local_browser),
        timeout=20,
    )
    with AutumnClient(cwd=project.root, environ=project.environ, reauthenticator=reauth) as autumn:
        autumn.get("/v1/customers")
        project.revoke_keys()
        response = autumn.get("/v1/customers")

    assert response.status_code == 200
    assert len(person.browser.opened) == 1
    assert local_browser.opened == []
    assert any("Not opening a browser" in line for line in person.lines)


def test_no_sign_in_writes_new_keys_into_a_env_others_can_read(project: Project) -> None:
    """The keys replacing a rejected one go only into a private file: a `.env` others can
    read is refused with the command that fixes it, before any sign-in."""
    project.env_file.chmod(0o644)
    project.revoke_keys()
    before = project.env_file.read_bytes()
    sign_ins = project.sign_ins()
    with (
        AutumnClient(
            cwd=project.root, environ=project.environ, reauthenticator=project.reauthenticator()
        ) as autumn,
        pytest.raises(KeyRejectedError) as caught,
    ):
        autumn.get("/v1/customers")

    assert f"chmod 600 {project.env_file}" in str(caught.value)
    assert project.sign_ins() == sign_ins
    assert project.env_file.read_bytes() == before
