"""One HTTP session per command: every call to Autumn goes through it.

A `Session` holds one `httpx2.Client` (and so one pool of kept-alive connections) over
`NetworkTransport` (proxies, the system's CAs) and the size cap. Every request has a
timeout, never follows a redirect (a redirect to another host must not carry a bearer
token or a code anywhere), asks for uncompressed answers (so the cap counts what is
read) and comes back read whole, or as one of the errors in `atmn_auth.errors` with a
one-line message. authlib's OAuth client borrows the same connections
(`oauth2_client`). `submit` runs a call in the background, so independent calls can
overlap with other work (the OAuth discovery while the person is in the browser, the
token revocation while `.env` is written).

Tests pass `transport=httpx2.MockTransport(handler)` to decide what the server says.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

import httpx2

from atmn_auth._version import __version__
from atmn_auth.api.transport import CappedTransport, NetworkTransport, shown_proxy
from atmn_auth.errors import (
    AtmnError,
    BackendError,
    BackendUnreachable,
    TLSVerificationError,
    UsageError,
)
from atmn_auth.settings import DEFAULT_TIMEOUT, INSECURE_HTTP_VAR, flag_set, is_loopback_host
from atmn_auth.text import printable

USER_AGENT = f"atmn-auth/{__version__}"
TIMEOUT_ENV = "ATMN_HTTP_TIMEOUT"
T = TypeVar("T")


def timeout_override(environ: Mapping[str, str]) -> float | None:
    """The seconds in `ATMN_HTTP_TIMEOUT` (for slow links, and tests), or None when unset."""
    raw = environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {raw!r}")
    return seconds


class Session:
    """The HTTP client of one command. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self.environ = environ
        self._override = timeout_override(environ)
        self.timeout = self._override or timeout
        self.allow_insecure_http = flag_set(environ, INSECURE_HTTP_VAR)
        self.transport = CappedTransport(transport or NetworkTransport(environ))
        self._client: httpx2.Client | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # --- the client ------------------------------------------------------------------------

    @property
    def client(self) -> httpx2.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx2.Client(
                    transport=self.transport,
                    timeout=httpx2.Timeout(self.timeout),
                    follow_redirects=False,
                    headers=self.headers(),
                    trust_env=False,
                )
            return self._client

    @staticmethod
    def headers() -> dict[str, str]:
        return {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "identity",  # the body cap then counts what is decoded
        }

    def timeout_for(self, seconds: float | None) -> float:
        """`seconds` for one call (a best-effort one may wait less), unless
        `ATMN_HTTP_TIMEOUT` says otherwise."""
        return self._override or seconds or self.timeout

    def oauth2_client(self, **kwargs: Any) -> Any:
        """authlib's `OAuth2Client` on this session's connections (closing it leaves them)."""
        from authlib.integrations.httpx_client import OAuth2Client

        return OAuth2Client(
            timeout=httpx2.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
            transport=self.transport.borrowed(),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            **kwargs,
        )

    # --- requests --------------------------------------------------------------------------

    def request(
        self, method: str, url: str, *, timeout: float | None = None, **kwargs: Any
    ) -> httpx2.Response:
        """Sends one request and reads its answer whole (at most the size cap).

        Network failures become `BackendUnreachable` (`TLSVerificationError` for a
        certificate that cannot be verified), each with a one-line message naming the host.
        """
        self.check_url(url)
        client = self.client
        try:
            request = client.build_request(method, url, timeout=self.timeout_for(timeout), **kwargs)
        except httpx2.InvalidURL as exc:
            raise UsageError(f"not a usable URL: {printable(str(exc), 120)}") from None
        with self.translate_errors(request.url):
            response = client.send(request, stream=True)
            try:
                response.read()
            finally:
                response.close()
        return response

    def check_url(self, url: str) -> None:
        """Refuses plain http to anything but this machine (unless the user allowed it)."""
        try:
            parsed = httpx2.URL(url)
        except httpx2.InvalidURL as exc:
            raise UsageError(
                f"not a usable URL ({printable(str(exc), 80)}): {printable(url, 120)}"
            ) from None
        local = is_loopback_host(parsed.host)
        if parsed.scheme == "http" and not local and not self.allow_insecure_http:
            raise UsageError(
                f"refusing to send keys or tokens unencrypted to {origin(parsed)}: use "
                f"https://, or set {INSECURE_HTTP_VAR}=1 if you must"
            )

    def translate_errors(self, url: httpx2.URL) -> _Translated:
        return _Translated(self, url)

    # --- overlapping work ------------------------------------------------------------------

    def preconnect(self, url: str) -> None:
        """Starts opening one more connection to `url`'s host, for two requests that will
        go at once (none through a proxy, or with a test's transport)."""
        inner = self.transport.inner
        if isinstance(inner, NetworkTransport):
            try:
                inner.preconnect(httpx2.URL(url), self.timeout)
            except (httpx2.InvalidURL, UsageError):
                return

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Runs `call` in a background thread now; its result (or error) is in the future."""
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to whoever waits for it
                future.set_exception(exc)

        thread = threading.Thread(target=run, name="atmn-session", daemon=True)
        self._threads.append(thread)
        thread.start()
        return future

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=self.timeout)
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        self.transport.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def origin(url: httpx2.URL) -> str:
    """`host:port` of `url` (the port the scheme implies when none is given)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{port}"


