"""Where nobody can approve a sign-in, a rejected key fails at once with what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atmn_auth import AutumnClient
from atmn_auth.client import KeyRejectedError, MissingKeyError
from atmn_auth.keyformat import SANDBOX_VAR

from .helpers import Project, ScriptedOpener

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# A sign-in that was started would wait minutes for a browser; this stops such a test.
fails_instead_of_waiting = pytest.mark.timeout(20)


def run_example(name: str, project: Project) -> subprocess.CompletedProcess[str]:
    """The example as CI would run it: no terminal on stdin or stderr."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(project.root),
        "XDG_CACHE_HOME": str(project.root / ".cache"),
        "ATMN_BACKEND_URL": project.server.url,
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@fails_instead_of_waiting
@pytest.mark.parametrize("example", ["list_customers.py", "list_customers_async.py"])
def test_examples_list_customers_and_fail_in_one_line_without_a_terminal(
    project: Project, example: str
) -> None:
    ok = run_example(example, project)
    assert ok.returncode == 0, ok.stderr
    assert "0 customers" in ok.stdout

    project.revoke_keys()
    before = project.env_file.read_bytes()
    sign_ins = project.sign_ins()
    failed = run_example(example, project)

    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1
    assert "the key was rejected (401)" in failed.stderr
    assert "no terminal" in failed.stderr
    assert "run `atmn login`" in failed.stderr
    assert "oauth2/authorize" not in failed.stderr  # no sign-in URL: nothing was started
    assert project.env_file.read_bytes() == before
    assert project.sign_ins() == sign_ins


@fails_instead_of_waiting
def test_no_terminal_means_no_sign_in_and_no_browser(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with AutumnClient(cwd=project.root, environ=project.environ, interactive=False) as autumn:
        assert autumn.get("/v1/customers").status_code == 200
        project.revoke_keys()
        sign_ins = project.sign_ins()
        with pytest.raises(KeyRejectedError, match=r"run `atmn login`") as raised:
            autumn.get("/v1/customers")

    assert raised.value.response.status_code == 401
    assert raised.value.exit_code == 1
    assert project.sign_ins() == sign_ins
    assert capsys.readouterr().err == ""  # not even "signing in again…"


@fails_instead_of_waiting
def test_disabling_recovery_raises_the_401_even_on_a_terminal(project: Project) -> None:
    opener = ScriptedOpener(project.server)
    environ = dict(project.environ, ATMN_DISABLE_AUTH_RECOVERY="1")
    with AutumnClient(
        cwd=project.root, environ=environ, reauthenticator=project.reauthenticator(opener)
    ) as autumn:
        project.revoke_keys()
        sign_ins = project.sign_ins()
        with pytest.raises(KeyRejectedError, match="ATMN_DISABLE_AUTH_RECOVERY") as raised:
            autumn.get("/v1/customers")

    assert raised.value.response.status_code == 401
    assert raised.value.response.json()["code"] == "invalid_secret_key"
    assert opener.opened == []
    assert project.sign_ins() == sign_ins


@fails_instead_of_waiting
def test_a_rejected_key_from_the_process_environment_is_reported_as_shadowing_dotenv(
    project: Project,
) -> None:
    dead = project.keys()[SANDBOX_VAR]
    assert dead is not None
    project.revoke_keys()
    before = project.env_file.read_bytes()
    opener = ScriptedOpener(project.server)
    environ = dict(project.environ, AUTUMN_SECRET_KEY=dead)
    with (
        AutumnClient(
            cwd=project.root, environ=environ, reauthenticator=project.reauthenticator(opener)
        ) as autumn,
        pytest.raises(KeyRejectedError) as raised,
    ):
        autumn.get("/v1/customers")

    message = str(raised.value)
    assert "from the process environment" in message
    assert "shadows" in message
    assert "unset AUTUMN_SECRET_KEY or update it" in message
    assert dead not in message
    assert opener.opened == []
    assert project.env_file.read_bytes() == before


def test_no_key_anywhere_says_to_run_atmn_login(tmp_path: Path) -> None:
    with pytest.raises(
        MissingKeyError, match=r"AUTUMN_PROD_SECRET_KEY is not set.*`atmn -l login`"
    ):
        AutumnClient(prod=True, local=True, cwd=tmp_path, environ={})
