"""Ctrl-C at each stage of a real `atmn login`: it stops at once with exit 130, says nothing
was changed, leaves the `.env` byte for byte, and the callback port is free again; after
the keys are written, it says so instead."""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from dotenv import dotenv_values

from atmn_auth.keyformat import redact
from login.helpers import ATMN, clean_env, organization_of, run_atmn
from security.cli import Running, cli_env, port_is_free
from security.conftest import ENV_BEFORE, Project
from security.hostile_backend import TOKEN, HostileBackend, slow
from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

LOGIN = ["login", "--debug", "--org", "acme", "--force", "--timeout", "60"]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.01)


def interrupt_and_check(running: Running, port: int, project: Project) -> None:
    running.interrupt()
    code, out, err = running.finish(timeout=10)
    assert code == 130, err
    # the scripted browser shares stderr, and may print after atmn has ended
    ours = [line for line in err.splitlines() if not line.startswith("scripted browser:")]
    assert ours[-1] == "atmn: interrupted; nothing was changed."
    assert "Traceback" not in err
    assert out == ""
    assert project.env_file.read_bytes() == ENV_BEFORE
    assert project.files() == {".env"}
    assert port_is_free(port)


def start(project: Project, backend: HostileBackend, **env: str) -> tuple[Running, int]:
    running = Running(LOGIN, cwd=project.dir, env=cli_env(project.home, backend.url, **env))
    port = int(running.read_until(r"debug: callback server on http://localhost:(\d+)/").group(1))
    return running, port


def test_ctrl_c_while_waiting_for_the_browser(
    project: Project, hostile: HostileBackend, tmp_path: Path
) -> None:
    """The browser command is still running when the user gives up: it must not keep the
    callback port (sockets are not inherited), and the login ends at once."""
    pid_file = tmp_path / "browser.pid"
    browser = f"sh -c {shlex.quote(f'echo $$ > {pid_file}; exec sleep 60 >/dev/null 2>&1')} %s"
    running, port = start(project, hostile, BROWSER=browser)
    try:
        running.read_until(r"^Waiting up to")
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the browser")
        assert not port_is_free(port)
        interrupt_and_check(running, port, project)
        assert hostile.seen("POST", TOKEN) == []
    finally:
        running.kill()
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.parametrize(
    ("stage", "method", "path"),
    [("token exchange", "POST", TOKEN), ("minting", "POST", "/cli/api-keys")],
    ids=["token_exchange", "minting"],
)
def test_ctrl_c_while_the_server_is_slow(
    project: Project, hostile: HostileBackend, stage: str, method: str, path: str
) -> None:
    hostile.on(method, path, slow(60))
    running, port = start(project, hostile)
    try:
        wait_for(lambda: bool(hostile.seen(method, path)), f"the {stage} request")
        interrupt_and_check(running, port, project)
    finally:
        running.kill()


def test_ctrl_c_at_the_revoke_question_says_the_new_keys_are_written(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """Once the new keys are in the file, "nothing was changed" would be false: the
    interrupt says where they are and that the keys they replaced still work."""
    project = tmp_path / "project"
    project.mkdir()
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    first = run_atmn(["login", "--org", "acme"], cwd=project, env=env)
    assert first.returncode == 0, first.stderr
    old = dotenv_values(project / ".env")

    child = pexpect.spawn(
        ATMN,
        ["login", "--org", "acme", "--force"],
        cwd=str(project),
        env=dict(env, TERM="xterm", COLUMNS="200"),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    child.expect("Revoke the keys this replaced")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()

    said = " ".join(str(child.before).split())  # as one line, whatever the terminal wrapped
    assert child.exitstatus == 130, said
    new = dotenv_values(project / ".env")
    assert new["AUTUMN_SECRET_KEY"] != old["AUTUMN_SECRET_KEY"]
    assert f"atmn: interrupted; the new keys are in {project / '.env'}; the keys they " in said
    assert "nothing was changed" not in said
    for key in (old["AUTUMN_SECRET_KEY"], old["AUTUMN_PROD_SECRET_KEY"]):
        assert key is not None
        assert f"{redact(key)}: delete it in the Autumn dashboard: " in said
        assert organization_of(autumn_server.url, key).status_code == 200  # kept, as said
    assert organization_of(autumn_server.url, str(new["AUTUMN_SECRET_KEY"])).status_code == 200
