"""The callback server inside a real `atmn login` against the real stand-in.

tests/callback/ covers the server on its own (state checks, Host checks, floods, slowloris,
oversized requests, loopback-only binding); these add what only a whole login shows: all
of that at once while a person signs in, and what the running `atmn` process exposes.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import httpx2
import pytest

from atmn_auth.envfiles.reader import read_env
from callback.helpers import non_loopback_addresses
from support.autumn_server import AutumnServer
from support.scripted_browser import browse

from .cli import Running, cli_env
from .sockets import Attack, listening_sockets_of

LOGIN = ["login", "--no-browser", "--no-device", "--org", "acme", "--timeout", "30"]


def start_login(stand_in: AutumnServer, tmp_path: Path) -> tuple[Running, str, int, Path]:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "home").mkdir()
    env = cli_env(tmp_path / "home", stand_in.url, browser=False)
    running = Running(LOGIN, cwd=project, env=env)
    url = running.sign_in_url()
    port = running.callback_port()
    running.read_until(r"^Waiting up to")
    return running, url, port, project / ".env"


def sign_in(stand_in: AutumnServer, url: str) -> None:
    outcome = browse(url, email=stand_in.email, password=stand_in.password, org="acme")
    assert outcome.redirect_uri is not None
    assert outcome.response.status_code == 200
    assert "Signed in to Acme" in outcome.response.text  # the page waits for the outcome


def assert_keys_work(stand_in: AutumnServer, env_file: Path) -> None:
    values = read_env(env_file)
    for var in ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY"):
        key = values[var]
        assert key is not None
        answer = httpx2.get(
            stand_in.url + "/v1/organization/me", headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200
        assert answer.json()["slug"] == "acme"


def test_a_login_completes_under_flood_slowloris_and_junk(
    stand_in: AutumnServer, tmp_path: Path
) -> None:
    running, url, port, env_file = start_login(stand_in, tmp_path)
    attack = Attack(port)
    try:
        attack.start()
        while len(attack.answers) < 60:  # the flood is well under way before the person acts
            attack.stop.wait(0.01)
        sign_in(stand_in, url)
        code, out, err = running.finish()
    finally:
        attack.finish()
        running.kill()
    assert code == 0, err
    assert "Signed in to" in out
    assert_keys_work(stand_in, env_file)
    # nothing the attacker sent settled the flow or was taken as a pasted address
    answered = [answer.split(b" ")[1] for answer in attack.answers if answer.startswith(b"HTTP/")]
    assert len(answered) >= 30
    assert set(answered) <= {b"400", b"404", b"405", b"414", b"431", b"505"}


def test_a_running_login_listens_on_loopback_only(stand_in: AutumnServer, tmp_path: Path) -> None:
    running, url, port, env_file = start_login(stand_in, tmp_path)
    try:
        listening = listening_sockets_of(running.process.pid)
        assert listening, "the kernel shows no listening socket for atmn"
        assert {p for _, p in listening} == {port}
        assert all(ipaddress.ip_address(host).is_loopback for host, _ in listening)
        others = non_loopback_addresses(socket.AF_INET) + non_loopback_addresses(socket.AF_INET6)
        for address in others:  # this machine's other interfaces, when it has any
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=3).close()
        sign_in(stand_in, url)
        code, _, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    assert_keys_work(stand_in, env_file)
    assert os.stat(env_file).st_mode & 0o777 == 0o600
