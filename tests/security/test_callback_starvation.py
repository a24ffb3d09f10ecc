"""A real `atmn login` whose callback port another process keeps busy.

With macOS's default limit of 256 file descriptors, 300 held connections used to exhaust
them: the accept loop then spun on EMFILE and the browser's redirect was never accepted.
Later, 300 connections sending request heads over the size limit did it another way: each
was then read for a second after its 414 on a thread of its own, none could make room, and
the server closed the browser's connection unanswered.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.autumn_server import AutumnServer
from support.scripted_browser import browse

from .cli import Running, cli_env
from .test_callback_during_login import LOGIN, assert_keys_work

HOLDER = Path(__file__).with_name("hold_connections.py")
MACOS_FILE_LIMIT = 256


@pytest.mark.parametrize(
    ("idle", "trickling", "oversized"),
    [(300, 100, 0), (0, 0, 300)],
    ids=["idle-and-trickling", "oversized-heads"],
)
def test_a_login_completes_while_300_connections_are_held(
    stand_in: AutumnServer, tmp_path: Path, idle: int, trickling: int, oversized: int
) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    env = cli_env(home, stand_in.url, browser=False)
    running = Running(LOGIN, cwd=project, env=env, max_files=MACOS_FILE_LIMIT)
    holder = None
    try:
        url = running.sign_in_url()
        port = running.callback_port()
        running.read_until(r"^Waiting up to")
        holder = subprocess.Popen(
            [sys.executable, str(HOLDER), *map(str, (port, idle, trickling, oversized))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        holding = int(holder.stdout.readline().split()[1])
        time.sleep(1)  # the attack settles in; the person signs in meanwhile

        sent: list[float] = []
        outcome = browse(
            url,
            email=stand_in.email,
            password=stand_in.password,
            org="acme",
            before_callback=lambda: sent.append(time.monotonic()),
        )
        answered = time.monotonic() - sent[0]
        assert outcome.response.status_code == 200
        assert "Signed in to Acme" in outcome.response.text
        assert answered < 1.0, f"the callback was answered {answered:.2f} s after the request"
        code, out, err = running.finish()
    finally:
        if holder is not None:
            holder.terminate()
            made = holder.communicate(timeout=10)[0]
        running.kill()
    assert code == 0, err
    assert "Signed in to Acme" in out
    assert_keys_work(stand_in, project / ".env")
    # the attack was real: 300 and more connections at once, each dropped one opened again;
    # the oversized heads were answered (and read on after), over and over
    said = dict(line.split() for line in made.splitlines())
    assert holding >= 300
    assert int(said["opened"]) > 400
    if oversized:
        assert int(said["answered"]) > oversized
