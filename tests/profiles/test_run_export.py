"""`atmn run -- CMD` and `atmn env --export` on both profiles, with the keys a real login
wrote: CMD gets them (with -p the live key in both variables), a key the server rejects
starts nothing, and the exported lines give a shell what the `.env` holds."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from support.atmn_cli import ATMN
from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_VAR,
    SANDBOX_VAR,
    Project,
    RecordingProxy,
    logged_in,
    new_project,
    redact,
    revoke_on_server,
)

BOTH_LAST4 = (
    "import os; e = os.environ; "
    'print(e["AUTUMN_SECRET_KEY"][-4:], e.get("AUTUMN_PROD_SECRET_KEY", "-")[-4:])'
)
PRINT_BOTH = 'printf "%s\\n%s\\n" "$AUTUMN_SECRET_KEY" "$AUTUMN_PROD_SECRET_KEY"'


@pytest.fixture(scope="module")
def project(
    any_server: AutumnServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """One login for the module: run and export change nothing."""
    yield logged_in(tmp_path_factory.mktemp("run"), any_server)


def test_run_gives_cmd_the_keys(
    any_server: AutumnServer, project: Project, proxy: RecordingProxy
) -> None:
    keys = project.keys()
    sandbox, live = (keys[SANDBOX_VAR] or "")[-4:], (keys[LIVE_VAR] or "")[-4:]

    sandbox_only = project.atmn("run", "--", "python", "-c", BOTH_LAST4, ATMN_BACKEND_URL=proxy.url)
    both = project.atmn(
        "run", "--live-too", "--", "python", "-c", BOTH_LAST4, ATMN_BACKEND_URL=proxy.url
    )
    as_live = project.atmn(
        "-p", "run", "--", "python", "-c", BOTH_LAST4, ATMN_BACKEND_URL=proxy.url
    )
    status = project.atmn("run", "--", "python", "-c", "raise SystemExit(3)")

    assert (sandbox_only.returncode, sandbox_only.stdout) == (0, f"{sandbox} -\n")
    assert (both.returncode, both.stdout, both.stderr) == (0, f"{sandbox} {live}\n", "")
    assert (as_live.returncode, as_live.stdout, as_live.stderr) == (0, f"{live} {live}\n", "")
    assert (status.returncode, status.stdout, status.stderr) == (3, "", "")
    # each run asked the server about its key first, and nothing it does not offer
    assert len(proxy.seen("GET", "/v1/organization/me")) == 3
    assert [r.path for r in proxy.requests if r.path.startswith("/cli/")] == []
    assert proxy.failed(proxy.requests) == [], proxy.summary()


def test_run_starts_nothing_with_a_key_the_server_rejects(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    project = new_project(tmp_path, any_server)
    sandbox = any_server.create_key("acme")["key"]
    live = any_server.create_key("acme", env="live")["key"]
    project.env_file.write_text(f"AUTUMN_SECRET_KEY={sandbox}\nAUTUMN_PROD_SECRET_KEY={live}\n")
    revoke_on_server(any_server, sandbox)
    marker = tmp_path / "started"

    result = project.atmn("run", "--", "python", "-c", f"open({str(marker)!r}, 'w')")

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"atmn: error: the server rejected AUTUMN_SECRET_KEY ({redact(sandbox)}) from "
        f"{project.env_file} (401); 'python' was not started; run `atmn login` to write new "
        f"keys to {project.env_file}"
    ]
    assert not marker.exists()
    # the live key still works: -p runs
    as_live = project.atmn("-p", "run", "--", "python", "-c", "print('ok')")
    assert (as_live.returncode, as_live.stdout) == (0, "ok\n")


def test_env_export_gives_a_shell_what_the_env_file_holds(
    any_server: AutumnServer, project: Project
) -> None:
    script = f'eval "$("$ATMN" env --export)" && {PRINT_BOTH}'
    shell = subprocess.run(
        ["sh", "-c", script],
        cwd=project.dir,
        env={**project.env, "ATMN": ATMN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    dotenv = project.atmn("env", "--export", "--format", "dotenv")

    keys = project.keys()
    assert (shell.returncode, shell.stderr) == (0, "")
    same = shell.stdout.splitlines() == [keys[SANDBOX_VAR], keys[LIVE_VAR]]
    assert same
    assert (dotenv.returncode, dotenv.stderr) == (0, "")
    same = dotenv_values(stream=io.StringIO(dotenv.stdout)) == dict(keys)
    assert same
