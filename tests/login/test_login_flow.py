"""The login flow called directly, with the browser's part played by injected openers."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from dotenv import dotenv_values

from atmn_auth.api.session import Session
from atmn_auth.auth.login import LoginOptions, log_in
from atmn_auth.errors import CallbackTimeout, OAuthFlowError
from atmn_auth.settings import load_settings
from atmn_auth.term.console import Console
from support.autumn_server import AutumnServer
from support.scripted_browser import follow_start
from support.scripted_browser import run as browse

from .helpers import CALLBACK_PORTS, occupy


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _console(opener, lines: list[str]) -> Console:  # type: ignore[no-untyped-def]
    return Console(info=lines.append, interactive=False, opener=opener)


def _in_background(action):  # type: ignore[no-untyped-def]
    def opener(url: str) -> bool:
        threading.Thread(target=action, args=(url,), daemon=True).start()
        return True

    return opener


def _login(server: AutumnServer, tmp_path: Path, opener, timeout: float = 20):  # type: ignore[no-untyped-def]
    lines: list[str] = []
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": server.url})
    environ = {"BROWSER": "scripted"}  # a browser is there: the injected opener
    with Session(environ) as session:
        result = log_in(
            settings,
            cwd=tmp_path,
            environ=environ,
            options=LoginOptions(org="acme", timeout=timeout),
            console=_console(opener, lines),
            session=session,
        )
    return result, lines


def test_a_request_with_the_wrong_state_does_not_end_the_flow(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    answers: list[int] = []

    def attacker_then_user(url: str) -> None:
        url = follow_start(url)
        redirect = _query(url)["redirect_uri"]
        forged = httpx2.get(redirect, params={"code": "stolen", "state": "guessed"})
        answers.append(forged.status_code)
        browse(url, email=autumn_server.email, password=autumn_server.password, org="acme")

    result, _ = _login(autumn_server, tmp_path, _in_background(attacker_then_user))

    assert answers == [400]
    assert result.organization is not None and result.organization.slug == "acme"
    assert dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"] == result.keys.sandbox_key


def test_an_authorization_response_from_another_issuer_is_refused(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    def mix_up(url: str) -> None:
        url = follow_start(url)
        query = _query(url)
        httpx2.get(
            query["redirect_uri"],
            params={"code": "from-elsewhere", "state": query["state"], "iss": "https://evil.test"},
        )

    with pytest.raises(OAuthFlowError, match=re.escape("issuer 'https://evil.test'")):
        _login(autumn_server, tmp_path, _in_background(mix_up))

    assert not (tmp_path / ".env").exists()
    assert autumn_server.stats()["key_pairs_minted"] == 0


def test_the_server_error_is_said_in_its_own_words(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    def server_error(url: str) -> None:
        url = follow_start(url)
        query = _query(url)
        httpx2.get(
            query["redirect_uri"],
            params={
                "error": "temporarily_unavailable",
                "error_description": "Try again in a minute",
                "state": query["state"],
            },
        )

    with pytest.raises(OAuthFlowError, match="temporarily_unavailable: Try again in a minute"):
        _login(autumn_server, tmp_path, _in_background(server_error))
    assert not (tmp_path / ".env").exists()


def test_no_answer_times_out_and_frees_the_port(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    with pytest.raises(CallbackTimeout, match=re.escape("0.5 seconds")):
        _login(autumn_server, tmp_path, lambda url: True, timeout=0.5)

    occupy(CALLBACK_PORTS[0]).close()  # nothing listens there any more
    assert not (tmp_path / ".env").exists()


def test_each_attempt_uses_a_fresh_state_and_verifier(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    seen: list[dict[str, str]] = []

    def record(url: str) -> bool:
        url = follow_start(url)
        seen.append(_query(url))
        return True

    for _ in range(2):
        with pytest.raises(CallbackTimeout):
            _login(autumn_server, tmp_path, record, timeout=0.2)

    first, second = seen
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]
    assert first["code_challenge_method"] == "S256"
    assert first["prompt"] == "consent"
    assert len(first["scope"].split()) == 20
    assert len(first["state"]) >= 22  # at least 128 bits of [A-Za-z0-9]
