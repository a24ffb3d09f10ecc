"""An `autumn-local serve` subprocess on a free port with its own data directory."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

REPO = Path(__file__).resolve().parents[2]
AUTUMN_LOCAL = REPO / ".venv" / "bin" / "autumn-local"
BANNER = re.compile(r"sign in as (?P<email>\S+) with password (?P<password>\S+)")
START_TIMEOUT = 15.0


def free_port() -> int:
    """A free loopback port outside the OAuth callback range 31448-31452."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not 31448 <= port <= 31452:
            return port


def _option_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                args += [flag, str(item)]
        elif value is True:
            args.append(flag)
        else:
            args += [flag, str(value)]
    return args


#: Where the hosted profile's (and hosted Autumn's) OAuth issuer lives under the backend URL.
HOSTED_ISSUER_PATH = "/api/auth"


class AutumnServer:
    """A running stand-in. `.url` is http://127.0.0.1:PORT; `.issuer` its OAuth issuer:
    the `issuer` option or http://localhost:PORT, plus `/api/auth` on the hosted profile
    (`hosted=True`, `.hosted`), as hosted Autumn's is."""

    def __init__(self, data_dir: Path, *, port: int | None = None, **options: Any) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.options = options
        self.hosted = bool(options.get("hosted"))
        base = str(options.get("issuer") or f"http://localhost:{self.port}").rstrip("/")
        self.issuer = base + HOSTED_ISSUER_PATH if self.hosted else base
        self.log_path = self.data_dir.parent / f"autumn-local-{self.port}.log"
        self.email = ""
        self.password = ""
        self._process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None  # of the last stopped process

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> AutumnServer:
        if self._process is not None:
            raise RuntimeError("already running")
        started_at = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            str(AUTUMN_LOCAL),
            "serve",
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
            *_option_args(self.options),
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        self._wait_until_up(started_at)
        return self

    def _wait_until_up(self, log_offset: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"autumn-local exited early:\n{self.log_text()}")
            try:
                response = httpx2.get(f"{self.url}/healthz", timeout=1.0)
                if response.status_code == 200:
                    match = BANNER.search(self.log_text()[log_offset:])
                    if match:
                        self.email = match["email"]
                        self.password = match["password"]
                        return
            except httpx2.TransportError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"autumn-local did not start in time:\n{self.log_text()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.returncode = process.returncode

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        """The process id of the running server."""
        if self._process is None:
            raise RuntimeError("not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- looking at it --------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def admin(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `autumn-local <args> --data <this server's data dir>`."""
        command = [str(AUTUMN_LOCAL), *args, "--data", str(self.data_dir)]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=30)

    def create_key(
        self,
        org: str = "acme",
        *,
        env: str = "sandbox",
        name: str = "Dashboard key",
        created_via: str = "dashboard",
        email: str | None = None,
    ) -> dict[str, str]:
        """Make one key as Autumn's dashboard does (`autumn-local keys create`), while the
        server runs: `{"id": "key_…", "key": "am_sk_…", "env", "org_id"}`. `org` is a slug;
        `created_via` is "dashboard" or "oauth"; `email` a member (default: the first)."""
        args = ["keys", "create", "--org", org, "--env", env, "--name", name]
        args += ["--via", created_via, "--json"]
        if email is not None:
            args += ["--email", email]
        result = self.admin(*args)
        if result.returncode != 0:
            raise RuntimeError(f"autumn-local keys create failed: {result.stderr.strip()}")
        created: dict[str, str] = json.loads(result.stdout)
        return created

    def stats(self) -> dict[str, int]:
        result = self.admin("stats", "--json", check=True)
        counts: dict[str, int] = json.loads(result.stdout)
        return counts

    def __repr__(self) -> str:
        return f"AutumnServer({self.url}, data={self.data_dir})"


def python() -> str:
    return sys.executable


def create_dashboard_key(server: AutumnServer, org: str = "acme", **options: Any) -> dict[str, str]:
    """`server.create_key(org, **options)`: a key made on the dashboard, for client tests."""
    return server.create_key(org, **options)


def revoke_key(server_url: str, key: str) -> str:
    """Revokes `key` on the server at `server_url` the way `atmn logout` does."""
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.api.session import Session

    with Session({}) as session:
        return Autumn(session, server_url).revoke_key(key)
