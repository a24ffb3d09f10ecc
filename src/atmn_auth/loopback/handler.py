"""The HTTP side of the loopback server: answers one request whose head `connections` has
already read, then the connection is closed (HTTP/1.0, one request per connection).

Only a GET to `/` from an allowed `Host` whose `state` matches settles the flow (see
`settlement`); `/start/<token>` is the start link (see `startlink`); everything else gets an
error page. Every page carries `no-store`, `no-referrer` and a strict CSP, and never the
code or the state; nothing is logged (a request line would carry the code).
"""

from __future__ import annotations

import contextlib
import html
import http.client
import io
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from atmn_auth.loopback import startlink
from atmn_auth.loopback.pages import CSP, PAGES, RETURN, page
from atmn_auth.loopback.settlement import Settlement, parse_query
from atmn_auth.loopback.startlink import StartLink


class Owner(Protocol):
    """What a handler reads of the server that owns it (`callback.CallbackServer`)."""

    connection_timeout: float
    outcome_timeout: float
    allowed_hosts: frozenset[str]
    flow: Settlement
    report_outcome: bool
    link: StartLink | None


MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
HEAD_BUDGET = MAX_REQUEST_LINE + MAX_HEADER_BYTES  # request line plus headers (then 431)
_FINISHING = "The Autumn CLI is finishing the sign-in in your terminal. You can close this tab."


class _BoundedReader:
    """`rfile` with a byte budget for the request line plus headers (then 431)."""

    def __init__(self, raw: Any, budget: int) -> None:
        self._raw = raw
        self._left = budget

    def readline(self, limit: int = -1) -> bytes:
        if self._left <= 0:
            raise http.client.LineTooLong("header section")
        size = self._left if limit < 0 else min(limit, self._left)
        line: bytes = self._raw.readline(size)
        self._left -= len(line)
        return line

    def close(self) -> None:
        self._raw.close()


class _Writer:
    """`wfile`: every write is sent whole, and all of them within `seconds` of the first:
    a client that does not read cannot hold the answering thread (and its connection)
    longer. TimeoutError after that."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._seconds = seconds
        self._deadline: float | None = None
        self.closed = False

    def write(self, data: bytes) -> int:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._seconds
        if now >= self._deadline:
            raise TimeoutError("the client is not reading the answer")
        self._sock.settimeout(self._deadline - now)  # sendall's deadline for all of data
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class Handler(BaseHTTPRequestHandler):
    """Answers one request whose head the acceptor has already read (`head`)."""

    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # so even a malformed request gets headers back

    def __init__(self, request: socket.socket, address: Any, owner: Owner, head: bytes) -> None:
        self._head = head
        self.owner = owner
        super().__init__(request, address, owner)  # type: ignore[arg-type]  # not a socketserver

    def setup(self) -> None:
        self.connection = self.request
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = _BoundedReader(io.BytesIO(self._head), HEAD_BUDGET)  # type: ignore[assignment]
        self.wfile = _Writer(self.connection, self.owner.connection_timeout)  # type: ignore[assignment]

    def handle(self) -> None:
        # timeouts, resets, a connection cut by close(): nothing to tell anyone
        with contextlib.suppress(OSError, ValueError):
            self._handle_one()

    def _handle_one(self) -> None:
        self.close_connection = True
        self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if not self.raw_requestline:
            return
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # sends 400/431/505 itself
            return
        if not self._host_ok():
            self.send_error(400)
        elif self.command != "GET":
            self.send_error(405)
        else:
            self._get()

    def _host_ok(self) -> bool:
        hosts = self.headers.get_all("Host") or []
        return len(hosts) == 1 and hosts[0].strip().lower() in self.owner.allowed_hosts

    def _get(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith(startlink.START_PATH):
            self._start(path[len(startlink.START_PATH) :])
            return
        if path != "/":
            self.send_error(404)
            return
        params = parse_query(query.partition("#")[0])
        if params is None:
            self.send_error(400)
            return
        flow = self.owner.flow
        verdict = flow.judge(params)
        if verdict == "wrong_state":
            self._send_page(
                400,
                "Not this sign-in",
                "This address does not belong to the sign-in the Autumn CLI is waiting for. "
                "If <code>atmn login</code> is still running, finish in the tab it opened. "
                + RETURN,
            )
        elif verdict == "incomplete":
            self._send_page(
                400, "Sign-in incomplete", "The redirect carried no authorization. " + RETURN
            )
        elif not flow.claim(params, "browser"):
            self._send_page(200, "Already handled", "This sign-in was already handled. " + RETURN)
        elif params.get("error") == "access_denied":
            try:
                self._send_page(
                    200,
                    "Sign-in cancelled",
                    "You chose Deny; nothing was created. To try again, run "
                    "<code>atmn login</code> in your terminal.",
                )
            finally:
                flow.done.set()
        elif self.owner.report_outcome and not params.get("error"):
            flow.done.set()  # the sign-in goes on; this page waits to say how it ended
            flow.finished.wait(self.owner.outcome_timeout)
            title, body = flow.outcome or ("Return to your terminal", _FINISHING)
            try:
                self._send_page(200, title, body)
            finally:
                flow.page_sent.set()
        else:
            try:
                self._send_settled(params)
            finally:
                flow.done.set()

    def _start(self, token: str) -> None:
        """The browser's first stop: once, a redirect to the sign-in URL (never shown)."""
        owner = self.owner
        status, shown, extra = startlink.answer(owner.link, token, self.connection, owner.flow.done)
        if shown is None:
            self.send_error(status)
        else:
            self._send_page(status, *shown, extra)

    def _send_settled(self, params: dict[str, str]) -> None:
        error = params.get("error")
        if not error:
            self._send_page(
                200,
                "Sign-in approved",
                "Sign-in approved. You can close this tab and return to your terminal to "
                "finish signing in to the Autumn CLI.",
            )
        else:
            self._send_page(
                200,
                "Sign-in not completed",
                f"The Autumn server answered <code>{html.escape(error[:100])}</code>, so "
                "the sign-in did not go through. Return to your terminal.",
            )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        title, text = PAGES.get(code, ("Error", "This request cannot be served."))
        extra = {"Allow": "GET"} if code == 405 else {}
        self._send_page(code, title, html.escape(text) + " " + RETURN, extra)

    def _send_page(
        self, code: int, title: str, body_html: str, extra: dict[str, str] | None = None
    ) -> None:
        body = page(title, body_html)
        self.send_response(code)
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Connection": "close",
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return "atmn"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a logged request line would carry the authorization code