class _Translated:
    """`with session.translate_errors(url):` turns httpx2's network errors into ours."""

    def __init__(self, session: Session, url: httpx2.URL) -> None:
        self._session = session
        self._url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, AtmnError):
            return
        where = origin(self._url)
        if isinstance(exc, httpx2.TimeoutException):
            raise BackendUnreachable(
                f"{where} did not answer in time ({type(exc).__name__})", timed_out=True
            ) from None
        if isinstance(exc, httpx2.ProxyError):
            proxy = self._session.transport.inner
            via = proxy.proxy_for(self._url) if isinstance(proxy, NetworkTransport) else None
            shown = f" {shown_proxy(via)}" if via else ""
            raise BackendUnreachable(
                f"the proxy{shown} would not connect to {where}: {_reason(exc)}"
            ) from None
        if isinstance(exc, httpx2.TransportError):
            if _is_certificate_failure(exc):
                raise TLSVerificationError(
                    f"cannot verify the TLS certificate of {where} ({_reason(exc)}); if your "
                    "network inspects TLS, point atmn at its CA: SSL_CERT_FILE=/path/to/ca.pem"
                ) from None
            raise BackendUnreachable(
                f"cannot reach {where} ({_reason(exc)}). {_next_step(self._url)}"
            ) from None
        if isinstance(exc, httpx2.InvalidURL):
            raise UsageError(f"not a usable URL: {printable(str(exc), 120)}") from None


def _next_step(url: httpx2.URL) -> str:
    """What to do when nothing answers at `url`."""
    if is_loopback_host(url.host):
        return "Is autumn-local running? Start it with `autumn-local serve`."
    return "Check your connection; behind a proxy, set HTTPS_PROXY."


def _is_certificate_failure(exc: BaseException) -> bool:
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    """The innermost cause of a network error in words (`[Errno 111] ...` made plainer)."""
    import ssl

    seen: BaseException = exc
    while (inner := seen.__cause__ or seen.__context__) is not None:
        seen = inner
    if isinstance(seen, ssl.SSLCertVerificationError) and seen.verify_message:
        return printable(seen.verify_message, 120)
    if isinstance(seen, OSError) and seen.strerror:
        return printable(seen.strerror.lower(), 120)
    return printable(str(seen) or str(exc) or type(exc).__name__, 160)


# --- reading answers ------------------------------------------------------------------------


def json_object(response: httpx2.Response, what: str) -> dict[str, Any]:
    """The body as a JSON object, or a one-line `BackendError` saying what came instead."""
    try:
        data = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
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


def server_message(response: httpx2.Response) -> str:
    """The server's own `message` (contract §3), else a short description of the answer."""
    status = response.status_code
    if 300 <= status < 400:
        where = printable(response.headers.get("location", ""), 100) or "nowhere"
        return f"HTTP {status}, a redirect to {where} (not followed)"
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        msg = data.get("message") or data.get("error_description") or data.get("error")
        if isinstance(msg, str) and printable(msg):
            return printable(msg)
    return f"HTTP {status}"
