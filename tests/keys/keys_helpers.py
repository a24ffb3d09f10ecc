"""Helpers for the `atmn keys` tests: a project whose `.env` a real `atmn login` wrote,
the real `atmn` run in it, and questions put to the real stand-in about keys."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from dotenv import dotenv_values

from security.hostile_backend import HostileBackend
from support.atmn_cli import clean_env, run_atmn
from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

#: What the project's `.env` holds besides the keys: it must come back byte for byte.
OTHER_LINES = b"# my app\nDATABASE_URL=postgres://localhost/app\nexport MODE='dev'\n"
WHOLE_KEY = re.compile(r"am_sk_(?:test|live)_[A-Za-z0-9]{42}")


@dataclass
class Project:
    """A project directory and the environment `atmn` runs in there."""

    dir: Path
    home: Path
    backend_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def env_file(self) -> Path:
        return self.dir / ".env"

    def keys(self) -> dict[str, str | None]:
        return dict(dotenv_values(self.env_file))

    def atmn(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The real `atmn` in the project, standard input closed and output captured."""
        result = run_atmn(list(args), cwd=self.dir, env={**self.env, **extra})
        assert "Traceback" not in result.stderr, result.stderr
        return result


def new_project(
    tmp_path: Path, server: AutumnServer, *, backend_url: str | None = None, org: str = "acme"
) -> Project:
    """A project whose `.env` holds other settings, and whose `atmn` signs in through the
    scripted browser (approving `org`)."""
    directory, home = tmp_path / "project", tmp_path / "home"
    directory.mkdir(parents=True)
    home.mkdir(parents=True)
    url = backend_url or server.url
    env = clean_env(home, ATMN_BACKEND_URL=url, **browser_env(server, org=org))
    (directory / ".env").write_bytes(OTHER_LINES)
    (directory / ".env").chmod(0o600)  # as login would want it: private
    return Project(directory, home, url, env)


def logged_in(tmp_path: Path, server: AutumnServer, **options: Any) -> Project:
    """`new_project`, then a real `atmn login` into its `.env`."""
    project = new_project(tmp_path, server, **options)
    login = project.atmn("login", "--org", "acme")
    assert login.returncode == 0, login.stderr
    return project


def me_status(server_url: str, key: str) -> int:
    """What the server answers to `GET /v1/organization/me` with `key` (200: it works)."""
    return httpx2.get(
        f"{server_url}/v1/organization/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).status_code


def assert_rotation_undone(
    server_url: str, project: Project, before: bytes, old: Iterable[str | None], new: Iterable[str]
) -> None:
    """A failed rotation left nothing behind: the file holds its old bytes, every `old`
    key still works, every `new` one was revoked."""
    assert project.env_file.read_bytes() == before
    for key in old:
        assert me_status(server_url, key or "") == 200
    for key in new:
        assert me_status(server_url, key) == 401


def server_keys(server: AutumnServer) -> list[dict[str, Any]]:
    """Every key the stand-in ever minted (the admin's view: names, revoked or not)."""
    result = server.admin("keys", "list", "--json", check=True)
    keys: list[dict[str, Any]] = json.loads(result.stdout)
    return keys


def backdate(server: AutumnServer, key: str, days: float) -> None:
    """Makes the stand-in's record of `key` `days` older, as if minted that long ago."""
    conn = sqlite3.connect(server.data_dir / "autumn-local.db", timeout=10)
    try:
        with conn:
            conn.execute(
                "UPDATE api_keys SET created_at = created_at - ? WHERE last4 = ? AND prefix = ?",
                (days * 86400, key[-4:], key[:-42]),
            )
    finally:
        conn.close()


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `atmn: error:` line a failed command printed last on stderr."""
    ours = [line for line in result.stderr.splitlines() if not line.startswith("scripted browser")]
    assert ours and ours[-1].startswith("atmn: error: "), result.stderr
    return ours[-1].removeprefix("atmn: error: ")


def no_whole_key(*texts: str) -> bool:
    return not any(WHOLE_KEY.search(text) for text in texts)


KEYS = ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY")


def minted_through(proxy: HostileBackend) -> list[str]:
    """The keys the stand-in minted for requests that went through the proxy."""
    found = []
    for request in proxy.seen("POST", "/cli/api-keys"):
        answer = json.loads(request.answer or b"{}")
        found += [answer[name] for name in ("sandbox_key", "prod_key") if name in answer]
    return found
