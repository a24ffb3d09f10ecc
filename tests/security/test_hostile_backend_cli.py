"""The real `atmn login` against a hostile backend: one `atmn: error:` line, exit 1, and
the `.env` byte for byte as it was. (The full matrix runs in process in
test_hostile_backend.py; these are the representative cases end to end.)"""

from __future__ import annotations

import pytest

from atmn_auth.envfiles.reader import read_env

from .cli import TERMINAL_CONTROLS, cli_env, error_line, run_atmn
from .conftest import ENV_BEFORE, Project
from .hostile_backend import (
    AUTHORIZE,
    TOKEN,
    Behaviour,
    HostileBackend,
    Recorded,
    endless_json,
    json_reply,
    random_key,
    raw_reply,
    redirect_to,
    slow,
)

LOGIN = ["login", "--org", "acme", "--force", "--timeout", "20"]


def other_issuer(backend: HostileBackend) -> Behaviour:
    def authorize(handler, request: Recorded) -> None:  # type: ignore[no-untyped-def]
        redirect_to(backend.authorization_redirect(request, iss="https://evil.example"))(
            handler, request
        )

    return authorize


CASES: dict[str, tuple[str, str, Behaviour | None, str]] = {
    "key_with_newline": (
        "POST",
        "/cli/api-keys",
        json_reply(
            200,
            {
                "sandbox_key": random_key("sandbox") + "\nEVIL=1",
                "prod_key": random_key("live"),
            },
        ),
        "the server's sandbox key is missing or malformed",
    ),
    "ten_megabyte_keys": ("POST", "/cli/api-keys", endless_json(10 << 20), "over 1048576 bytes"),
    "silent_minting": ("POST", "/cli/api-keys", slow(30), "did not answer in time"),
    "html_token_page": (
        "POST",
        TOKEN,
        raw_reply(502, b"<html><h1>Bad Gateway</h1></html>", "text/html"),
        "the token endpoint answered HTTP 502",
    ),
    "another_issuer": ("GET", AUTHORIZE, None, "comes from issuer 'https://evil.example'"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_login_fails_in_one_line_and_writes_nothing(
    project: Project, hostile: HostileBackend, case: str
) -> None:
    method, path, behaviour, expected = CASES[case]
    hostile.on(method, path, behaviour or other_issuer(hostile))
    env = cli_env(project.home, hostile.url, ATMN_HTTP_TIMEOUT="0.5")
    result = run_atmn(LOGIN, cwd=project.dir, env=env)
    assert result.returncode == 1, result.stderr
    assert expected in error_line(result)
    assert result.stdout == ""
    assert project.env_file.read_bytes() == ENV_BEFORE
    assert project.files() == {".env"}


def test_a_hostile_organization_name_cannot_drive_the_terminal(
    project: Project, hostile: HostileBackend
) -> None:
    hostile.org["name"] = "Acme\x1b]0;owned\x07\x1b[2J\nSigned in to \u202eEvil"
    result = run_atmn(LOGIN, cwd=project.dir, env=cli_env(project.home, hostile.url))
    assert result.returncode == 0, result.stderr
    assert not TERMINAL_CONTROLS.search(result.stdout + result.stderr)
    assert "Signed in to Acme" in result.stdout
    lines = result.stdout.splitlines()
    signed_in = [line for line in lines if line.removeprefix("✓ ").startswith("Signed in")]
    assert signed_in == lines[:1]  # none forged
    values = read_env(project.env_file)
    assert values["AUTUMN_SECRET_KEY"] == hostile.handed.keys[0]
    assert values["DATABASE_URL"] == "postgres://localhost/app"


def test_a_bad_http_timeout_setting_is_a_usage_error(
    project: Project, hostile: HostileBackend
) -> None:
    env = cli_env(project.home, hostile.url, ATMN_HTTP_TIMEOUT="soon")
    result = run_atmn(LOGIN, cwd=project.dir, env=env)
    assert result.returncode == 2
    message = "ATMN_HTTP_TIMEOUT must be a positive number of seconds, not 'soon'"
    assert error_line(result) == message
    assert project.env_file.read_bytes() == ENV_BEFORE


def test_atmn_env_shows_a_hostile_organization_name_safely(
    project: Project, hostile: HostileBackend
) -> None:
    key = random_key("sandbox")
    hostile.handed.keys.append(key)
    project.env_file.write_text(f"AUTUMN_SECRET_KEY={key}\n")
    hostile.org.update(name="Acme\x1b[8m\u2066hidden", slug="acme\x07")
    result = run_atmn(["env"], cwd=project.dir, env=cli_env(project.home, hostile.url))
    assert result.returncode == 0, result.stderr
    assert "Acme" in result.stdout
    assert not TERMINAL_CONTROLS.search(result.stdout + result.stderr)
