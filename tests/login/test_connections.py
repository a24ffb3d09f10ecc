"""One HTTP session per command: a whole login talks to the server over one TCP
connection, with no request it does not need (the stand-in numbers its connections in
its request log: `POST /api/auth/oauth2/token 200 3.1ms conn=4`)."""

from __future__ import annotations

import re
from pathlib import Path

from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

from .helpers import clean_env, run_atmn

LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>/\S*) (?P<status>\d{3}) [0-9.]+ms conn=(?P<conn>\d+)$"
)
# What the CLI asks; the browser's own requests (sign-in and consent pages) are not its.
CLI_PATHS = (
    "/.well-known/",
    "/api/auth/oauth2/token",
    "/api/auth/oauth2/revoke",
    "/cli/",
    "/v1/",
)


def cli_requests(server: AutumnServer, since: int) -> list[tuple[str, str, str]]:
    """(method, path, connection) of every request the CLI made after log offset `since`."""
    found = []
    for line in server.log_text()[since:].splitlines():
        match = LINE.match(line.strip())
        if match and match["path"].startswith(CLI_PATHS):
            found.append((match["method"], match["path"], match["conn"]))
    return found


def test_a_login_uses_one_connection_and_only_the_requests_it_needs(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    since = len(autumn_server.log_text())

    result = run_atmn(["login", "--org", "acme"], cwd=project, env=env)

    assert result.returncode == 0, result.stderr
    requests = cli_requests(autumn_server, since)
    assert [(method, path) for method, path, _ in requests] == [
        ("GET", "/.well-known/oauth-authorization-server"),  # while the person is in the browser
        ("POST", "/api/auth/oauth2/token"),
        ("GET", "/cli/organizations"),
        ("POST", "/cli/api-keys"),
        ("POST", "/api/auth/oauth2/revoke"),  # the refresh token: its whole grant goes with it
    ]
    assert len({conn for _, _, conn in requests}) == 1, requests


def test_signing_in_again_reuses_the_connection_of_the_first_check(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """With working keys, login first asks the server about them (one request), then the
    sign-in goes on over the same connection."""
    project = tmp_path / "project"
    project.mkdir()
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    first = run_atmn(["login", "--org", "acme"], cwd=project, env=env)
    assert first.returncode == 0, first.stderr
    since = len(autumn_server.log_text())

    again = run_atmn(["login", "--org", "acme", "--keep-replaced"], cwd=project, env=env)

    assert again.returncode == 0, again.stderr
    assert "already works for Acme (acme)" in again.stderr
    requests = cli_requests(autumn_server, since)
    assert requests[0][:2] == ("GET", "/v1/organization/me")
    assert len(requests) == 6
    assert len({conn for _, _, conn in requests}) == 1, requests
