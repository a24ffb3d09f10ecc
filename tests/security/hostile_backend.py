"""A real HTTP server on loopback that speaks the Autumn contract and misbehaves on demand.

By default it is a small, correct Autumn backend: OAuth metadata with an issuer, an
authorize endpoint that at once redirects to the client's redirect URI with a code, the
state and `iss` (no pages: the "user" always approves), a token endpoint that checks the
PKCE verifier, organizations, minting, `/v1/organization/me` and revocation. Every request
is recorded, and so is every secret it hands out, so tests can look for them elsewhere.

Any route can be replaced: `backend.on("POST", "/cli/api-keys", json_reply(200, {...}))`.
With `upstream=` it is instead a recording reverse proxy in front of another server (the
real stand-in), still with overridable routes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2

AUTHORIZE = "/api/auth/oauth2/authorize"
TOKEN = "/api/auth/oauth2/token"
REVOKE = "/api/auth/oauth2/revoke"
METADATA = "/.well-known/oauth-authorization-server"
_HOP_BY_HOP = ("content-length", "transfer-encoding", "connection", "content-encoding")


def random_key(kind: str) -> str:
    alphabet = string.ascii_letters + string.digits
    prefix = "am_sk_test_" if kind == "sandbox" else "am_sk_live_"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(42))


@dataclass
class Recorded:
    """One request as the server saw it, and the answer's body when it was proxied."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    answer: bytes = b""

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(errors="replace"), keep_blank_values=True))


Behaviour = Callable[["_Handler", Recorded], None]


# --------------------------------------------------------------------------- behaviours


def raw_reply(status: int, body: bytes, content_type: str, **headers: str) -> Behaviour:
    def reply(handler: _Handler, _: Recorded) -> None:
        handler.answer(status, body, {"Content-Type": content_type, **headers})

    return reply


def json_reply(status: int, data: Any) -> Behaviour:
    return raw_reply(status, json.dumps(data).encode(), "application/json")


