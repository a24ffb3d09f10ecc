"""Running the real `atmn` console script against a loopback backend, as a user would."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

from support.atmn_cli import ATMN, CALLBACK_PORTS, clean_env, run_atmn
from support.scripted_browser import browser_env

__all__ = ["ATMN", "CALLBACK_PORTS", "run_atmn"]

# Control characters a terminal acts on (ESC starts colour, cursor and title sequences).
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def cli_env(home: Path, backend_url: str, *, browser: bool = True, **extra: str) -> dict[str, str]:
    """A minimal environment: a private HOME, no display, `ATMN_BACKEND_URL`, and (with
    `browser`) the scripted browser as `BROWSER`, which approves whatever it is shown."""
    env = clean_env(home, ATMN_BACKEND_URL=backend_url, PYTHONDONTWRITEBYTECODE="1")
    if browser:
        person = SimpleNamespace(email="ada@example.com", password="not-used")
        env.update(browser_env(person, org="acme"))
    env.update(extra)
    return env


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error `atmn` ended with; fails when it crashed or said more than a line."""
    assert "Traceback" not in result.stderr, result.stderr
    # The scripted browser shares stderr; it may finish after atmn has said its last word.
    ours = [line for line in result.stderr.splitlines() if not line.startswith("scripted browser:")]
    last = ours[-1] if ours else ""
    assert last.startswith("atmn: error: "), result.stderr
    return last.removeprefix("atmn: error: ")


def _limit_files(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


class Running:
    """`atmn ...` started in the background, its stderr read line by line; with
    `max_files`, allowed that many file descriptors (macOS's default is 256)."""

    def __init__(
        self, args: list[str], *, cwd: Path, env: dict[str, str], max_files: int | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [ATMN, *args],
            cwd=cwd,
            # a hang is reported with every thread's stack (SIGABRT, see `finish`)
            env={**env, "PYTHONFAULTHANDLER": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=None if max_files is None else lambda: _limit_files(max_files),
        )
        self.lines: list[str] = []

    def read_until(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        """Reads stderr until a line matches `pattern`."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            match = regex.search(line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines)}")

    def sign_in_url(self) -> str:
        return self.read_until(r"^\s+(http\S+authorize\S+)$").group(1)

    def callback_port(self) -> int:
        return int(self.read_until(r"http://localhost:(\d+)/ on this machine").group(1))

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 15) -> tuple[int, str, str]:
        """Exit code, stdout and all of stderr once atmn ends; when it does not end within
        `timeout`, fails with where each of its threads was (faulthandler's dump)."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            try:
                out, err = self.process.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                out, err = self.process.communicate()
            raise AssertionError(
                f"atmn {' '.join(self.process.args[1:])} did not end within {timeout} s; "
                f"stdout {out!r}; stderr:\n{''.join(self.lines)}{err}"
            ) from None
        return self.process.returncode, out, "".join(self.lines) + err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def port_is_free(port: int) -> bool:
    """Whether a new program could listen on `port` on loopback (IPv4, and IPv6 if present)."""
    families = [(socket.AF_INET, "127.0.0.1")]
    if socket.has_ipv6:
        families.append((socket.AF_INET6, "::1"))
    for family, host in families:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                if family == socket.AF_INET6 and exc.errno == 99:  # no ::1 on this host
                    continue
                return False
    return True
