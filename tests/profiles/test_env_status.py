"""`atmn env` and `atmn status` (and `--json`) on both profiles, for a project a real
`atmn login` wrote: the organization and the user, and nothing asked of hosted Autumn that
it does not offer (every /cli route but the mint answers 401 there, contract §H)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from support.autumn_server import AutumnServer

from .helpers import LIVE_VAR, SANDBOX_VAR, Project, RecordingProxy, logged_in, redact

pytestmark = pytest.mark.parametrize("command", ["env", "status"])


@pytest.fixture(scope="module")
def project(
    any_server: AutumnServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """One login for the module: these commands change nothing."""
    yield logged_in(tmp_path_factory.mktemp("env-status"), any_server)


def _report(project: Project, backend: str, *, live: bool = False) -> list[str]:
    var = LIVE_VAR if live else SANDBOX_VAR
    kind = "live" if live else "sandbox"
    return [
        "Environment:  live (-p)" if live else "Environment:  sandbox",
        f"Backend:      {backend}",
        f"Variable:     {var}",
        f"From:         {project.env_file}",
        f"Key:          {redact(project.keys()[var])}",
        f"Format:       ok: {kind} key",
        "Server:       accepted: organization Acme (acme)",
        f"User:         {project.server.email.partition('@')[0]} <{project.server.email}>",
    ]


def _asked_only_what_is_offered(server: AutumnServer, proxy: RecordingProxy) -> None:
    assert proxy.failed(proxy.requests) == [], proxy.summary()
    if server.hosted:
        assert proxy.cli_routes_but_mint() == []


@pytest.mark.parametrize("live", [False, True], ids=["sandbox", "live"])
def test_the_report_names_the_organization_and_the_user(
    command: str, live: bool, any_server: AutumnServer, project: Project, proxy: RecordingProxy
) -> None:
    args = ["-p", command] if live else [command]

    result = project.atmn(*args, ATMN_BACKEND_URL=proxy.url)

    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[:8] == _report(project, proxy.url, live=live)
    if any_server.hosted:  # no key listing (§7) on hosted Autumn: nothing more to say
        assert lines[8:] == []
    else:
        assert [line.split(":")[0] for line in lines[8:]] == ["Key name", "Created", "Last used"]
        assert lines[9].endswith(", via oauth")
    _asked_only_what_is_offered(any_server, proxy)


def test_json_gives_the_user(
    command: str, any_server: AutumnServer, project: Project, proxy: RecordingProxy
) -> None:
    result = project.atmn(command, "--json", ATMN_BACKEND_URL=proxy.url)

    assert (result.returncode, result.stderr) == (0, "")
    report = json.loads(result.stdout)
    assert report["user"] == {"email": any_server.email, "name": "demo"}
    assert {k: report["organization"][k] for k in ("name", "slug", "env")} == {
        "name": "Acme",
        "slug": "acme",
        "env": "sandbox",
    }
    assert (report["server"], report["usable"], report["key"]) == (
        "accepted",
        True,
        redact(project.keys()[SANDBOX_VAR]),
    )
    if any_server.hosted:
        assert report["key_details"] is None
    else:
        assert report["key_details"]["created_via"] == "oauth"
    _asked_only_what_is_offered(any_server, proxy)
