"""Running the stand-in: a threaded werkzeug server, in this process or as `autumn-local serve`.

Connections are kept alive as a hosted API's are (HTTP/1.1): werkzeug's own handler answers
every request with `Connection: close`, so the handler here writes responses itself. A
connection is closed when the client asks (`Connection: close`, or HTTP/1.0 without
`keep-alive`), when a request body cannot be skipped cheaply (chunked, or more than
DRAIN_LIMIT bytes left unread), when it has been idle for KEEPALIVE_TIMEOUT seconds, and
when the server stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from . import store
from .config import (
    DEFAULT_ACCESS_TOKEN_TTL,
    DEFAULT_CODE_TTL,
    DEFAULT_HOST,
    HOSTED_ACCESS_TOKEN_TTL,
    HOSTED_CODE_TTL,
    HOSTED_ISSUER_PATH,
    Limits,
    ServerConfig,
)
from .db import connect
from .logsafe import printable, printable_block, wsgi_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

LogFn = Callable[[str], None]


def print_line(line: str) -> None:
    print(line, flush=True)


#: Seconds a kept-alive connection may sit idle between requests (as many load balancers
#: do); it is also the limit on any single read or write stalling on a connection.
KEEPALIVE_TIMEOUT = 75.0
#: A request body the app left unread is read and dropped, to keep the connection, up to
#: this many bytes; a longer one closes the connection instead.
DRAIN_LIMIT = 64 * 1024
#: Seconds `server_close()` waits for requests in progress to finish.
CLOSE_GRACE = 1.0
#: The environ key holding the number of the TCP connection a request came on (1, 2, ...).
CONNECTION_KEY = "autumn_local.connection"

_DROPPED = (ConnectionError, TimeoutError)


class _RequestBody(io.RawIOBase):
    """`wsgi.input` for a request with a Content-Length: it never reads past the body (the
    next request on the connection follows it) and counts what is left unread."""

    def __init__(self, stream: io.BufferedIOBase, length: int) -> None:
        super().__init__()
        self._stream = stream
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        with memoryview(buffer) as view:
            count = self._stream.readinto(view[: self.remaining]) or 0
        self.remaining -= count
        if count == 0:
            self.remaining = 0  # the client went away mid-body
        return count

    def skip_rest(self) -> bool:
        """Read and drop what the app did not read; False when the client went away."""
        while self.remaining > 0:
            if not self.read(min(self.remaining, 16 * 1024)):
                return False
        return True


class KeepAliveWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server that numbers the connections it accepts and, when closed,
    ends the kept-alive ones instead of leaving their threads waiting for a next request."""

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        self._lock = threading.Condition()
        self._connections: dict[socket.socket, int] = {}
        self._accepted = 0
        self.closing = False
        super().__init__(host, port, app, QuietRequestHandler)

    def track(self, connection: socket.socket) -> int:
        """Registers an accepted connection and returns its number."""
        with self._lock:
            self._accepted += 1
            self._connections[connection] = self._accepted
            if self.closing:  # accepted just before the listener closed
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
            return self._accepted

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.pop(connection, None)
            self._lock.notify_all()

    def server_close(self) -> None:
        """Stops listening, ends every open connection once its response (if any) is out,
        and waits up to CLOSE_GRACE seconds for them to go."""
        with self._lock:
            already_closing, self.closing = self.closing, True
        super().server_close()
        if already_closing:
            return
        with self._lock:
            for connection in self._connections:
                # The handler waiting for a next request line reads end-of-file and hangs
                # up; one busy with a request finishes it (sent with `Connection: close`).
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
            self._lock.wait_for(lambda: not self._connections, timeout=CLOSE_GRACE)


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its request log line (it shows the query string), keeping
    HTTP/1.1 connections alive: see the module docstring."""

    server: KeepAliveWSGIServer
    protocol_version = "HTTP/1.1"
    timeout = KEEPALIVE_TIMEOUT
    # Headers and body leave in one write (a buffered wfile flushed once per body chunk),
    # and without Nagle's algorithm holding back the last small segment of a response.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    connection_number = 0

    def setup(self) -> None:
        super().setup()
        self.connection_number = self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # an idle kept-alive connection reaching KEEPALIVE_TIMEOUT: routine
        # http.server's messages can quote the raw request line: keep only the format.
        self.log("error", format.split("%")[0].strip() or "error")

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[CONNECTION_KEY] = self.connection_number
        if not environ.get("wsgi.input_terminated"):  # not chunked
            length = environ.get("CONTENT_LENGTH", "").strip()
            if not length:
                environ["wsgi.input"] = _RequestBody(self.rfile, 0)
            elif length.isdigit():
                environ["wsgi.input"] = _RequestBody(self.rfile, int(length))
        return environ

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        self.environ = environ = self.make_environ()
        body = environ["wsgi.input"]
        if not isinstance(body, _RequestBody):
            self.close_connection = True  # chunked or unframed: no safe next request
        response = _Response(self, environ)
        try:
            response.run(self.server.app)
        except _DROPPED as exc:
            self.close_connection = True
            self.connection_dropped(exc, environ)
            return
        except Exception as exc:
            if self.server.passthrough_errors:
                raise
            self.close_connection = True
            if not response.head_sent:
                response.reset()
                with contextlib.suppress(Exception):
                    response.run(InternalServerError())
            from werkzeug.debug.tbtools import DebugTraceback

            trace = DebugTraceback(exc).render_traceback_text()
            self.server.log("error", f"Error on request:\n{printable_block(trace)}")
            return
        if not self.close_connection and isinstance(body, _RequestBody):
            try:
                if not body.skip_rest():
                    self.close_connection = True
            except (OSError, ValueError):
                self.close_connection = True


class _Response:
    """One response written by hand: werkzeug's `write`/`start_response` pair, but the
    connection stays open when the response is framed (Content-Length or chunked)."""

    def __init__(self, handler: QuietRequestHandler, environ: WSGIEnvironment) -> None:
        self.handler = handler
        self.environ = environ
        self.status: str | None = None
        self.headers: list[tuple[str, str]] | None = None
        self.head_sent = False
        self.chunked = False

    def reset(self) -> None:
        self.status = self.headers = None

    def run(self, app: WSGIApplication) -> None:
        chunks = app(self.environ, self.start_response)
        try:
            for data in chunks:
                self.write(data)
            if not self.head_sent:
                self.write(b"")
            if self.chunked:
                self.handler.wfile.write(b"0\r\n\r\n")
            self.handler.wfile.flush()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.headers is not None:
            raise AssertionError("Headers already set")
        self.status, self.headers = status, headers
        return self.write

    def write(self, data: bytes) -> None:
        assert isinstance(data, bytes), "applications must write bytes"
        wfile = self.handler.wfile
        if not self.head_sent:
            self._send_head()
        if data:
            if self.chunked:
                wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                wfile.write(data)
            wfile.flush()

    def _send_head(self) -> None:
        assert self.status is not None and self.headers is not None, "write() before start_response"
        handler = self.handler
        code_text, _, reason = self.status.partition(" ")
        code = int(code_text)
        handler.send_response(code, reason)
        names = set()
        for name, value in self.headers:
            handler.send_header(name, value)
            names.add(name.lower())
        bodyless = (
            self.environ["REQUEST_METHOD"] == "HEAD" or 100 <= code < 200 or code in (204, 304)
        )
        if "content-length" not in names and not bodyless:
            if handler.request_version >= "HTTP/1.1":
                self.chunked = True
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.close_connection = True  # the body ends where the connection does
        body = self.environ["wsgi.input"]
        if isinstance(body, _RequestBody) and body.remaining > DRAIN_LIMIT:
            handler.close_connection = True
        if handler.server.closing:
            handler.close_connection = True
        if handler.close_connection:
            handler.send_header("Connection", "close")
        else:
            handler.send_header("Connection", "keep-alive")
            handler.send_header("Keep-Alive", f"timeout={KEEPALIVE_TIMEOUT:g}")
        handler.end_headers()
        self.head_sent = True


class RequestLog:
    """WSGI middleware: one line per request with method, path (no query), status, time and
    the number of the TCP connection it came on: `GET /healthz 200 0.4ms conn=3`. Control
    characters in the method and path are escaped (`logsafe`)."""

    def __init__(self, app: WSGIApplication, log: LogFn) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["500"]

        def recording_start_response(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        def write_line() -> None:
            ms = (time.perf_counter() - started) * 1000
            # Both chosen by whoever sent the request (any web page can make a browser
            # send one): escaped, so that they cannot reach the console as control codes.
            method = wsgi_text(environ.get("REQUEST_METHOD", "-"))
            path = wsgi_text(environ.get("PATH_INFO", "") or "/")
            conn = environ.get(CONNECTION_KEY)
            suffix = f" conn={conn}" if conn is not None else ""
            self.log(f"{method} {path} {printable(status[0])} {ms:.1f}ms{suffix}")

        try:
            return self.app(environ, recording_start_response)
        finally:
            # Written before the body goes out (Flask bodies are already built), so the line
            # is in the log by the time the client has the response.
            write_line()


class _Dispatcher:
    """The WSGI app the server starts with; the real app comes once the port (issuer) is known."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class RunningServer:
    """A server bound to its port. `serve_forever()` blocks; `start()` runs it in a thread."""

    url: str
    port: int
    host: str
    issuer: str
    data_dir: Path
    demo: store.DemoAccount
    config: ServerConfig
    wsgi_server: BaseWSGIServer
    thread: threading.Thread | None = None

    @property
    def email(self) -> str:
        return self.demo.email

    @property
    def password(self) -> str:
        return self.demo.password

    def serve_forever(self) -> None:
        self.wsgi_server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        if self.thread is not None:
            self.wsgi_server.shutdown()
            self.thread.join(timeout=5)
            self.thread = None
        self.wsgi_server.server_close()

    def banner(self) -> str:
        return (
            f"autumn-local serving {self.config.backend_url} (listening on {self.url}) - "
            f"sign in as {self.demo.email} with password {self.demo.password}"
        )

    def profile_line(self) -> str | None:
        """The line saying the hosted profile is on (None on the full profile)."""
        if not self.config.hosted:
            return None
        return (
            f"hosted profile: answering as hosted Autumn does (issuer {self.issuer};"
            " no extensions, no device flow, no refresh tokens)"
        )


