"""A malicious or broken backend, `run_login` in process: every bad answer ends the login
with one `AtmnError` line (what `atmn` prints, exit 1) and leaves the `.env` exactly as it
was; nothing the server sends becomes a line of the `.env` or reaches the terminal raw.

tests/security/test_hostile_backend_cli.py runs representative cases through the real
`atmn` console script.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atmn_auth.envfiles.reader import read_env
from atmn_auth.errors import AtmnError

from . import inprocess
from .cli import TERMINAL_CONTROLS
from .conftest import ENV_BEFORE, Project
from .hostile_backend import (
    AUTHORIZE,
    TOKEN,
    Behaviour,
    HostileBackend,
    endless_json,
    json_reply,
    random_key,
    raw_reply,
    redirect_to,
    slow,
)

FAST_TIMEOUT = "0.5"  # ATMN_HTTP_TIMEOUT for these tests: a silent server is given up on fast


@pytest.fixture(autouse=True)
def fast_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ATMN_HTTP_TIMEOUT", FAST_TIMEOUT)
    yield


GOOD_SANDBOX, GOOD_LIVE = random_key("sandbox"), random_key("live")
HTML_ERROR = b"<!doctype html><html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"


def keys(sandbox: object = GOOD_SANDBOX, live: object = GOOD_LIVE, **extra: object) -> Behaviour:
    body = {"sandbox_key": sandbox, "prod_key": live, "org_id": "org_acme", **extra}
    return json_reply(200, {k: v for k, v in body.items() if v is not None})


MALFORMED_KEYS: dict[str, tuple[Behaviour, str]] = {
    "newline": (keys(GOOD_SANDBOX + "\nEVIL_INJECTED=1"), "sandbox key is missing or malformed"),
    "equals": (keys(live=GOOD_LIVE[:-6] + "=EVIL1"), "live key is missing or malformed"),
    "quotes": (keys(GOOD_SANDBOX[:-8] + "\"'EVIL'\""), "sandbox key is missing or malformed"),
    "shell": (keys(GOOD_SANDBOX[:-12] + "$(touch EVIL)"), "sandbox key is missing or malformed"),
    "backticks": (keys(live=GOOD_LIVE[:-8] + "`id`EVIL"), "live key is missing or malformed"),
    "crlf": (keys(live=GOOD_LIVE + "\r\nEVIL=1"), "live key is missing or malformed"),
    "wrong_prefix": (keys(GOOD_LIVE, GOOD_LIVE), "sandbox key is missing or malformed"),
    "swapped": (keys(GOOD_LIVE, GOOD_SANDBOX), "sandbox key is missing or malformed"),
    "too_long": (keys(GOOD_SANDBOX + "EVIL"), "sandbox key is missing or malformed"),
    "missing": (keys(live=None), "live key is missing or malformed"),
    "not_a_string": (keys(sandbox=["EVIL"]), "sandbox key is missing or malformed"),
    "not_json": (raw_reply(200, b"sandbox_key=EVIL", "text/plain"), "not JSON"),
    "json_list": (json_reply(200, ["EVIL"]), "not an object"),
    "c1_controls_in_a_header": (raw_reply(200, b"<p>", "text/\x9b2J\x9d0;x\x9c"), "not JSON"),
    "html_error_page": (raw_reply(502, HTML_ERROR, "text/html"), "minting API keys failed"),
    "server_message": (json_reply(403, {"message": "not a member"}), "not a member"),
    "ten_megabytes": (endless_json(10 << 20), "over 1048576 bytes"),
    "slow": (slow(30), "did not answer in time"),
}


def assert_untouched(project: Project) -> None:
    assert project.env_file.read_bytes() == ENV_BEFORE
    assert project.files() == {".env"}  # no temporary file, no file a key "named"


def failed_login(project: Project, backend: HostileBackend) -> str:
    session = inprocess.Session()
    with pytest.raises(AtmnError) as failure:
        inprocess.login(backend.url, project.dir, session=session)
    message = failure.value.message
    assert "\n" not in message and not TERMINAL_CONTROLS.search(message)
    assert not TERMINAL_CONTROLS.search(session.output)
    assert failure.value.exit_code == 1
    assert_untouched(project)
    return message


def test_a_well_behaved_backend_signs_in(project: Project, hostile: HostileBackend) -> None:
    """The baseline for every case below: the same backend, behaving, gets a login."""
    result = inprocess.login(hostile.url, project.dir)
    values = read_env(project.env_file)
    assert values["AUTUMN_SECRET_KEY"] == hostile.handed.keys[0]
    assert values["AUTUMN_PROD_SECRET_KEY"] == hostile.handed.keys[1]
    assert values["DATABASE_URL"] == "postgres://localhost/app"
    assert result.organization is not None and result.organization.slug == "acme"
    assert sorted(hostile.revoked_tokens) == sorted(hostile.handed.refresh_tokens)


@pytest.mark.parametrize("case", list(MALFORMED_KEYS), ids=list(MALFORMED_KEYS))
def test_a_bad_minting_answer_writes_nothing(
    project: Project, hostile: HostileBackend, case: str
) -> None:
    behaviour, expected = MALFORMED_KEYS[case]
    hostile.on("POST", "/cli/api-keys", behaviour)
    line = failed_login(project, hostile)
    assert expected in line
    assert "EVIL" not in line  # the server's bad value is not echoed either
    assert len(hostile.seen("POST", "/cli/api-keys")) == 1


def test_a_redirect_to_another_host_is_not_followed(
    project: Project, hostile: HostileBackend, elsewhere: HostileBackend
) -> None:
    hostile.on("POST", "/cli/api-keys", redirect_to(elsewhere.url + "/cli/api-keys", 307))
    line = failed_login(project, hostile)
    assert "minting API keys failed" in line
    assert elsewhere.requests == []  # the access token went nowhere else


TOKEN_ANSWERS: dict[str, tuple[Behaviour, str]] = {
    "not_json": (raw_reply(200, b"access_token=x", "text/plain"), "not a JSON object"),
    "html_error_page": (raw_reply(502, HTML_ERROR, "text/html"), "token endpoint"),
    "json_list": (json_reply(200, ["x"]), "token endpoint"),
    "no_access_token": (json_reply(200, {"token_type": "Bearer"}), "without an access token"),
    "access_token_not_a_string": (json_reply(200, {"access_token": {"a": 1}}), "access token"),
    "not_bearer": (json_reply(200, {"access_token": "abc", "token_type": "mac"}), "not Bearer"),
    "error": (json_reply(400, {"error": "invalid_grant"}), "invalid_grant"),
    "header_injection": (
        json_reply(200, {"access_token": "abc\r\nX-Evil: 1", "token_type": "Bearer"}),
        "not a bearer token",
    ),
    "huge_expiry": (
        json_reply(200, {"access_token": "abc", "token_type": "Bearer", "expires_in": "9" * 5000}),
        "token endpoint",
    ),
    "ten_megabytes": (endless_json(10 << 20), "over 1048576 bytes"),
    "slow": (slow(30), "did not answer in time"),
}


@pytest.mark.parametrize("case", list(TOKEN_ANSWERS), ids=list(TOKEN_ANSWERS))
def test_a_bad_token_answer_writes_nothing(
    project: Project, hostile: HostileBackend, case: str
) -> None:
    behaviour, expected = TOKEN_ANSWERS[case]
    hostile.on("POST", TOKEN, behaviour)
    line = failed_login(project, hostile)
    assert expected in line
    assert hostile.seen("POST", "/cli/api-keys") == []


def test_a_token_endpoint_redirect_is_not_followed(
    project: Project, hostile: HostileBackend, elsewhere: HostileBackend
) -> None:
    hostile.on("POST", TOKEN, redirect_to(elsewhere.url + TOKEN, 307))
    line = failed_login(project, hostile)
    assert "token endpoint" in line
    assert elsewhere.requests == []  # neither the code nor the verifier went there


def test_an_answer_from_another_issuer_is_refused(
    project: Project, hostile: HostileBackend
) -> None:
    """RFC 9207 mix-up defence: the code is never sent when `iss` names another server."""

    def authorize(handler, request):  # type: ignore[no-untyped-def]
        location = hostile.authorization_redirect(request, iss="https://evil.example")
        redirect_to(location)(handler, request)

    hostile.on("GET", AUTHORIZE, authorize)
    line = failed_login(project, hostile)
    assert "issuer 'https://evil.example'" in line
    assert hostile.seen("POST", TOKEN) == []


def test_a_missing_iss_is_refused_when_the_server_promises_it(
    project: Project, hostile: HostileBackend
) -> None:
    def authorize(handler, request):  # type: ignore[no-untyped-def]
        location = hostile.authorization_redirect(request)
        redirect_to(location.replace("&iss=", "&was_iss="))(handler, request)

    hostile.on("GET", AUTHORIZE, authorize)
    line = failed_login(project, hostile)
    assert "lacks `iss`" in line
    assert hostile.seen("POST", TOKEN) == []


def test_tokens_are_only_revoked_at_the_backend_itself(
    project: Project, hostile: HostileBackend, elsewhere: HostileBackend
) -> None:
    """Metadata naming a revocation endpoint on another host does not get the tokens sent."""
    meta = {**hostile.metadata(), "revocation_endpoint": elsewhere.url + "/revoke"}
    hostile.on("GET", "/.well-known/oauth-authorization-server", json_reply(200, meta))
    inprocess.login(hostile.url, project.dir)
    assert elsewhere.requests == []


def test_names_from_the_server_cannot_drive_the_terminal(
    project: Project, hostile: HostileBackend
) -> None:
    """Organization names and server messages are shown without control characters."""
    hostile.org["name"] = "Acme\x1b]0;pwned\x07\n\x1b[2Jatmn: Signed in to \u202eEvil"
    session = inprocess.Session()
    result = inprocess.login(hostile.url, project.dir, session=session)
    assert result.organization is not None
    shown = f"{result.organization.label()}\n{session.output}"
    assert not TERMINAL_CONTROLS.search(shown)
    assert "Acme" in shown
    assert set(read_env(project.env_file)) == {
        "DATABASE_URL",
        "AUTUMN_SECRET_KEY",
        "STRIPE_WEBHOOK",
        "AUTUMN_PROD_SECRET_KEY",
    }


def test_a_server_error_message_cannot_drive_the_terminal(
    project: Project, hostile: HostileBackend
) -> None:
    message = "no\x1b[31m red\r\nfake: line\x07\u202e"
    hostile.on("POST", "/cli/api-keys", json_reply(403, {"message": message}))
    line = failed_login(project, hostile)
    assert "no" in line and "fake: line" in line
