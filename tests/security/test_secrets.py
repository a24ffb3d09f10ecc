"""No key, token, code or verifier ever shows up whole: not in what `atmn` prints (login
with --debug, env, env --json, logout), not in its error messages, not in the callback
pages, not in the stand-in's log.

A recording proxy sits between `atmn` and the real stand-in, so the test knows every
secret that crossed the wire, then searches everything a user or a log could see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from atmn_auth.errors import AtmnError
from atmn_auth.settings import CALLBACK_PORTS
from support.autumn_server import AutumnServer
from support.scripted_browser import browse, browser_env

from . import inprocess
from .cli import cli_env, run_atmn
from .hostile_backend import REVOKE, TOKEN, HostileBackend, Recorded, json_reply


@pytest.fixture
def proxy(stand_in: AutumnServer) -> Iterator[HostileBackend]:
    with HostileBackend(upstream=stand_in.url) as recording:
        yield recording


def secrets_seen(proxy: HostileBackend) -> dict[str, set[str]]:
    """Every code, verifier, token and key that went through the proxy."""
    import json

    found: dict[str, set[str]] = {"code": set(), "verifier": set(), "token": set(), "key": set()}

    def answer(r: Recorded) -> dict[str, object]:
        try:
            data = json.loads(r.answer or b"null")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    for r in proxy.seen("POST", TOKEN):
        found["code"].add(r.form.get("code", ""))
        found["verifier"].add(r.form.get("code_verifier", ""))
        for name in ("access_token", "refresh_token"):
            found["token"].add(str(answer(r).get(name) or ""))
    for r in proxy.seen("POST", "/cli/api-keys"):
        for name in ("sandbox_key", "prod_key"):
            found["key"].add(str(answer(r).get(name) or ""))
    return {kind: {s for s in values if s} for kind, values in found.items()}


def assert_nowhere(secrets: dict[str, set[str]], places: dict[str, str]) -> None:
    for kind, values in secrets.items():
        for secret in values:
            for place, text in places.items():
                assert secret not in text, f"a whole {kind} appears in {place}"
                assert secret[-16:] not in text, f"most of a {kind} appears in {place}"


def test_no_secret_is_ever_shown(
    stand_in: AutumnServer, proxy: HostileBackend, tmp_path: Path
) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    places: dict[str, str] = {}

    # 1. The real command, every step traced.
    env = cli_env(home, proxy.url, browser=False, **browser_env(stand_in, org="acme"))
    login = run_atmn(["login", "--debug", "--org", "acme"], cwd=project, env=env)
    assert login.returncode == 0, login.stderr
    assert "debug: minted am_sk_test_…" in login.stderr
    places["atmn login --debug"] = login.stdout + login.stderr
    for args in (["env"], ["-p", "env", "--json"]):
        shown = run_atmn(args, cwd=project, env=env)
        assert shown.returncode == 0, shown.stderr
        places[f"atmn {' '.join(args)}"] = shown.stdout + shown.stderr
    logout = run_atmn(["logout"], cwd=project, env=env)
    assert logout.returncode == 0, logout.stderr
    places["atmn logout"] = logout.stdout + logout.stderr

    # 2. A second sign-in in process, keeping the page the browser is shown at the callback.
    pages: list[str] = []

    def person(url: str) -> bool:
        outcome = browse(url, email=stand_in.email, password=stand_in.password, org="acme")
        pages.append(outcome.response.text)
        return True

    session = inprocess.Session()
    inprocess.login(proxy.url, project, session=session, opener=person, ports=CALLBACK_PORTS)
    places["the callback page"] = "\n".join(pages)
    places["run_login's output and debug lines"] = session.output

    # 3. Failures right after the secrets were handed out: each says so in one line.
    errors: list[str] = []
    proxy.on("POST", "/cli/api-keys", json_reply(500, {"message": "database down"}))
    for org in ("acme", "no-such-org"):
        with pytest.raises(AtmnError) as failure:
            inprocess.login(proxy.url, project, org=org, opener=person, ports=CALLBACK_PORTS)
        errors.append(failure.value.message)
    assert any("database down" in e for e in errors)
    assert any("--org asked for no-such-org" in e for e in errors)
    places["error messages"] = "\n".join(errors)
    places["the stand-in's log"] = stand_in.log_text()

    secrets = secrets_seen(proxy)
    assert len(secrets["code"]) >= 4 and len(secrets["verifier"]) >= 4
    assert len(secrets["token"]) >= 8 and len(secrets["key"]) >= 4
    assert_nowhere(secrets, places)


def test_oauth_tokens_are_revoked_even_when_the_login_fails(
    stand_in: AutumnServer, proxy: HostileBackend, tmp_path: Path
) -> None:
    """The CLI keeps no OAuth token: a login that fails after the token exchange revokes
    them, so none stays usable on the server."""
    proxy.on("POST", "/cli/api-keys", json_reply(500, {"message": "database down"}))

    def person(url: str) -> bool:
        browse(url, email=stand_in.email, password=stand_in.password, org="acme")
        return True

    for org in ("acme", "no-such-org"):
        with pytest.raises(AtmnError):
            inprocess.login(proxy.url, tmp_path, org=org, opener=person, ports=CALLBACK_PORTS)
    issued = secrets_seen(proxy)["token"]
    revoked = {r.form.get("token") for r in proxy.seen("POST", REVOKE)}
    assert len(issued) == 4  # an access and a refresh token for each login
    assert len(revoked & issued) == 2  # each refresh token: it revokes its whole grant
    for token in issued:  # and so no token is usable on the server any more
        answer = httpx2.get(
            f"{stand_in.url}/cli/organizations", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401
    assert not (tmp_path / ".env").exists()
