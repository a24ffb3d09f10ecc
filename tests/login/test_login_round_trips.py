"""What a login asks of the server after the browser comes back, on hosted Autumn's
answers and on the full stand-in alike: the code exchanged, the keys minted, then the
grant's revocation and `/v1/organization/me` at once (three round trips), and nothing
answered with an error."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from security.hostile_backend import HostileBackend
from support.atmn_cli import clean_env, run_atmn
from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

LOG_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>/\S*) (?P<status>\d{3}) ")
CLI_CALL = re.compile(r"^/(\.well-known/|cli/|v1/|api/auth/oauth2/(token|revoke)$)")


def cli_calls(server: AutumnServer) -> list[tuple[str, int]]:
    """The CLI's requests in the stand-in's log (not the browser's pages): ("METHOD /path",
    status), in order."""
    calls = []
    for line in server.log_text().splitlines():
        match = LOG_LINE.match(line)
        if match and CLI_CALL.match(match["path"]) and match["path"] != "/healthz":
            calls.append((f"{match['method']} {match['path']}", int(match["status"])))
    return calls


def test_after_the_callback_three_round_trips_and_no_error(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=any_server.url, **browser_env(any_server))
    result = run_atmn(["login"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    calls = cli_calls(any_server)
    assert [status for _, status in calls if status >= 400] == [], calls
    paths = [call for call, _ in calls]
    assert paths[:3] == [
        "GET /.well-known/oauth-authorization-server",
        "POST /api/auth/oauth2/token",
        "POST /cli/api-keys",
    ]
    assert sorted(paths[3:]) == ["GET /v1/organization/me", "POST /api/auth/oauth2/revoke"]


def test_the_grants_revocation_and_the_organization_are_asked_at_once(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    """Neither is answered until the other has reached the server: one after the other,
    the first would wait alone, and the login would pay a fourth round trip."""
    together = threading.Barrier(2, timeout=5)
    alone: list[str] = []

    with HostileBackend(upstream=any_server.url) as proxy:

        def meet(handler: Any, request: Any) -> None:
            try:
                together.wait()
            except threading.BrokenBarrierError:
                alone.append(request.path)
            proxy.fallback(handler, request)

        proxy.on("GET", "/v1/organization/me", meet)
        proxy.on("POST", "/api/auth/oauth2/revoke", meet)
        env = clean_env(tmp_path, ATMN_BACKEND_URL=proxy.url, **browser_env(any_server))
        result = run_atmn(["login"], cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert "✓ Signed in to Acme (acme) as " in result.stdout
    assert len(proxy.seen("POST", "/api/auth/oauth2/revoke")) == 1
    assert len(proxy.seen("GET", "/v1/organization/me")) == 1
    assert alone == [], f"{alone} reached the server while the other call was not under way"
