"""The network a user actually has: proxies from the environment, the operating
system's certificate store, and a cap on how much of an answer is read.

`NetworkTransport` routes each request directly or through the proxy the environment
names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, lowercase first, as curl and
urllib read them); loopback is never proxied. TLS trusts exactly `SSL_CERT_FILE` /
`SSL_CERT_DIR` when either is set, else the operating system's store through
`truststore` (as pip does), so a corporate CA installed on the machine just works.
Certificate checks cannot be turned off. The TLS context is only built for the first
`https` request: a command that talks to `http://localhost` loads no CA store.

`preconnect` opens one more direct TCP connection to a host while other requests are
under way (`Preconnecting`, httpcore's network backend), so that two requests that must
then go at once (login's grant revocation beside its `/v1/organization/me`) do not wait
for a handshake.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import httpx2

from atmn_auth.errors import BodyTooLarge, UsageError
from atmn_auth.settings import is_loopback_host

if TYPE_CHECKING:
    import ssl

MAX_BODY_BYTES = 1 << 20  # 1 MiB: no legitimate answer of the contract comes close
PROXY_SCHEMES = ("http", "https", "all", "no")


def proxies_from(environ: Mapping[str, str]) -> dict[str, str]:
    """`{"https": url, "http": url, "all": url, "no": hosts}` from `environ`, as urllib
    reads them: `https_proxy` before `HTTPS_PROXY`; empty values are unset."""
    proxies: dict[str, str] = {}
    for scheme in PROXY_SCHEMES:
        value = environ.get(f"{scheme}_proxy") or environ.get(f"{scheme.upper()}_PROXY") or ""
        if value.strip():
            proxies[scheme] = value.strip()
    return proxies


def proxy_for(url: httpx2.URL, proxies: Mapping[str, str]) -> str | None:
    """The proxy URL for a request to `url`, or None to connect directly."""
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

    host = url.host
    if is_loopback_host(host):
        return None
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    no_proxy = proxies.get("no")
    if no_proxy:
        netloc = f"{host}:{url.port}" if url.port else host
        if proxy_bypass_environment(netloc, {"no": no_proxy}):
            return None
    return proxy if "://" in proxy else f"http://{proxy}"


def shown_proxy(proxy: str) -> str:
    """A proxy URL without the user name and password it may carry."""
    from atmn_auth.text import printable

    scheme, sep, rest = proxy.rpartition("://")
    return printable(f"{scheme}{sep}{rest.rpartition('@')[2]}", 100)


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """The CAs to trust: `SSL_CERT_FILE`/`SSL_CERT_DIR` when set, else the system's."""
    import ssl

    cafile = environ.get("SSL_CERT_FILE", "").strip() or None
    capath = environ.get("SSL_CERT_DIR", "").strip() or None
    if cafile or capath:
        try:
            return ssl.create_default_context(cafile=cafile, capath=capath)
        except (OSError, ssl.SSLError) as exc:
            which = f"SSL_CERT_FILE={cafile}" if cafile else f"SSL_CERT_DIR={capath}"
            reason = getattr(exc, "strerror", None) or exc
            raise UsageError(f"cannot load the CA certificates of {which}: {reason}") from None
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Network:
    """What the sync and async transports share: the environment's proxies (never for
    loopback) and the CAs to trust."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        self._proxies = proxies_from(environ)
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def proxy_for(self, url: httpx2.URL) -> str | None:
        return proxy_for(url, self._proxies)

    def _via(self, proxy: str | None) -> httpx2.Proxy | None:
        if proxy is None:
            return None
        try:
            secure = proxy.startswith("https:")
            return httpx2.Proxy(url=proxy, ssl_context=self._context(True) if secure else None)
        except (ValueError, httpx2.InvalidURL) as exc:
            shown = shown_proxy(proxy)
            raise UsageError(
                f"the proxy {shown} set in the environment is not usable: {exc}"
            ) from None

    def _context(self, tls: bool) -> ssl.SSLContext:
        import ssl

        if not tls:  # never used for TLS: verification on, and no CA to trust
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self._tls is None:
            self._tls = tls_context(self._environ)
        return self._tls


class NetworkTransport(_Network, httpx2.BaseTransport):
    """Direct or proxied, TLS from the system's store; one connection pool per route."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(environ)
        self._routes: dict[tuple[str | None, bool], httpx2.HTTPTransport] = {}
        self._backends: dict[bool, Preconnecting] = {}

    def preconnect(self, url: httpx2.URL, timeout: float) -> None:
        """Starts opening a TCP connection to `url`'s host for the next request that needs
        a new one; nothing when `url` goes through a proxy."""
        if self.proxy_for(url) is not None:
            return
        tls = url.scheme == "https"
        self._route(None, tls)
        backend = self._backends.get(tls)
        if backend is not None:
            context = self._context(True) if tls else None
            backend.preconnect(url.host, url.port or (443 if tls else 80), timeout, context)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        proxy = self.proxy_for(request.url)
        tls = request.url.scheme == "https" or (proxy or "").startswith("https:")
        return self._route(proxy, tls).handle_request(request)

    def _route(self, proxy: str | None, tls: bool) -> httpx2.HTTPTransport:
        with self._lock:
            route = self._routes.get((proxy, tls))
            if route is None:
                route = self._new_route(proxy, tls)
                self._routes[(proxy, tls)] = route
            return route

    def _new_route(self, proxy: str | None, tls: bool) -> httpx2.HTTPTransport:
        via = self._via(proxy)
        transport = httpx2.HTTPTransport(verify=self._context(tls), proxy=via, trust_env=False)
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if via is None and inner is not None:  # direct: the pool may use a preconnection
            backend = Preconnecting(inner)
            pool._network_backend = backend  # type: ignore[union-attr]
            self._backends[tls] = backend
        return transport

    def close(self) -> None:
        with self._lock:
            routes, self._routes = list(self._routes.values()), {}
            backends, self._backends = list(self._backends.values()), {}
        for route in routes:
            route.close()
        for backend in backends:
            backend.close()