#: glibc's `mallopt` parameter for the size from which allocations are mmap'ed.
_M_MMAP_THRESHOLD = -3


def return_large_blocks_to_the_system() -> bool:
    """Ask glibc to serve every allocation of 1 MiB or more (a password hash's 16 MiB) with
    its own mmap, handed back to the system when freed. Without this, glibc raises that
    threshold after the first such block is freed, and later ones stay in the heaps of the
    threads that used them: memory then grows with the number of threads. False where there
    is no glibc (nothing else changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20))
    except (OSError, AttributeError):
        return False


def build(
    data_dir: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    issuer: str | None = None,
    code_ttl: float | None = None,
    access_token_ttl: int | None = None,
    disabled: Iterable[str] = (),
    hosted: bool = False,
    log: LogFn = print_line,
    **limits: Unpack[Limits],
) -> RunningServer:
    """Seed the data directory, bind the port and assemble the app (not yet serving).

    `issuer` is the backend URL (default `http://localhost:PORT`); the hosted profile's
    OAuth issuer is that plus `/api/auth`, as hosted Autumn's is. Lifetimes left None are
    the profile's: 60 s codes and 15 min tokens, or hosted Autumn's 600 s and 1 h. `limits`
    (device flow lifetimes, throttles) left out are `ServerConfig`'s defaults.
    """
    from .app import create_app  # flask and authlib: loaded here, not by admin commands

    return_large_blocks_to_the_system()
    data_dir = Path(data_dir)
    conn = connect(data_dir)
    try:
        demo = store.seed(conn)
        secret_key = store.get_or_create_setting(conn, "session_secret", secrets.token_hex(32))
    finally:
        conn.close()

    dispatcher = _Dispatcher()
    wsgi_server = KeepAliveWSGIServer(host, port, dispatcher)
    bound_port = int(wsgi_server.port)
    url_host = f"[{host}]" if ":" in host else host
    base_url = (issuer or f"http://localhost:{bound_port}").rstrip("/")
    if code_ttl is None:
        code_ttl = HOSTED_CODE_TTL if hosted else DEFAULT_CODE_TTL
    if access_token_ttl is None:
        access_token_ttl = HOSTED_ACCESS_TOKEN_TTL if hosted else DEFAULT_ACCESS_TOKEN_TTL
    cfg = ServerConfig(
        data_dir=data_dir,
        issuer=base_url + HOSTED_ISSUER_PATH if hosted else base_url,
        base_url=base_url,
        hosted=hosted,
        code_ttl=code_ttl,
        access_token_ttl=access_token_ttl,
        disabled=frozenset(disabled),
        **limits,
    )
    app = create_app(cfg, secret_key=secret_key, cookie_name=f"autumn_local_{bound_port}")
    dispatcher.app = RequestLog(app, log)
    return RunningServer(
        url=f"http://{url_host}:{bound_port}",
        port=bound_port,
        host=host,
        issuer=cfg.issuer,
        data_dir=data_dir,
        demo=demo,
        config=cfg,
        wsgi_server=wsgi_server,
    )


def start(data_dir: Path, *, port: int = 0, **options: Any) -> RunningServer:
    """Start a server in a background thread of this process (for tests and embedding)."""
    options.setdefault("log", lambda line: print(line, file=sys.stderr, flush=True))
    running = build(data_dir, port=port, **options)
    thread = threading.Thread(
        target=running.serve_forever, name=f"autumn-local:{running.port}", daemon=True
    )
    running.thread = thread
    thread.start()
    return running
