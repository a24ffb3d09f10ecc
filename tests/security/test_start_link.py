"""What another user of the machine can read off the browser's command line during a login.

Every user can read every process's command line (`/proc/PID/cmdline`, `ps`). With the
sign-in URL's `state` and PKCE challenge, another user could sign in with their own
account, approve with the victim's challenge and reach the callback first: the victim's
`.env` would get keys of the attacker's organization. With a device code, they could
approve it first. The browser is opened on a single-use start link instead, and on the
device page without the code; the terminal still shows the full URL (and the code).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2

from atmn_auth.settings import CALLBACK_PORTS
from support.autumn_server import AutumnServer
from support.scripted_browser import approve_device, browse, browser_env

from . import inprocess
from .cli import Running, cli_env, run_atmn
from .test_callback_during_login import assert_keys_work

START_LINK = re.compile(r"http://localhost:\d+/start/[A-Za-z0-9_-]{43}")


def command_lines(record_file: Path) -> tuple[list[str], list[str]]:
    """The scripted browser's own argv, and every command line it could see, one run."""
    runs = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert len(runs) == 1
    run = runs[0]
    everyone = [" ".join(line) for line in run["all"].values()]
    return run["argv"], [" ".join(run["argv"]), " ".join(run["cmdline"]), *everyone]


def test_the_browser_command_line_holds_neither_state_nor_challenge(
    stand_in: AutumnServer, tmp_path: Path
) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    record = tmp_path / "cmdlines.jsonl"
    person = browser_env(stand_in, org="acme", cmdline=str(record))
    env = cli_env(home, stand_in.url, browser=False, **person)

    login = run_atmn(["login", "--org", "acme", "--no-device"], cwd=project, env=env)

    assert login.returncode == 0, login.stderr
    assert "Signed in to Acme (acme)" in login.stdout
    assert_keys_work(stand_in, project / ".env")
    # the terminal shows the whole sign-in URL (for another browser, over SSH)...
    assert "Opened your browser to sign in to Autumn" in login.stderr
    printed = re.search(r"^\s+(http\S+/authorize\?\S+)$", login.stderr, re.M)
    assert printed, login.stderr
    query = {k: v[0] for k, v in parse_qs(urlsplit(printed.group(1)).query).items()}
    state, challenge = query["state"], query["code_challenge"]
    # ...while no command line holds any of it: the browser got the start link
    argv, everything = command_lines(record)
    assert START_LINK.fullmatch(argv[-1]), argv
    for line in everything:
        for secret in (state, challenge, "state=", "code_challenge"):
            assert secret not in line, f"{secret!r} is on a command line: {line}"


def test_a_second_use_of_the_start_link_is_told_it_was_used(
    stand_in: AutumnServer, tmp_path: Path
) -> None:
    seen: dict[str, httpx2.Response] = {}

    def person(start: str) -> bool:
        # up to the consent, not yet back to the CLI
        approved = browse(
            start,
            email=stand_in.email,
            password=stand_in.password,
            org="acme",
            follow_callback=False,
        )
        assert approved.steps[0] == "start"
        seen["again"] = httpx2.get(start)  # another tab, a reload, someone else
        seen["callback"] = httpx2.get(approved.response.headers["location"])
        return True

    result = inprocess.login(stand_in.url, tmp_path, opener=person, ports=CALLBACK_PORTS)

    again = seen["again"]
    assert again.status_code == 410
    assert "location" not in again.headers
    assert again.headers["cache-control"] == "no-store"
    assert "already used" in again.text
    assert "return to your terminal" in again.text
    assert "state=" not in again.text
    assert seen["callback"].status_code == 200  # the sign-in itself went on
    assert result.organization is not None and result.organization.slug == "acme"
    assert_keys_work(stand_in, tmp_path / ".env")


def test_the_device_flow_puts_no_code_on_the_command_line(
    start_autumn_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = start_autumn_server(device_interval=1)
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    record = tmp_path / "cmdlines.jsonl"
    person = browser_env(server, org="globex", cmdline=str(record))
    env = cli_env(home, server.url, browser=False, **person)
    running = Running(["login", "--device"], cwd=project, env=env)
    try:
        code = running.read_until(r"Your code:\s+([A-Z]{4}-[A-Z]{4})").group(1)
        address = running.read_until(r"Open (\S+) on any device").group(1)
        running.read_until(r"Opened your browser at \S+; enter the code there\.")
        # the person types the code the terminal shows
        approve_device(address, code, email=server.email, password=server.password, org="globex")
        status, out, err = running.finish(timeout=30)
    finally:
        running.kill()

    assert status == 0, err
    assert "Signed in to Globex (globex)" in out
    argv, everything = command_lines(record)
    assert argv[-1] == address
    for line in everything:
        for secret in (code, code.replace("-", ""), "user_code"):
            assert secret not in line, f"{secret!r} is on a command line: {line}"
