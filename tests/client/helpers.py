"""A signed-in project against the stand-in, a browser that approves, and small loopback APIs."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

from atmn_auth.api.session import Session
from atmn_auth.auth.login import LoginOptions, log_in
from atmn_auth.auth.recovery import FreshKeys, LoginReauthenticator, RejectedKey
from atmn_auth.envfiles.reader import read_env
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR
from atmn_auth.settings import Settings, load_settings
from atmn_auth.term.console import Console
from support import scripted_browser
from support.autumn_server import AutumnServer, revoke_key


class ScriptedOpener:
    """Stands in for `open_in_browser`: a person who signs in and approves in the browser.

    Each call drives the sign-in pages in a thread (the callback server is waiting),
    like a browser window would.
    """

    def __init__(
        self, server: AutumnServer, *, org: str | None = None, action: str = "approve"
    ) -> None:
        self.server = server
        self.org = org
        self.action = action
        self.opened: list[str] = []
        self.failures: list[BaseException] = []

    def __call__(self, url: str) -> bool:
        self.opened.append(url)

        def browse() -> None:
            try:
                scripted_browser.run(
                    url,
                    email=self.server.email,
                    password=self.server.password,
                    org=self.org,
                    action=self.action,
                )
            except BaseException as exc:  # surfaced by the test through .failures
                self.failures.append(exc)

        threading.Thread(target=browse, name="scripted-browser", daemon=True).start()
        return True


class PickOrganization:
    """A person answering the organization menu by slug."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.asked = 0

    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        self.asked += 1
        for title, value in choices:
            if f"({self.slug})" in title or title == self.slug:
                return value
        raise AssertionError(f"{self.slug} not offered in {choices}")

    def confirm(self, message: str, default: bool) -> bool:
        return True


@dataclass
class Project:
    """A project directory whose `.env` holds keys minted by the stand-in for `acme`."""

    server: AutumnServer
    root: Path
    environ: dict[str, str]
    lines: list[str] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def settings(self) -> Settings:
        return load_settings(prod=False, local=False, environ=self.environ)

    def keys(self) -> dict[str, str | None]:
        values = read_env(self.env_file)
        return {SANDBOX_VAR: values.get(SANDBOX_VAR), LIVE_VAR: values.get(LIVE_VAR)}

    def sign_ins(self) -> int:
        return self.server.stats()["authorizations_granted"]

    def revoke_keys(self) -> None:
        """Revokes both keys in `.env` on the server (as a rotation in the dashboard would)."""
        for key in self.keys().values():
            assert key is not None
            assert revoke_key(self.server.url, key) == "revoked"

    def console(self, opener: ScriptedOpener | None = None, *, prompter: Any = None) -> Console:
        return Console(
            info=self.lines.append,
            interactive=prompter is not None,
            prompter=prompter,
            opener=opener or ScriptedOpener(self.server),
        )

    def reauthenticator(
        self, opener: ScriptedOpener | None = None, *, prompter: Any = None
    ) -> LoginReauthenticator:
        """The real re-authenticator, as on a terminal, with a browser that approves."""
        return LoginReauthenticator(
            cwd=self.root,
            environ=self.environ,
            interactive=True,
            console=self.console(opener, prompter=prompter),
            timeout=20,
        )

    def organization_of(self, key: str | None) -> httpx2.Response:
        return httpx2.get(
            f"{self.server.url}/v1/organization/me", headers={"Authorization": f"Bearer {key}"}
        )


def sign_in_project(server: AutumnServer, root: Path, *, org: str = "acme") -> Project:
    """`atmn login --org acme` into `root/.env`, through the real flow."""
    root.mkdir(parents=True, exist_ok=True)
    # BROWSER marks a browser as available without a display; the opener is what runs.
    environ = {"ATMN_BACKEND_URL": server.url, "BROWSER": "scripted"}
    project = Project(server=server, root=root, environ=environ)
    with Session(environ) as session:
        log_in(
            project.settings,
            cwd=root,
            environ=environ,
            options=LoginOptions(org=org, timeout=20),
            console=project.console(),
            session=session,
        )
    project.lines.clear()
    return project


class SignInElsewhere:
    """Signs in against `settings` (the stand-in) whatever backend the client talks to."""

    def __init__(self, inner: LoginReauthenticator, settings: Settings) -> None:
        self.inner = inner
        self.settings = settings
        self.calls = 0

    def unavailable_reason(self) -> str | None:
        return self.inner.unavailable_reason()

    def sign_in(self, rejected: RejectedKey) -> FreshKeys:
        self.calls += 1
        return self.inner.sign_in(replace(rejected, settings=self.settings))

    def info(self, message: str) -> None:
        self.inner.info(message)


class NeverSignIn:
    """A re-authenticator that records being asked; for answers that must not trigger one."""

    def __init__(self) -> None:
        self.calls = 0

    def unavailable_reason(self) -> str | None:
        return None

    def sign_in(self, rejected: RejectedKey) -> FreshKeys:
        self.calls += 1
        raise AssertionError(f"a sign-in was started for {rejected!r}")

    def info(self, message: str) -> None:
        return None


# ------------------------------------------------------------------------ loopback servers


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: bytes
    content_type: str | None


#: `(status, json)` or `(status, json, extra headers)`.
Handler = Callable[[Seen], tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]]


class LoopbackApi:
    """A tiny JSON API on 127.0.0.1: `handler(seen) -> (status, json)`; records every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                seen = Seen(
                    self.command,
                    self.path,
                    self.headers.get("Authorization"),
                    body,
                    self.headers.get("Content-Type"),
                )
                api.seen.append(seen)
                status, payload, *extra = api.handler(seen)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _read_chunked(self) -> bytes:
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def echo_api(server: AutumnServer) -> Iterator[LoopbackApi]:
    """An API whose keys are the stand-in's: every /v1 call is authorized by asking the
    stand-in about the presented key, and POST /v1/echo answers with the body it got."""

    def handle(seen: Seen) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": seen.authorization or ""}
        me = httpx2.get(f"{server.url}/v1/organization/me", headers=headers)
        if seen.path == "/v1/organization/me" or me.status_code != 200:
            return me.status_code, me.json()
        return 200, {
            "method": seen.method,
            "body": seen.body.decode("utf-8", "replace"),
            "content_type": seen.content_type,
        }

    with LoopbackApi(handle) as api:
        yield api
