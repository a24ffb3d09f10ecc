"""The one place that builds HTTP clients for talking to an Autumn backend.

Every request has a timeout, never follows a redirect (a redirect to another host
must not carry a bearer token or a code anywhere), and caps how much of a response
body it will read.
"""

from __future__ import annotations

import functools
import math
import os
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from atmn_auth import __version__
from atmn_auth.errors import AtmnError, UsageError

if TYPE_CHECKING:
    import ssl

    import httpx2

USER_AGENT = f"atmn-auth/{__version__}"
DEFAULT_TIMEOUT = 10.0
MAX_BODY_BYTES = 1 << 20  # 1 MiB: no legitimate answer of the contract comes close
TIMEOUT_ENV = "ATMN_HTTP_TIMEOUT"


def effective_timeout(timeout: float) -> float:
    """`timeout`, or the seconds in `ATMN_HTTP_TIMEOUT` when set (for slow links, and tests)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return timeout
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {raw!r}")
    return seconds


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA store (tens of ms)."""
    import httpx2

    return httpx2.create_ssl_context()


def make_client(base_url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> httpx2.Client:
    import httpx2

    kwargs.setdefault("verify", tls_context())
    return httpx2.Client(
        base_url=base_url,
        timeout=httpx2.Timeout(effective_timeout(timeout)),
        follow_redirects=False,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "identity",  # the body cap then counts what is decoded
        },
        trust_env=False,
        **kwargs,
    )


class BackendError(AtmnError):
    """The server answered, but not as the contract says; `status` is its HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(BackendError):
    """An answer over `MAX_BODY_BYTES`: refused while it streams in, never held whole."""


def capped_transport() -> httpx2.BaseTransport:
    """An HTTP transport whose answers stop streaming past `MAX_BODY_BYTES`.

    For clients built elsewhere (authlib's OAuth client) that read bodies themselves.
    """
    import httpx2

    class _CappedStream(httpx2.SyncByteStream):
        def __init__(self, inner: httpx2.SyncByteStream, host: str, status: int) -> None:
            self._inner, self._host, self._status = inner, host, status

        def __iter__(self) -> Iterator[bytes]:
            seen = 0
            for chunk in self._inner:
                seen += len(chunk)
                if seen > MAX_BODY_BYTES:
                    raise BodyTooLarge(
                        f"{self._host} sent an answer over {MAX_BODY_BYTES} bytes; "
                        "refusing to read it",
                        status=self._status,
                    )
                yield chunk

        def close(self) -> None:
            self._inner.close()

    class _CappedTransport(httpx2.HTTPTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            response = super().handle_request(request)
            assert isinstance(response.stream, httpx2.SyncByteStream)
            return httpx2.Response(
                status_code=response.status_code,
                headers=response.headers,
                stream=_CappedStream(response.stream, request.url.host, response.status_code),
                extensions=response.extensions,
            )

    return _CappedTransport(verify=tls_context(), trust_env=False)


class BackendUnreachable(AtmnError):
    """No answer: connection refused, DNS failure or timeout (`timed_out` tells which)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def send(client: httpx2.Client, method: str, url: str, **kwargs: Any) -> httpx2.Response:
    """Sends one request, reading at most `MAX_BODY_BYTES` of the answer.

    Network failures become `BackendUnreachable` with a one-line message.
    """
    import httpx2

    try:
        request = client.build_request(method, url, **kwargs)
        response = client.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BODY_BYTES:
                    raise BackendError(
                        f"{request.url.host} sent an answer over {MAX_BODY_BYTES} bytes; "
                        "refusing to read it",
                        status=response.status_code,
                    )
        finally:
            response.close()
    except httpx2.TimeoutException as exc:
        raise BackendUnreachable(
            f"{_where(client, url)} did not answer in time ({type(exc).__name__})",
            timed_out=True,
        ) from None
    except httpx2.TransportError as exc:
        raise BackendUnreachable(f"cannot reach {_where(client, url)}: {exc}") from None
    return httpx2.Response(
        status_code=response.status_code,
        headers=response.headers,
        content=bytes(body),
        request=request,
    )


def _where(client: httpx2.Client, url: str) -> str:
    try:
        full = client.build_request("GET", url).url
        return f"{full.scheme}://{full.netloc.decode()}"
    except Exception:
        return url


def json_object(response: httpx2.Response, what: str) -> dict[str, Any]:
    """The body as a JSON object, or a one-line `BackendError` saying what came instead."""
    try:
        data = response.json()
    except ValueError:
        ctype = printable(response.headers.get("content-type", ""), 60) or "unknown type"
        raise BackendError(
            f"{what}: the server answered HTTP {response.status_code} with {ctype}, not JSON",
            status=response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise BackendError(
            f"{what}: the server answered with JSON that is not an object",
            status=response.status_code,
        )
    return data


def printable(text: str, limit: int = 300) -> str:
    """`text` from a server made safe for a terminal: one line, no control characters.

    Escape sequences could recolour, retitle or rewrite the terminal, and a newline or a
    bidi override could forge lines of our own output.
    """
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if unicodedata.category(ch)[0] != "C" or ch.isspace()
    )
    return " ".join(kept.split())[:limit]


def server_message(response: httpx2.Response) -> str:
    """The server's own `message` (contract §3), else a short description of the answer."""
    status = response.status_code
    if 300 <= status < 400:
        where = printable(response.headers.get("location", ""), 100) or "nowhere"
        return f"HTTP {status}, a redirect to {where} (not followed)"
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        msg = data.get("message") or data.get("error_description") or data.get("error")
        if isinstance(msg, str) and printable(msg):
            return printable(msg)
    return f"HTTP {status}"
