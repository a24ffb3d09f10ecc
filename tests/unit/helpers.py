"""A scripted Autumn for the unit tests: `httpx2.MockTransport` under a real `Session`.

`Backend` answers by (method, path) and records every request it saw, so a test can
assert what was sent and, as much, what never was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx2

from atmn_auth.api.metadata import EXTENSIONS
from atmn_auth.api.session import Session

Reply = Callable[[httpx2.Request], httpx2.Response]

SANDBOX_KEY = "am_sk_test_" + "S1" * 21
LIVE_KEY = "am_sk_live_" + "L2" * 21
OTHER_SANDBOX_KEY = "am_sk_test_" + "O3" * 21
OTHER_LIVE_KEY = "am_sk_live_" + "P4" * 21
ACME = {"id": "org_acme", "name": "Acme", "slug": "acme", "env": "sandbox"}


def reply(status: int = 200, json: Any = None, **kwargs: Any) -> Reply:
    """A fresh response for every request (a response's stream is read once)."""

    def make(request: httpx2.Request) -> httpx2.Response:
        if json is not None:
            return httpx2.Response(status, json=json, **kwargs)
        return httpx2.Response(status, **kwargs)

    return make


def raises(error: type[httpx2.TransportError], message: str = "boom") -> Reply:
    def make(request: httpx2.Request) -> httpx2.Response:
        raise error(message, request=request)

    return make


METADATA = ("GET", "/.well-known/oauth-authorization-server")


class Backend:
    """Routes `(method, path)` to replies (404 for anything else); records requests.

    Its RFC 8414 metadata advertises `extensions` (§X; all of them by default, as the
    stand-in's full profile; empty as hosted Autumn; None: no metadata at all) unless a
    route replaces it; metadata requests are counted in `metadata_requests`, not in
    `requests`."""

    def __init__(
        self,
        routes: Mapping[tuple[str, str], Reply] | None = None,
        *,
        extensions: Iterable[str] | None = EXTENSIONS,
    ) -> None:
        self.routes: dict[tuple[str, str], Reply] = dict(routes or {})
        self.requests: list[httpx2.Request] = []
        self.metadata_requests: list[httpx2.Request] = []
        self.extensions = None if extensions is None else list(extensions)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        key = (request.method, request.url.path)
        if key == METADATA and key not in self.routes and self.extensions is not None:
            self.metadata_requests.append(request)
            return httpx2.Response(200, json={"atmn_extensions": self.extensions})
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx2.Response(404, json={"message": "Not found"})
        return route(request)

    def session(self, environ: Mapping[str, str] | None = None) -> Session:
        return Session(dict(environ or {}), transport=httpx2.MockTransport(self))

    def sent(self, secret: str) -> bool:
        """Whether `secret` went out anywhere: URL, any header or the body."""
        for request in self.requests:
            seen = [str(request.url), request.content.decode("utf-8", "replace")]
            seen += [f"{name}: {value}" for name, value in request.headers.items()]
            if any(secret in part for part in seen):
                return True
        return False

    def bearers(self) -> list[str]:
        return [r.headers.get("authorization", "") for r in self.requests]


def one_line(message: str) -> bool:
    return "\n" not in message and "\r" not in message and "Traceback" not in message