def redirect_to(location: str, status: int = 302) -> Behaviour:
    return raw_reply(status, b"", "text/plain", Location=location)


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Says nothing for `seconds` (or until the server stops), then behaves like `then`."""

    def reply(handler: _Handler, request: Recorded) -> None:
        if handler.backend.stopping.wait(seconds) or then is None:
            return
        then(handler, request)

    return reply


def endless_json(total: int) -> Behaviour:
    """A 200 whose JSON body is `total` bytes, sent without a Content-Length."""

    def reply(handler: _Handler, _: Recorded) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b" " * 65536
        handler.wfile.write(b'{"padding": "')
        sent = 0
        try:
            while sent < total and not handler.backend.stopping.is_set():
                handler.wfile.write(chunk)
                sent += len(chunk)
            handler.wfile.write(b'"}')
        except OSError:
            pass  # the client hung up, as it should

    return reply


# --------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    @property
    def backend(self) -> HostileBackend:
        return self.server.backend

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        recorded = Recorded(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.backend.requests.append(recorded)
        behaviour = self.backend.routes.get((self.command, path))
        if behaviour is None:
            behaviour = self.backend.fallback
        behaviour(self, recorded)

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def answer(
        self, status: int, body: bytes, headers: dict[str, str] | list[tuple[str, str]]
    ) -> None:
        items = list(headers.items()) if isinstance(headers, dict) else headers
        try:
            self.send_response(status)
            for name, value in items:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, backend: HostileBackend) -> None:
        self.backend = backend
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class Handed:
    """Every secret the server gave out or was sent."""

    codes: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # access, refresh, access, ...
    keys: list[str] = field(default_factory=list)
    verifiers: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.codes, *self.tokens, *self.keys, *self.verifiers]

    @property
    def refresh_tokens(self) -> list[str]:
        """Revoking one revokes its whole grant, access token included (RFC 7009 §2.1)."""
        return self.tokens[1::2]


class HostileBackend:
    """Use as a context manager; `.url` is its base URL on 127.0.0.1."""

    def __init__(self, *, upstream: str | None = None, org_slug: str = "acme") -> None:
        self.upstream = upstream
        self.requests: list[Recorded] = []
        self.handed = Handed()
        self.revoked_keys: list[str] = []
        self.revoked_tokens: list[str] = []
        self.stopping = threading.Event()
        self._challenges: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.org = {"id": f"org_{org_slug}", "name": org_slug.title(), "slug": org_slug}
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url
        self.routes: dict[tuple[str, str], Behaviour] = {}
        if upstream is None:
            self.routes.update(
                {
                    ("GET", METADATA): self._metadata,
                    ("GET", AUTHORIZE): self._authorize,
                    ("POST", TOKEN): self._token,
                    ("POST", REVOKE): self._revoke_token,
                    ("GET", "/cli/organizations"): self._organizations,
                    ("POST", "/cli/api-keys"): self.mint,
                    ("GET", "/v1/organization/me"): self._me,
                    ("DELETE", "/cli/api-keys/current"): self._revoke_key,
                }
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> HostileBackend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def on(self, method: str, path: str, behaviour: Behaviour) -> HostileBackend:
        self.routes[(method, path)] = behaviour
        return self

    def seen(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- the well-behaved contract ----------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url + AUTHORIZE,
            "token_endpoint": self.url + TOKEN,
            "revocation_endpoint": self.url + REVOKE,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            # the extensions (contract §X) it serves: §2 organizations, §5 revocation
            "atmn_extensions": ["organizations", "mint_org_id", "key_revocation"],
        }

    def _metadata(self, handler: _Handler, _: Recorded) -> None:
        json_reply(200, self.metadata())(handler, _)

    def authorization_redirect(self, request: Recorded, **extra: str) -> str:
        """Where the authorize endpoint sends the browser: a fresh code, the state, `iss`."""
        code = secrets.token_urlsafe(32)
        self.handed.codes.append(code)
        redirect_uri = request.query.get("redirect_uri", "")
        self._challenges[code] = (request.query.get("code_challenge", ""), redirect_uri)
        params = {"code": code, "state": request.query.get("state", ""), "iss": self.issuer}
        params.update(extra)
        return f"{redirect_uri}?{urlencode(params)}"

    def _authorize(self, handler: _Handler, request: Recorded) -> None:
        redirect_to(self.authorization_redirect(request))(handler, request)

    def check_token_request(self, request: Recorded) -> str | None:
        """The error of a token request, or None when code, verifier and redirect URI match."""
        form = request.form
        verifier = form.get("code_verifier", "")
        self.handed.verifiers.append(verifier)
        expected = self._challenges.pop(form.get("code", ""), None)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if expected is None or expected != (challenge, form.get("redirect_uri")):
            return "invalid_grant"
        return None

    def _token(self, handler: _Handler, request: Recorded) -> None:
        error = self.check_token_request(request)
        if error:
            json_reply(400, {"error": error})(handler, request)
            return
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.handed.tokens += [access, refresh]
        body = {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "apiKeys:create",
        }
        json_reply(200, body)(handler, request)

    def _revoke_token(self, handler: _Handler, request: Recorded) -> None:
        self.revoked_tokens.append(request.form.get("token", ""))
        raw_reply(200, b"", "text/plain")(handler, request)

    def _organizations(self, handler: _Handler, request: Recorded) -> None:
        json_reply(200, {"list": [self.org]})(handler, request)

    def mint(self, handler: _Handler, request: Recorded) -> None:
        """The correct answer to `POST /cli/api-keys`: two fresh, well-formed keys."""
        sandbox, live = random_key("sandbox"), random_key("live")
        self.handed.keys += [sandbox, live]
        body = {"sandbox_key": sandbox, "prod_key": live, "org_id": self.org["id"]}
        json_reply(200, body)(handler, request)

    def _me(self, handler: _Handler, request: Recorded) -> None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key not in self.handed.keys or key in self.revoked_keys:
            json_reply(401, {"message": "Invalid secret key", "code": "invalid_secret_key"})(
                handler, request
            )
            return
        env = "sandbox" if key.startswith("am_sk_test_") else "live"
        json_reply(200, {**self.org, "env": env})(handler, request)

    def _revoke_key(self, handler: _Handler, request: Recorded) -> None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.revoked_keys.append(key)
        raw_reply(204, b"", "text/plain")(handler, request)

    # --- proxy mode -----------------------------------------------------------------------

    def fallback(self, handler: _Handler, request: Recorded) -> None:
        if self.upstream is None:
            json_reply(404, {"message": "not found"})(handler, request)
            return
        upstream = urlsplit(self.upstream)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in ("host", "content-length", "connection", "accept-encoding")
        }
        with httpx2.Client(follow_redirects=False, timeout=10) as client:
            response = client.request(
                request.method, self.upstream + handler.path, headers=headers, content=request.body
            )
        content = response.content
        if request.path == METADATA and response.status_code == 200:
            # the endpoints (not the issuer) move to the proxy, so their traffic is seen too
            meta = response.json()
            for name, value in meta.items():
                if name.endswith("_endpoint") and isinstance(value, str):
                    meta[name] = self.url + urlsplit(value).path
            content = json.dumps(meta).encode()
        request.answer = content
        origin = f"{upstream.scheme}://{upstream.netloc}"
        out: list[tuple[str, str]] = []
        for name, value in response.headers.multi_items():
            if name.lower() in (
                "content-length",
                "transfer-encoding",
                "connection",
                "content-encoding",
            ):
                continue
            if name.lower() == "location" and value.startswith(origin):
                value = self.url + value[len(origin) :]
            out.append((name, value))
        handler.answer(response.status_code, content, out)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