class AsyncNetworkTransport(_Network, httpx2.AsyncBaseTransport):
    """`NetworkTransport` for asyncio: the same routes, proxies and CAs."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(environ)
        self._routes: dict[tuple[str | None, bool], httpx2.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        proxy = self.proxy_for(request.url)
        tls = request.url.scheme == "https" or (proxy or "").startswith("https:")
        with self._lock:
            route = self._routes.get((proxy, tls))
            if route is None:
                verify = self._context(tls)
                route = httpx2.AsyncHTTPTransport(
                    verify=verify, proxy=self._via(proxy), trust_env=False
                )
                self._routes[(proxy, tls)] = route
        return await route.handle_async_request(request)

    async def aclose(self) -> None:
        with self._lock:
            routes, self._routes = list(self._routes.values()), {}
        for route in routes:
            await route.aclose()


class Preconnecting:
    """httpcore's network backend, but a connection opened ahead of need (`preconnect`,
    its TLS handshake included) is handed to the next new connection to the same host
    and port."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._ready: dict[tuple[str, int], list[Future[Any]]] = {}

    def preconnect(
        self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None
    ) -> None:
        future: Future[Any] = Future()

        def connect() -> None:
            try:
                stream = self._inner.connect_tcp(host, port, timeout, None, [])
                if tls is not None:
                    try:
                        stream = _Established(stream.start_tls(tls, host, timeout), host)
                    except BaseException:
                        stream.close()
                        raise
                future.set_result(stream)
            except BaseException as exc:  # the request that needs it connects anew
                future.set_exception(exc)

        with self._lock:
            self._ready.setdefault((host, port), []).append(future)
        threading.Thread(target=connect, name="atmn-preconnect", daemon=True).start()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> Any:
        with self._lock:
            waiting = self._ready.get((host, port))
            pending = waiting.pop(0) if waiting else None
        if pending is not None and local_address is None and not socket_options:
            try:
                return pending.result(timeout)
            except Exception:  # noqa: S110 - it failed or is too slow: connect as usual
                pass
        return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        return self._inner.connect_unix_socket(*args, **kwargs)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def close(self) -> None:
        """Closes the connections opened ahead and never used."""
        with self._lock:
            pending = [f for futures in self._ready.values() for f in futures]
            self._ready = {}
        for future in pending:
            if future.done() and future.exception() is None:
                future.result().close()


class _Established:
    """A stream whose TLS handshake was done ahead (for `host`, with the route's context):
    the pool's own `start_tls` for the same host gets it as it is."""

    def __init__(self, stream: Any, host: str) -> None:
        self._stream = stream
        self._host = host

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return bytes(self._stream.read(max_bytes, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: Any = None
    ) -> Any:
        if server_hostname not in (None, self._host):  # pragma: no cover - never asked
            raise RuntimeError("a preconnected stream was offered to another host")
        return self._stream

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, host: str, status: int) -> None:
        self._inner, self._host, self._status = inner, host, status

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > MAX_BODY_BYTES:
                raise BodyTooLarge(
                    f"{self._host} sent an answer over {MAX_BODY_BYTES} bytes; refusing to read it",
                    status=self._status,
                )
            yield chunk

    def close(self) -> None:
        self._inner.close()


class CappedTransport(httpx2.BaseTransport):
    """Wraps a transport so that no answer streams in past `MAX_BODY_BYTES`.

    `close()` closes the wrapped transport only when `owns` is true, so that a second
    client (authlib's) can borrow the session's connections without closing them.
    """

    def __init__(self, inner: httpx2.BaseTransport, *, owns: bool = True) -> None:
        self.inner = inner
        self._owns = owns

    def borrowed(self) -> CappedTransport:
        return CappedTransport(self.inner, owns=False)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        stream = response.stream
        assert isinstance(stream, httpx2.SyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(stream, request.url.host, response.status_code),
            extensions=response.extensions,
        )

    def close(self) -> None:
        if self._owns:
            self.inner.close()
