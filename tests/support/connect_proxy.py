"""A small forward proxy on 127.0.0.1 for tests: `CONNECT` tunnels and absolute-form HTTP.

    with ConnectProxy(hosts={"autumn.test": "127.0.0.1"}) as proxy:
        env["HTTPS_PROXY"] = proxy.url          # http://127.0.0.1:PORT
        ...
        assert proxy.seen() == [("CONNECT", "autumn.test:8443")]

- `CONNECT host:port` answers `200 Connection established` and relays bytes both ways
  until either side closes (TLS stays end to end: the proxy never sees inside it).
- `GET http://host:port/path HTTP/1.1` (absolute form, what a client sends a proxy for
  plain HTTP) is forwarded in origin form with `Connection: close`, and the answer is
  relayed back with `Connection: close`: one request per proxy connection.
- Names are resolved by the proxy, through `hosts` (a fake name such as `autumn.test` maps
  to 127.0.0.1); IP literals and `localhost` are used as they are; any other name gets
  `502` and is never looked up, so a test can never reach the real network.
- `seen()` is what it was asked for, as `(method, "host:port")` pairs, in order. Paths and
  query strings (codes, states, tokens) are never recorded.

Bounded: every socket has a timeout, an idle tunnel is closed after `idle_timeout`
seconds, and `stop()` (or leaving the `with`) closes the listener and every connection.
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import ssl
import threading
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import urlsplit

HEAD_LIMIT = 64 * 1024
IO_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0
CHUNK = 64 * 1024


class ThreadedListener:
    """A listening socket on 127.0.0.1 with one daemon thread per accepted connection.

    Subclasses implement `handle(conn)`; every socket they open goes through `track()` so
    that `stop()` can close it.
    """

    name = "listener"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port = 0
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._accept_thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> ThreadedListener:
        if self._listener is not None:
            raise RuntimeError(f"{self.name} already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._requested_port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._stopping.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"{self.name}:{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
            self._accept_thread = None
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
            threads = list(self._threads)
            self._threads.clear()
        for sock in sockets:
            _close(sock)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> ThreadedListener:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- connections --------------------------------------------------------------------

    def track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            if self._stopping.is_set():
                _close(sock)
                raise OSError(f"{self.name} is stopping")
            self._sockets.add(sock)
        return sock

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close(sock)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT)
            try:
                self.track(conn)
            except OSError:
                return
            thread = threading.Thread(
                target=self._serve, args=(conn,), name=f"{self.name}-conn", daemon=True
            )
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, ValueError):
            pass  # a peer went away, a timeout, or stop() closed the socket under us
        finally:
            self.untrack(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _recv(sock: socket.socket) -> bytes:
    """One read; for a TLS socket, also what it already decrypted and holds (select misses it)."""
    data = sock.recv(CHUNK)
    if data and isinstance(sock, ssl.SSLSocket):
        while sock.pending():
            more = sock.recv(CHUNK)
            if not more:
                break
            data += more
    return data


def relay(
    a: socket.socket,
    b: socket.socket,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    stopping: threading.Event | None = None,
) -> None:
    """Copy bytes both ways until one side closes, nothing moves for `idle_timeout`, or stop.

    When one side closes its sending half, the other side's sending half is shut too (a
    half-close is passed on), and the relay ends once both directions have finished.
    """
    peers = {a: b, b: a}
    open_reads = {a, b}
    idle = 0.0
    with selectors.DefaultSelector() as selector:
        for sock in open_reads:
            selector.register(sock, selectors.EVENT_READ)
        while open_reads:
            if stopping is not None and stopping.is_set():
                return
            # A TLS socket may hold decrypted bytes that select() cannot see.
            ready = [s for s in open_reads if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                events = selector.select(timeout=0.5)
                ready = [key.fileobj for key, _ in events]  # type: ignore[misc]
                if not ready:
                    idle += 0.5
                    if idle >= idle_timeout:
                        return
                    continue
            idle = 0.0
            for sock in ready:
                try:
                    data = _recv(sock)
                except ssl.SSLWantReadError:
                    continue
                except OSError:
                    return
                if not data:
                    open_reads.discard(sock)
                    selector.unregister(sock)
                    with contextlib.suppress(OSError):
                        peers[sock].shutdown(socket.SHUT_WR)
                    if isinstance(sock, ssl.SSLSocket) or isinstance(peers[sock], ssl.SSLSocket):
                        return  # TLS has no half-close worth keeping: end the relay
                    continue
                peers[sock].sendall(data)


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the end of an HTTP head; returns (head without the blank line, extra bytes)."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > HEAD_LIMIT:
            raise ValueError("head too long")
        data = _recv(sock)
        if not data:
            raise ValueError("connection closed before the end of the head")
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(f"//{authority}")
    host = parts.hostname or ""
    port = parts.port or default_port
    return host, port


class ConnectProxy(ThreadedListener):
    """See the module docstring. `url` is http://127.0.0.1:PORT once started."""

    name = "connect-proxy"

    def __init__(
        self,
        hosts: Mapping[str, str] | None = None,
        *,
        port: int = 0,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        super().__init__(port=port)
        self.hosts = {name.lower(): address for name, address in (hosts or {}).items()}
        self.idle_timeout = idle_timeout
        self._log: list[tuple[str, str]] = []

    def start(self) -> ConnectProxy:
        super().start()
        return self

    def __enter__(self) -> ConnectProxy:
        return self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self) -> list[tuple[str, str]]:
        """What clients asked for, as (method, "host:port"), in order."""
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def _record(self, method: str, target: str) -> None:
        with self._lock:
            self._log.append((method, target))

    def resolve(self, host: str) -> str | None:
        """The address to connect to for `host`, or None when the proxy will not look it up."""
        name = host.strip("[]").lower()
        if name in self.hosts:
            return self.hosts[name]
        if name == "localhost":
            return "127.0.0.1"
        try:
            return str(ipaddress.ip_address(name))
        except ValueError:
            return None

    def _connect(self, host: str, port: int) -> socket.socket | None:
        address = self.resolve(host)
        if address is None:
            return None
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        upstream = socket.socket(family, socket.SOCK_STREAM)
        upstream.settimeout(IO_TIMEOUT)
        self.track(upstream)
        try:
            upstream.connect((address, port))
        except OSError:
            self.untrack(upstream)
            return None
        return upstream

    def handle(self, conn: socket.socket) -> None:
        head, rest = read_head(conn)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3:
            self._record("?", "-")
            conn.sendall(_status(400, "Bad Request"))
            return
        method, target, version = parts
        if method.upper() == "CONNECT":
            self._tunnel(conn, target, rest)
        elif target.lower().startswith("http://"):
            self._forward(conn, method, target, version, header_lines, rest)
        else:
            # Origin form, or https:// in absolute form: not something a proxy client sends.
            self._record(method, "-")
            conn.sendall(_status(400, "Bad Request"))

    def _tunnel(self, conn: socket.socket, authority: str, rest: bytes) -> None:
        host, port = _split_authority(authority, 443)
        self._record("CONNECT", _authority(host, port))
        upstream = self._connect(host, port)
        if upstream is None:
            conn.sendall(_status(502, "Bad Gateway"))
            return
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:  # a client that did not wait for the 200 (rare): pass its bytes on
                upstream.sendall(rest)
            relay(conn, upstream, idle_timeout=self.idle_timeout, stopping=self._stopping)
        finally:
            self.untrack(upstream)

    def _forward(
        self,
        conn: socket.socket,
        method: str,
        target: str,
        version: str,
        header_lines: list[str],
        rest: bytes,
    ) -> None:
        parts = urlsplit(target)
        host, port = parts.hostname or "", parts.port or 80
        self._record(method.upper(), _authority(host, port))
        upstream = self._connect(host, port)
        if upstream is None:
            conn.sendall(_status(502, "Bad Gateway"))
            return
        try:
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            kept = [
                line
                for line in header_lines
                if line.split(":", 1)[0].strip().lower()
                not in ("connection", "proxy-connection", "proxy-authorization", "keep-alive")
            ]
            if not any(line.lower().startswith("host:") for line in kept):
                kept.append(f"Host: {parts.netloc}")
            kept.append("Connection: close")
            request = "\r\n".join([f"{method} {path} {version}", *kept]) + "\r\n\r\n"
            upstream.sendall(request.encode("latin-1") + rest)
            # The answer's head gets `Connection: close` too: one request per connection,
            # so the client never sends a second request (maybe for another host) down it.
            response_head, response_rest = read_head(upstream)
            status_line, *response_headers = response_head.decode("latin-1").split("\r\n")
            response_headers = [
                line
                for line in response_headers
                if line.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")
            ]
            response_headers.append("Connection: close")
            out = "\r\n".join([status_line, *response_headers]) + "\r\n\r\n"
            conn.sendall(out.encode("latin-1") + response_rest)
            relay(conn, upstream, idle_timeout=self.idle_timeout, stopping=self._stopping)
        finally:
            self.untrack(upstream)


def _authority(host: str, port: int) -> str:
    host = host.lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _status(code: int, reason: str) -> bytes:
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").encode(
        "ascii"
    )
