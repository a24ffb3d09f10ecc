"""Helpers for tests/profiles: the real `atmn` in a project directory, against the stand-in
on either profile (the full one, or hosted Autumn's answers, contract §H), what the person
is shown, and what the server says about keys afterwards.

No helper here ever prints a whole key or puts one in an assertion message: keys are
compared by value in plain booleans and shown only redacted (`am_sk_test_…Ab12`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from dotenv import dotenv_values

from security.hostile_backend import HostileBackend, Recorded
from support.atmn_cli import ATMN, clean_env
from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

SANDBOX_VAR = "AUTUMN_SECRET_KEY"
LIVE_VAR = "AUTUMN_PROD_SECRET_KEY"
WHOLE_KEY = re.compile(r"am_sk_(?:test|live)_[A-Za-z0-9]{42}")
#: What the project's `.env` holds besides the keys.
OTHER_LINES = b"# my app\nDATABASE_URL=postgres://localhost/app\n"

SANDBOX_PAGE = "https://app.useautumn.com/sandbox/dev?tab=api_keys"
LIVE_PAGE = "https://app.useautumn.com/dev?tab=api_keys"
APPS_PAGE = "https://app.useautumn.com/settings?tab=apps"

SCOPES_LINE = (
    "The keys may use: customers, features, plans, rewards, apiKeys (read, write); "
    "organisation (read)."
)
NOTE_LINE = (
    "Note: Autumn refuses `check`, `track`, `attach` with keys minted here (they get no "
    "balances or billing scopes). For those, create a key in the dashboard "
    f"({SANDBOX_PAGE}) and run `atmn login --with-key`."
)
NEXT_LINE = "Next: `atmn env` shows the key in force; your code reads AUTUMN_SECRET_KEY."
PAIRING = re.compile(
    r"^Pairing code: [A-Z2-7]{4}-[A-Z2-7]{4} \(the consent page shows the same\)\.$"
)


class KeyMap(dict[str, str | None]):
    """Variable -> key; shown redacted (pytest shows the arguments of a failed assertion)."""

    def __repr__(self) -> str:
        return repr({var: redact(key) if key else key for var, key in self.items()})


class KeyList(list[str]):
    """Keys, shown redacted."""

    def __repr__(self) -> str:
        return repr([redact(key) for key in self])


def redact(key: str | None) -> str:
    """`am_sk_test_…Ab12`, as atmn shows a key."""
    assert key is not None
    return f"{key[:11]}…{key[-4:]}"


def user_label(server: AutumnServer) -> str:
    """How atmn names the demo user: the stand-in's user name (the email's local part)
    and the email."""
    return f"{server.email.partition('@')[0]} <{server.email}>"


def keys_page(key: str | None) -> str:
    assert key is not None
    return LIVE_PAGE if key.startswith("am_sk_live_") else SANDBOX_PAGE


def still_work_block(backend: str, keys: Iterable[str | None], what: str) -> list[str]:
    """The warning a server that cannot revoke gets (stderr): why, one line per key, and
    the Authorized Apps line."""
    lines = [
        f"! Warning: {backend} cannot revoke keys from the command line, so {what} still work:"
    ]
    lines += [
        f"!   {redact(key)}: delete it in the Autumn dashboard: {keys_page(key)}" for key in keys
    ]
    lines.append(
        "!   or, to delete every key atmn minted for the organization at once, revoke atmn "
        f"under Authorized Apps: {APPS_PAGE} (owners and admins)."
    )
    return lines


def not_offered_line(backend: str, *, live: bool = False) -> str:
    """`atmn keys` on a server without §7: the one error line."""
    page = LIVE_PAGE if live else SANDBOX_PAGE
    return (
        f"atmn: error: {backend} does not offer listing, naming or revoking keys from the "
        f"command line (`atmn keys`); manage them in the Autumn dashboard: {page}"
    )


# ------------------------------------------------------------------------------ the server


def organization_me(server_url: str, key: str | None) -> httpx2.Response:
    """`GET /v1/organization/me` with `key`: 200 when the server accepts it."""
    return httpx2.get(
        f"{server_url}/v1/organization/me",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def slugs(server_url: str, keys: Iterable[str | None]) -> list[str | None]:
    """For each key, the slug of the organization the server accepts it for, or None."""
    return [works_for(server_url, key) for key in keys]


def works_for(server_url: str, key: str | None) -> str | None:
    """The slug of the organization the server accepts `key` for, or None (rejected)."""
    response = organization_me(server_url, key)
    if response.status_code != 200:
        assert response.status_code == 401, response.status_code
        return None
    return str(response.json()["slug"])


def revoke_on_server(server: AutumnServer, key: str | None) -> None:
    """Deletes `key` as Autumn's dashboard would (the stand-in's admin command), whatever
    the profile: hosted Autumn cannot be asked to from the command line."""
    assert key is not None
    result = server.admin("keys", "revoke", "--last4", key[-4:])
    assert result.returncode == 0, result.stderr
    gone = works_for(server.url, key) is None
    assert gone


class RecordingProxy(HostileBackend):
    """The recording proxy of tests/security in front of the stand-in, that also keeps the
    status of each answer and where a redirect sent the browser."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream=upstream)
        self.answers: dict[int, tuple[int, str]] = {}  # id(request) -> (status, location)

    def fallback(self, handler: Any, request: Recorded) -> None:
        answers = self.answers
        original = type(handler).answer

        def answer(status: int, body: bytes, headers: Any) -> None:
            items = headers.items() if isinstance(headers, dict) else headers
            location = next((v for k, v in items if k.lower() == "location"), "")
            answers[id(request)] = (status, location)
            original(handler, status, body, headers)

        handler.answer = answer
        try:
            super().fallback(handler, request)
        finally:
            del handler.answer

    def status(self, request: Recorded) -> int:
        return self.answers[id(request)][0]

    def callback_index(self) -> int:
        """The index of the request the server answered by sending the browser back to
        the CLI's loopback redirect URI with a code (the consent page's approval)."""
        for i, request in enumerate(self.requests):
            location = self.answers.get(id(request), (0, ""))[1]
            if location.startswith("http://localhost:3144") and "code=" in location:
                return i
        raise AssertionError(f"no request was answered with the callback: {self.summary()}")

    def after_callback(self) -> list[Recorded]:
        return self.requests[self.callback_index() + 1 :]

    def failed(self, requests: Iterable[Recorded]) -> list[str]:
        """`METHOD /path -> status` for each of `requests` answered 400 or more."""
        return [
            f"{r.method} {r.path} -> {self.status(r)}" for r in requests if self.status(r) >= 400
        ]

    def cli_routes_but_mint(self) -> list[str]:
        """Requests to /cli/* other than the mint (hosted Autumn answers them all 401)."""
        return [
            f"{r.method} {r.path}"
            for r in self.requests
            if r.path.startswith("/cli/") and (r.method, r.path) != ("POST", "/cli/api-keys")
        ]

    def minted(self) -> KeyList:
        """The keys the server minted through this proxy, in order (sandbox, live, …)."""
        found = KeyList()
        for request in self.seen("POST", "/cli/api-keys"):
            answer = json.loads(request.answer or b"{}")
            found += [answer[name] for name in ("sandbox_key", "prod_key") if name in answer]
        return found

    def summary(self) -> list[str]:
        return [
            f"{r.method} {r.path} -> {self.answers.get(id(r), (None, ''))[0]}"
            for r in self.requests
        ]


