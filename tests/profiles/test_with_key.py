"""`atmn login --with-key` on both profiles: a key made in the dashboard (the stand-in's
admin command), or one a prior login minted, read from standard input and checked with
the server before it is written."""

from __future__ import annotations

from pathlib import Path

from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_VAR,
    OTHER_LINES,
    SANDBOX_VAR,
    RecordingProxy,
    logged_in,
    new_project,
    no_whole_key,
    redact,
    revoke_on_server,
)


def test_with_key_writes_a_dashboard_key(
    any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    key = any_server.create_key("acme")["key"]
    project = new_project(tmp_path, any_server, backend_url=proxy.url)

    result = project.atmn("login", "--with-key", input=key + "\n")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "✓ Key accepted: organization Acme (acme).",
        f"Updated {project.env_file}:",
        f"  AUTUMN_SECRET_KEY        {redact(key)}  (sandbox)",
        "Next: `atmn env` shows the key in force; your code reads AUTUMN_SECRET_KEY.",
    ]
    written = project.keys()[SANDBOX_VAR] == key
    assert written
    assert project.env_file.read_bytes().startswith(OTHER_LINES)
    assert proxy.failed(proxy.requests) == [], proxy.summary()
    assert proxy.cli_routes_but_mint() == []  # --with-key mints nothing, lists nothing


def test_with_key_p_writes_the_live_key_of_a_prior_login(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    earlier = logged_in(tmp_path / "earlier", any_server)
    live = earlier.keys()[LIVE_VAR] or ""
    project = new_project(tmp_path / "now", any_server)

    result = project.atmn("-p", "login", "--with-key", input=live + "\n")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "✓ Key accepted: organization Acme (acme).",
        f"Updated {project.env_file}:",
        f"  AUTUMN_PROD_SECRET_KEY   {redact(live)}  (live)",
        "Next: `atmn -p env` shows the key in force; your code reads AUTUMN_PROD_SECRET_KEY.",
    ]
    written = project.keys()[LIVE_VAR] == live
    assert written


def test_with_key_refuses_a_key_the_server_rejects(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    key = any_server.create_key("acme")["key"]
    revoke_on_server(any_server, key)
    project = new_project(tmp_path, any_server)

    result = project.atmn("login", "--with-key", input=key + "\n")

    assert result.returncode == 1
    assert result.stdout == ""
    assert project.env_file.read_bytes() == OTHER_LINES
    assert result.stderr.splitlines() == [
        f"atmn: error: {project.backend} rejected the key (Invalid secret key): it is unknown "
        "or revoked; nothing was written"
    ]
    clean = no_whole_key(result.stderr)
    assert clean
