"""The paste login on a real pseudo-terminal: no browser can come back to this machine
(`--no-browser`), so the person pastes the address the browser ended on."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect

from support.atmn_cli import ATMN, CALLBACK_PORTS
from support.autumn_server import AutumnServer
from support.scripted_browser import browse

from .helpers import login_stdout, new_project

URL = re.compile(r"http://127\.0\.0\.1:\d+/api/auth/oauth2/authorize\?\S+")
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def test_a_pasted_redirect_address_signs_in(any_server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, any_server)
    env = dict(project.env, TERM="xterm", COLUMNS="250", LINES="40")
    env.pop("BROWSER")
    # Hosted Autumn offers no device flow: atmn must not need to be told to skip it there.
    args = (
        ["login", "--no-browser"] if any_server.hosted else ["login", "--no-browser", "--no-device"]
    )
    child = pexpect.spawn(
        ATMN,
        args,
        cwd=str(project.dir),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 250),
    )
    child.expect(URL)
    url = child.after
    child.expect("paste it here")
    shown = child.before
    child.expect("Waiting for the browser")
    shown += child.before
    # The browser is elsewhere (say, over SSH): it cannot reach this machine's loopback,
    # so the person copies the address it ended on.
    outcome = browse(
        url,
        email=any_server.email,
        password=any_server.password,
        org="acme",
        follow_callback=False,
    )
    address = outcome.response.headers["location"]
    assert address.startswith(f"http://localhost:{CALLBACK_PORTS[0]}/?")
    child.sendline(address)
    child.expect("Approved in the browser. Finishing sign-in…")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    assert ("Pairing code:" in shown) is not any_server.hosted
    assert "/device" not in shown
    finished = [line.rstrip() for line in ESCAPES.sub("", child.before).splitlines()]
    assert [line for line in finished if line] == login_stdout(any_server, project)
    working = project.working()
    assert working == ["acme", "acme"]
