"""`atmn login` with a code (RFC 8628) against autumn-local: the person reads the code the
terminal prints and approves it on the verification page (a scripted browser here)."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from pathlib import Path

import pexpect
from dotenv import dotenv_values

from support import scripted_browser
from support.autumn_server import AutumnServer

from .helpers import ATMN, clean_env, organization_of

CODE = re.compile(r"Your code:\s+([A-Z]{4}-[A-Z]{4})")
ADDRESS = re.compile(r"Open (\S+) on any device")


class DeviceLogin:
    """`atmn login` running in the background; its stderr read line by line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [ATMN, "login", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.code: str | None = None
        self.address: str | None = None
        self.shown = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if (m := CODE.search(line)) is not None:
                self.code = m.group(1)
            if (m := ADDRESS.search(line)) is not None:
                self.address = m.group(1)
            if self.code and self.address:
                self.shown.set()

    def wait_for_code(self) -> tuple[str, str]:
        assert self.shown.wait(20), "".join(self.lines)
        assert self.code is not None and self.address is not None
        return self.code, self.address

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        assert self.process.stdout is not None  # stderr is the reader thread's
        out = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        self.reader.join(timeout)
        return self.process.returncode, out, "".join(self.lines)


def _env(server: AutumnServer, home: Path) -> dict[str, str]:
    return clean_env(home, ATMN_BACKEND_URL=server.url)


def test_a_device_login_is_approved_with_the_printed_code(
    start_autumn_server, tmp_path: Path
) -> None:
    server = start_autumn_server(device_interval=1)
    login = DeviceLogin(["--device"], tmp_path, _env(server, tmp_path))
    code, address = login.wait_for_code()

    scripted_browser.approve_device(
        address, code, email=server.email, password=server.password, org="globex"
    )
    status, out, err = login.finish()

    assert status == 0, err
    assert "Signed in to Globex (globex)" in out
    sandbox = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(server.url, sandbox).json()["slug"] == "globex"
    assert sandbox not in out + err


def test_a_denied_code_ends_in_one_line_and_writes_nothing(
    start_autumn_server, tmp_path: Path
) -> None:
    server = start_autumn_server(device_interval=1)
    login = DeviceLogin(["--device"], tmp_path, _env(server, tmp_path))
    code, address = login.wait_for_code()

    scripted_browser.approve_device(
        address, code, email=server.email, password=server.password, action="deny"
    )
    status, _, err = login.finish()

    assert status == 1
    assert err.rstrip().splitlines()[-1] == f"atmn: error: the sign-in with code {code} was denied"
    assert not (tmp_path / ".env").exists()


def test_an_expired_code_ends_in_one_line(start_autumn_server, tmp_path: Path) -> None:
    server = start_autumn_server(device_interval=1, device_ttl=3)
    login = DeviceLogin(["--device"], tmp_path, _env(server, tmp_path))
    code, _ = login.wait_for_code()

    status, _, err = login.finish()

    assert status == 1
    assert f"the code {code} expired" in err.rstrip().splitlines()[-1]
    assert not (tmp_path / ".env").exists()


def test_ctrl_c_while_polling_changes_nothing(start_autumn_server, tmp_path: Path) -> None:
    server = start_autumn_server(device_interval=1)
    (tmp_path / ".env").write_bytes(b"KEEP=1\n")
    login = DeviceLogin(["--device"], tmp_path, _env(server, tmp_path))
    login.wait_for_code()

    login.process.send_signal(signal.SIGINT)
    status, _, err = login.finish()

    assert status == 130
    assert err.rstrip().endswith("atmn: interrupted; nothing was changed.")
    assert (tmp_path / ".env").read_bytes() == b"KEEP=1\n"


def test_over_ssh_login_chooses_the_code_by_itself(start_autumn_server, tmp_path: Path) -> None:
    """A terminal over SSH: no browser can come back to this machine, so the code is used,
    and one line says why."""
    server = start_autumn_server(device_interval=1)
    env = dict(_env(server, tmp_path), SSH_CONNECTION="10.0.0.1 5000 10.0.0.2 22")
    env.update(TERM="xterm", COLUMNS="100", LINES="40")
    child = pexpect.spawn(
        ATMN,
        ["login"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 100),
    )
    child.expect(r"Signing in with a code instead of a browser here \(this is an SSH session\)")
    child.expect(CODE)
    code = child.match.group(1)
    child.expect(ADDRESS)
    address = child.match.group(1)
    child.expect("Waiting for you to approve")

    scripted_browser.approve_device(
        address, code, email=server.email, password=server.password, org="acme"
    )
    child.expect(r"Signed in to Acme \(acme\)")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    assert dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
