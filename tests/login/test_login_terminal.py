"""`atmn login` on a real pseudo-terminal: the organization picker, a pasted address, Ctrl-C."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect
from dotenv import dotenv_values

from support.autumn_server import AutumnServer
from support.scripted_browser import browse, browser_env

from .helpers import ATMN, CALLBACK_PORTS, clean_env, occupy, organization_of

URL = re.compile(r"http://127\.0\.0\.1:\d+/api/auth/oauth2/authorize\?\S+")
DOWN = "\x1b[B"


def _spawn(args: list[str], *, cwd: Path, env: dict[str, str]) -> pexpect.spawn:
    env = dict(env, TERM="xterm", COLUMNS="120", LINES="40")
    return pexpect.spawn(
        ATMN, args, cwd=str(cwd), env=env, encoding="utf-8", timeout=30, dimensions=(40, 120)
    )


def test_the_organization_picker_takes_arrow_keys(start_autumn_server, tmp_path: Path) -> None:
    """Only a server that binds no organization at consent leaves the choice to the CLI."""
    autumn_server = start_autumn_server(disable=["bind"])
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    child = _spawn(["login"], cwd=tmp_path, env=env)

    child.expect("Which organization")
    child.expect("Globex")  # the menu is drawn
    child.send(DOWN)
    child.send("\r")
    child.expect(r"Signed in to Globex \(globex\)")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    sandbox = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(autumn_server.url, sandbox).json()["slug"] == "globex"


def test_a_pasted_redirect_address_completes_the_sign_in(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url)
    child = _spawn(["login", "--no-browser", "--no-device", "--org", "acme"], cwd=tmp_path, env=env)
    child.expect(URL)
    url = child.after
    child.expect("paste")

    # The browser is elsewhere (say, over SSH): it cannot reach this machine's loopback,
    # so the person copies the address it ended on.
    outcome = browse(
        url,
        email=autumn_server.email,
        password=autumn_server.password,
        org="acme",
        follow_callback=False,
    )
    address = outcome.response.headers["location"]
    assert address.startswith(f"http://localhost:{CALLBACK_PORTS[0]}/?")
    child.sendline("https://example.test/not-this-one?state=nope&code=x")
    child.expect("not from this sign-in")
    child.sendline(address)
    child.expect(r"Signed in to Acme \(acme\)")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    assert address.split("code=")[1].split("&")[0] not in child.before
    assert dotenv_values(tmp_path / ".env")["AUTUMN_PROD_SECRET_KEY"]


def test_ctrl_c_while_waiting_changes_nothing_and_frees_the_port(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_bytes(b"KEEP=1\n")
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url)
    child = _spawn(["login", "--no-browser", "--no-device", "--org", "acme"], cwd=tmp_path, env=env)
    child.expect("Waiting for the browser")

    child.sendintr()
    child.expect("interrupted")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 130
    assert (tmp_path / ".env").read_bytes() == b"KEEP=1\n"
    occupy(CALLBACK_PORTS[0]).close()


def test_a_working_key_is_kept_when_the_user_says_no(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    first = _spawn(["login", "--org", "acme"], cwd=tmp_path, env=env)
    first.expect(pexpect.EOF)
    first.close()
    assert first.exitstatus == 0
    before = (tmp_path / ".env").read_bytes()

    again = _spawn(["login", "--org", "acme"], cwd=tmp_path, env=env)
    again.expect(r"already\s+works\s+for\s+Acme\s+\(acme\)")  # wrapped to the terminal
    again.expect("Sign in again")
    again.send("n")
    again.expect("kept the keys")
    again.expect(pexpect.EOF)
    again.close()

    assert again.exitstatus == 0
    assert (tmp_path / ".env").read_bytes() == before
    assert autumn_server.stats()["key_pairs_minted"] == 1
