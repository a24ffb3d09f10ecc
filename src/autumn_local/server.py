"""Running the stand-in: a threaded werkzeug server, in this process or as `autumn-local serve`."""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import store
from .config import DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_CODE_TTL, DEFAULT_HOST, ServerConfig
from .db import connect

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

LogFn = Callable[[str], None]


def print_line(line: str) -> None:
    print(line, flush=True)


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its request log line (it shows the query string)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's messages can quote the raw request line: keep only the format.
        self.log("error", format.split("%")[0].strip() or "error")


class RequestLog:
    """WSGI middleware: one line per request with method, path (no query), status and time."""

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
            method = environ.get("REQUEST_METHOD", "-")
            path = environ.get("PATH_INFO", "") or "/"
            self.log(f"{method} {path} {status[0]} {ms:.1f}ms")

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
            f"autumn-local serving {self.issuer} (listening on {self.url}) - "
            f"sign in as {self.demo.email} with password {self.demo.password}"
        )


def build(
    data_dir: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    issuer: str | None = None,
    code_ttl: float = DEFAULT_CODE_TTL,
    access_token_ttl: int = DEFAULT_ACCESS_TOKEN_TTL,
    disabled: Iterable[str] = (),
    log: LogFn = print_line,
) -> RunningServer:
    """Seed the data directory, bind the port and assemble the app (not yet serving)."""
    from .app import create_app  # flask and authlib: loaded here, not by admin commands

    data_dir = Path(data_dir)
    conn = connect(data_dir)
    try:
        demo = store.seed(conn)
        secret_key = store.get_or_create_setting(conn, "session_secret", secrets.token_hex(32))
    finally:
        conn.close()

    dispatcher = _Dispatcher()
    wsgi_server = make_server(
        host, port, dispatcher, threaded=True, request_handler=QuietRequestHandler
    )
    bound_port = int(wsgi_server.port)
    url_host = f"[{host}]" if ":" in host else host
    cfg = ServerConfig(
        data_dir=data_dir,
        issuer=issuer or f"http://localhost:{bound_port}",
        code_ttl=code_ttl,
        access_token_ttl=access_token_ttl,
        disabled=frozenset(disabled),
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
