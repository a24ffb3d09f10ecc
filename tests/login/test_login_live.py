"""`atmn login` as a person sees it on a terminal: a wait line that counts down in place,
the pairing code, no escape sequence with `NO_COLOR`, and text typed after the browser
came back that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pexpect
from dotenv import dotenv_values

from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

from .helpers import ATMN, clean_env, organization_of


def _spawn(args: list[str], *, cwd: Path, env: dict[str, str]) -> pexpect.spawn:
    env = dict(env, TERM="xterm", COLUMNS="100", LINES="40")
    return pexpect.spawn(
        ATMN, args, cwd=str(cwd), env=env, encoding="utf-8", timeout=30, dimensions=(40, 100)
    )


def test_the_wait_line_counts_down_in_place_without_escape_sequences(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, NO_COLOR="1")
    child = _spawn(
        ["login", "--no-browser", "--no-device", "--timeout", "20"], cwd=tmp_path, env=env
    )

    child.expect(r"Pairing code: [A-Z2-7]{4}-[A-Z2-7]{4}")
    child.expect(r"Waiting for the browser… 0:(\d\d) left")
    first = int(child.match.group(1))
    child.expect(r"Waiting for the browser… 0:(\d\d) left", timeout=5)
    while int(child.match.group(1)) == first:
        child.expect(r"Waiting for the browser… 0:(\d\d) left", timeout=5)
    assert int(child.match.group(1)) == first - 1  # redrawn, a second later
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()

    seen = child.before or ""
    assert child.exitstatus == 130
    assert "\x1b" not in seen
    assert "interrupted" in seen


def test_typing_after_the_browser_came_back_changes_nothing(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(
        tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server, org="globex")
    )
    child = _spawn(["login"], cwd=tmp_path, env=env)

    child.expect("Approved in the browser")
    child.send("jjk\r")  # as if meant for a paste, or a menu
    child.expect(r"Signed in to Globex \(globex\)")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    sandbox = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(autumn_server.url, sandbox).json()["slug"] == "globex"