# ------------------------------------------------------------------------------ the project


@dataclass
class Project:
    """A project directory, its private HOME, and the environment `atmn` runs in there."""

    dir: Path
    home: Path
    server: AutumnServer
    env: dict[str, str] = field(default_factory=dict)

    @property
    def env_file(self) -> Path:
        return self.dir / ".env"

    @property
    def backend(self) -> str:
        return self.env["ATMN_BACKEND_URL"]

    @property
    def browser_log(self) -> Path:
        return self.home / "browser.log"

    def keys(self) -> KeyMap:
        values = dotenv_values(self.env_file)
        return KeyMap({SANDBOX_VAR: values.get(SANDBOX_VAR), LIVE_VAR: values.get(LIVE_VAR)})

    def working(self) -> list[str | None]:
        """For each key in the `.env` (sandbox, live), the organization the server accepts
        it for, or None."""
        return slugs(self.server.url, self.keys().values())

    def atmn(
        self, *args: str, input: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """The real `atmn` in the project; standard input closed unless `input` is given."""
        result = subprocess.run(
            [ATMN, *args],
            cwd=self.dir,
            env={**self.env, **extra},
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


def new_project(
    tmp_path: Path, server: AutumnServer, *, backend_url: str | None = None, org: str = "acme"
) -> Project:
    """A project whose `.env` holds other settings (private, as login wants it), and whose
    `atmn` signs in through the scripted browser, which approves `org` (always named: the
    consent page's default is the organization last chosen on the shared server)."""
    directory, home = tmp_path / "project", tmp_path / "home"
    directory.mkdir(parents=True)
    home.mkdir(parents=True)
    (directory / ".env").write_bytes(OTHER_LINES)
    (directory / ".env").chmod(0o600)
    project = Project(directory, home, server)
    python_dir = str(Path(sys.executable).parent)
    project.env = clean_env(
        home,
        ATMN_BACKEND_URL=backend_url or server.url,
        **browser_env(server, org=org, log=str(project.browser_log)),
    )
    project.env["PATH"] = f"{python_dir}:{project.env['PATH']}"
    return project


def logged_in(
    tmp_path: Path, server: AutumnServer, *args: str, backend_url: str | None = None
) -> Project:
    """`new_project`, then a real `atmn login` (with `args`) into its `.env`."""
    project = new_project(tmp_path, server, backend_url=backend_url)
    login = project.atmn("login", *args)
    assert login.returncode == 0, login.stderr
    return project


def ours(stderr: str) -> list[str]:
    """atmn's own lines on stderr (the scripted browser shares it)."""
    return [line for line in stderr.splitlines() if not line.startswith("scripted browser")]


def no_whole_key(*texts: str) -> bool:
    return not any(WHOLE_KEY.search(text) for text in texts)


def login_stdout(
    server: AutumnServer,
    project: Project,
    *,
    verb: str = "Updated",
    replaced: Iterable[str] = (),
    who: bool = True,
) -> list[str]:
    """What `atmn login` prints on stdout for the keys now in the project's `.env`."""
    keys = project.keys()
    by = f" as {user_label(server)}" if who else ""
    return [
        f"✓ Signed in to Acme (acme){by}.",
        f"{verb} {project.env_file}:",
        f"  AUTUMN_SECRET_KEY        {redact(keys[SANDBOX_VAR])}  (sandbox)",
        f"  AUTUMN_PROD_SECRET_KEY   {redact(keys[LIVE_VAR])}  (live)",
        SCOPES_LINE,
        *replaced,
        NOTE_LINE,
        NEXT_LINE,
    ]
