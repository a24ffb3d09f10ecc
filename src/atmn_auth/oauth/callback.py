"""The loopback server the browser is redirected to at the end of `atmn login`.

It listens on 127.0.0.1 (and ::1 where the host has it) on the first free callback port,
never on a public interface. Only a GET to `/` whose `state` matches settles the flow;
everything else gets an error page and the flow keeps waiting. The pages it serves never
contain the code or the state, and nothing is logged (a query string would leak the code).
Users whose browser cannot reach this machine (SSH) can paste the address instead.

The browser is not opened on the sign-in URL itself: a command line is readable by every
user of the machine (`/proc/PID/cmdline`, `ps`), and that URL carries the `state` and the
PKCE challenge, which are all another user needs to finish the sign-in with their own
account first. It is opened on `start_link()`, a random single-use path of this server
that redirects once to the sign-in URL (and, on Linux, only for a browser of this user).

One thread serves the listening sockets and reads every request head; a connection gets a
thread of its own only once its head is complete. Connections are capped (the oldest one
still sending its head makes room for a new one), a head must arrive whole within
`connection_timeout` however slowly it trickles, and when `accept()` fails (out of file
descriptors) listening pauses, longer each time: many idle or trickling connections cannot
starve the browser's redirect, nor make the server spin.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import html
import http.client
import io
import os
import secrets
import select
import selectors
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Literal, TextIO
from urllib.parse import parse_qsl

from atmn_auth.errors import AtmnError, CallbackTimeout, PortsTakenError
from atmn_auth.oauth.pages import (
    CSP,
    LINK_USED,
    OTHER_USER,
    PAGES,
    REDIRECTING,
    RETURN,
    page,
)
from atmn_auth.settings import CALLBACK_PORTS
from atmn_auth.text import format_duration

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
HEAD_BUDGET = MAX_REQUEST_LINE + MAX_HEADER_BYTES  # request line plus headers (then 431)
MAX_QUERY_FIELDS = 32
MAX_PASTE_LINE = 16 * 1024
MAX_CONNECTIONS = 1024  # open at once, at most; and fewer than the descriptors left
FD_RESERVE = 64  # descriptors the connections leave for the rest of the sign-in
BACKLOG = 1024  # the kernel's queue: a browser's connection waits there, never dropped
ACCEPT_BATCH = 32  # connections accepted in a row before anything else is looked at
START_PATH = "/start/"
_POLL = 0.1  # how often waiting loops look up (Ctrl-C, close, stop)
_PAUSE_FIRST, _PAUSE_MAX = 0.005, 0.5  # listening pauses after a failed accept(), doubling
_DRAIN_SECONDS = 1.0  # after 414/431, how long the rest of the request is read, at most
_TAKEN = {errno.EADDRINUSE, errno.EACCES}


@dataclass(frozen=True)
class CallbackResult:
    """The query parameters of the request that settled the flow, and where it came from."""

    params: dict[str, str]
    via: Literal["browser", "paste"]


def _describe_ports(ports: Sequence[int]) -> str:
    if len(ports) == 1:
        return f"callback port {ports[0]} is"
    if list(ports) == list(range(ports[0], ports[0] + len(ports))):
        return f"all callback ports {ports[0]}\N{EN DASH}{ports[-1]} are"
    return f"all callback ports {', '.join(map(str, ports))} are"


# --- the flow: who settles it -------------------------------------------------------------

Verdict = Literal["settles", "wrong_state", "incomplete"]


class _Flow:
    """The expected state, and the first result that matched it."""

    def __init__(self, expected_state: str) -> None:
        self._expected = expected_state.encode()
        self._lock = threading.Lock()
        self.result: CallbackResult | None = None
        self.done = threading.Event()
        # With `report_outcome`: how the sign-in ended, for the browser's page
        self.outcome: tuple[str, str] | None = None  # (title, body HTML)
        self.finished = threading.Event()
        self.page_sent = threading.Event()

    def judge(self, params: dict[str, str]) -> Verdict:
        state = params.get("state")
        if state is None or not hmac.compare_digest(state.encode(), self._expected):
            return "wrong_state"
        if not params.get("code") and not params.get("error"):
            return "incomplete"
        return "settles"

    def claim(self, params: dict[str, str], via: Literal["browser", "paste"]) -> bool:
        """Record the result if it is the first; the caller sets `done` when it is ready."""
        with self._lock:
            if self.result is not None:
                return False
            self.result = CallbackResult(params=dict(params), via=via)
            return True


class _StartLink:
    """`/start/<token>`: sends the browser on to the sign-in URL, once."""

    def __init__(self, target: str) -> None:
        self.token = secrets.token_urlsafe(32)
        self.target = target
        self._used = False
        self._lock = threading.Lock()

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.token.encode())

    def claim(self) -> bool:
        """True the first time only."""
        with self._lock:
            used, self._used = self._used, True
            return not used


def _parse_query(query: str) -> dict[str, str] | None:
    """The query's parameters, or None when malformed (too many fields, a repeated name)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return None
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


# --- who is at the other end --------------------------------------------------------------


def _address_hex(family: int, address: str) -> str:
    """An address as /proc/net/tcp{,6} prints it: 32-bit words in host byte order."""
    packed = socket.inet_pton(family, address)
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words)


def peer_uid(conn: socket.socket) -> int | None:
    """The user id that owns the other end of a loopback TCP connection, as the kernel
    reports it (Linux: /proc/net/tcp{,6}); None where that cannot be told."""
    try:
        family = conn.family
        peer, local = conn.getpeername(), conn.getsockname()
        table = {socket.AF_INET: "/proc/net/tcp", socket.AF_INET6: "/proc/net/tcp6"}[family]
        their_end = f"{_address_hex(family, peer[0])}:{peer[1]:04X}"
        our_end = f"{_address_hex(family, local[0])}:{local[1]:04X}"
        with open(table, encoding="ascii") as rows:
            next(rows, None)
            for row in rows:
                fields = row.split()
                if fields[1:3] == [their_end, our_end]:
                    return int(fields[7])
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return None


def _another_user(conn: socket.socket) -> bool:
    """Whether the kernel says another user (neither this one nor root) is connecting."""
    if not hasattr(os, "getuid"):
        return False  # pragma: no cover - Windows
    uid = peer_uid(conn)
    return uid is not None and uid not in (os.getuid(), 0)


# --- the HTTP side ------------------------------------------------------------------------


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
    """`wfile`: every write is sent whole."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.closed = False

    def write(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class _Handler(BaseHTTPRequestHandler):
    """Answers one request whose head the acceptor has already read (`head`)."""

    server: _LoopbackServer
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # so even a malformed request gets headers back

    def __init__(self, request: socket.socket, address: Any, server: Any, head: bytes) -> None:
        self._head = head
        self._drain = False
        super().__init__(request, address, server)

    def setup(self) -> None:
        self.connection = self.request
        self.connection.settimeout(self.server.owner.connection_timeout)  # each write
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = _BoundedReader(io.BytesIO(self._head), HEAD_BUDGET)  # type: ignore[assignment]
        self.wfile = _Writer(self.connection)  # type: ignore[assignment]

    def handle(self) -> None:
        # timeouts, resets, a socket closed by close(): nothing to tell anyone
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
        return len(hosts) == 1 and hosts[0].strip().lower() in self.server.owner.allowed_hosts

    def _get(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith(START_PATH):
            self._start(path[len(START_PATH) :])
            return
        if path != "/":
            self.send_error(404)
            return
        params = _parse_query(query.partition("#")[0])
        if params is None:
            self.send_error(400)
            return
        flow = self.server.owner.flow
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
        elif self.server.owner.report_outcome and not params.get("error"):
            flow.done.set()  # the sign-in goes on; this page waits to say how it ended
            flow.finished.wait(self.server.owner.outcome_timeout)
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
        owner = self.server.owner
        link = owner.link
        if link is None or not link.matches(token):
            self.send_error(404)
        elif _another_user(self.connection):
            self._send_page(403, *OTHER_USER)  # and the link still works for the browser
        elif owner.flow.done.is_set() or not link.claim():
            self._send_page(410, *LINK_USED)
        else:
            self._send_page(303, *REDIRECTING, {"Location": link.target})

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
        self._drain = code in (414, 431)
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
        try:
            super().finish()
            if self._drain:
                self._drain_input()
        except OSError:
            pass

    def _drain_input(self) -> None:
        """After 414/431, read what the client is still sending so it sees the answer
        (256 KiB and a second at most, however slowly it comes)."""
        self.connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _DRAIN_SECONDS
        left = 256 * 1024
        while left > 0 and (rest := deadline - time.monotonic()) > 0:
            self.connection.settimeout(rest)
            chunk = self.connection.recv(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    def version_string(self) -> str:
        return "atmn"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a logged request line would carry the authorization code


class _LoopbackServer(socketserver.TCPServer):
    """One listening socket (the acceptor serves it)."""

    request_queue_size = BACKLOG  # the system may cap it (somaxconn: 4096 Linux, 128 macOS)
    allow_reuse_address = os.name != "nt"  # Windows' SO_REUSEADDR would let others share

    def __init__(
        self, family: socket.AddressFamily, address: str, port: int, owner: CallbackServer
    ):
        self.address_family = family
        self.owner = owner
        super().__init__((address, port), socketserver.BaseRequestHandler, False)
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if os.name == "nt":  # pragma: no cover - Windows only
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        super().server_bind()


# --- connections: accepted, heads read, handed to a thread --------------------------------


@dataclass(eq=False)
class _Pending:
    """A connection whose request head is still coming in."""

    sock: socket.socket
    address: Any
    server: _LoopbackServer
    deadline: float
    head: bytearray = field(default_factory=bytearray)


def _head_complete(head: bytes | bytearray) -> bool:
    """Whether `head` holds a request line and headers up to the blank line (or a blank
    first line, which `parse_request` turns down)."""
    return head.startswith((b"\r\n", b"\n")) or b"\n\r\n" in head or b"\n\n" in head


def connection_cap() -> int:
    """Connections open at once: the descriptors this process may have but `FD_RESERVE`
    (192 with macOS's default of 256), between 8 and `MAX_CONNECTIONS`.

    An attacker needs more connections than this plus the kernel's queue (`BACKLOG`) to
    fill that queue, where the browser's connection waits to be accepted; up to there,
    connections beyond the cap only push out the oldest unfinished ones."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except ImportError:  # pragma: no cover - Windows, where select() takes 512 at most
        return 256
    except (OSError, ValueError):  # pragma: no cover
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_CONNECTIONS
    return max(8, min(MAX_CONNECTIONS, soft - FD_RESERVE))


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


class _Acceptor:
    """Accepts on the listening sockets and reads request heads, on one thread; see the
    module docstring. `serve(pending)` answers a complete head, on a thread of its own."""

    def __init__(
        self,
        servers: Sequence[_LoopbackServer],
        serve: Callable[[_Pending], None],
        *,
        cap: int,
        head_timeout: float,
    ) -> None:
        self._servers = servers
        self._serve = serve
        self._cap = cap
        self._head_timeout = head_timeout
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._reading: dict[socket.socket, _Pending] = {}  # oldest first
        self._serving: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._pause = 0.0
        self._resume_at: float | None = None
        self._listening = False
        self._thread = threading.Thread(target=self._run, name="atmn-callback", daemon=True)

    def start(self) -> None:
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        for server in self._servers:
            server.socket.setblocking(False)  # a vanished client must not block accept()
        self._listen(True)
        self._thread.start()

    def stop(self) -> list[socket.socket]:
        """Stops the thread (every unfinished connection closed); returns the connections
        still being answered."""
        self._wake_w.send(b"x")
        self._thread.join()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            serving, self._serving = list(self._serving), set()
        return serving

    # the thread

    def _run(self) -> None:
        try:
            while True:
                for key, _ in self._selector.select(self._timeout()):
                    if key.data is None:
                        return
                    if isinstance(key.data, _LoopbackServer):
                        self._accept_some(key.data)
                    else:
                        self._read(key.data)
                now = time.monotonic()
                while self._reading and next(iter(self._reading.values())).deadline <= now:
                    self._drop(next(iter(self._reading.values())))
                if self._resume_at is not None and now >= self._resume_at:
                    self._resume_at = None
                    self._listen(True)
        finally:
            for pending in list(self._reading.values()):
                self._drop(pending)
            self._selector.close()

    def _timeout(self) -> float | None:
        times = [] if self._resume_at is None else [self._resume_at]
        if self._reading:
            times.append(next(iter(self._reading.values())).deadline)
        return max(0.0, min(times) - time.monotonic()) if times else None

    def _listen(self, on: bool) -> None:
        if on == self._listening:
            return
        self._listening = on
        for server in self._servers:
            if on:
                self._selector.register(server.socket, selectors.EVENT_READ, server)
            else:
                self._selector.unregister(server.socket)

    def _accept_some(self, server: _LoopbackServer) -> None:
        """Accept what waits, up to a batch: the kernel's queue stays short."""
        for _ in range(ACCEPT_BATCH):
            if not self._listening or not self._accept(server):
                return

    def _accept(self, server: _LoopbackServer) -> bool:
        """Accept one connection; False when there is none to accept now."""
        try:
            sock, address = server.socket.accept()
        except (BlockingIOError, InterruptedError):
            return False
        except ConnectionAbortedError:
            return True  # gone before it was accepted; there may be more
        except OSError:
            # Out of descriptors (EMFILE, ENFILE) or memory: give one back when an
            # unfinished connection holds it, and listen again only after a pause, longer
            # each time; the connection waits in the kernel's queue meanwhile.
            self._evict_oldest()
            self._pause = min(max(2 * self._pause, _PAUSE_FIRST), _PAUSE_MAX)
            self._resume_at = time.monotonic() + self._pause
            self._listen(False)
            return False
        self._pause = 0.0
        with self._lock:
            full = len(self._reading) + len(self._serving) >= self._cap
        if full and not self._evict_oldest():
            _close(sock)  # every connection is a complete request being answered
            return True
        pending = _Pending(sock, address, server, time.monotonic() + self._head_timeout)
        try:
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, pending)
        except (OSError, ValueError):
            _close(sock)
            return True
        self._reading[sock] = pending
        self._read(pending)  # a browser sends its request at once: it is often here already
        return True

    def _read(self, pending: _Pending) -> None:
        try:
            chunk = pending.sock.recv(HEAD_BUDGET + 1 - len(pending.head))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(pending)
            return
        if not chunk and not pending.head:
            self._drop(pending)
            return
        pending.head += chunk
        if chunk and len(pending.head) <= HEAD_BUDGET and not _head_complete(pending.head):
            return
        self._hand_over(pending)  # complete, too large, or the client is done sending

    def _hand_over(self, pending: _Pending) -> None:
        self._selector.unregister(pending.sock)
        del self._reading[pending.sock]
        with self._lock:
            self._serving.add(pending.sock)
        try:
            pending.sock.setblocking(True)
            threading.Thread(
                target=self._answer, args=(pending,), name="atmn-callback-request", daemon=True
            ).start()
        except (OSError, RuntimeError):  # no thread could be started: drop this client
            self._finished(pending.sock)

    def _answer(self, pending: _Pending) -> None:
        try:  # never print a traceback (or a request) to the user's terminal
            with contextlib.suppress(Exception):
                self._serve(pending)
        finally:
            self._finished(pending.sock)

    def _finished(self, sock: socket.socket) -> None:
        with self._lock:
            mine = sock in self._serving
            self._serving.discard(sock)
        if mine:  # else stop() took it over
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            _close(sock)

    def _evict_oldest(self) -> bool:
        """Close the connection that has been sending its head the longest, if any."""
        if not self._reading:
            return False
        self._drop(next(iter(self._reading.values())))
        return True

    def _drop(self, pending: _Pending) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(pending.sock)
        self._reading.pop(pending.sock, None)
        _close(pending.sock)


# --- pasted addresses ---------------------------------------------------------------------


def _read_pastes(
    stream: TextIO,
    on_line: Callable[[str], bool],
    stop: threading.Event,
) -> None:
    """Feed lines to `on_line` until it returns True, `stop` is set, or the stream ends.

    A stream with a file descriptor is polled, so the thread stops reading when the wait is
    over and later input (a prompt, say) is not swallowed.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd < 0 or os.name == "nt":
        for line in iter(stream.readline, ""):
            if stop.is_set() or on_line(line):
                return
        return
    buffer = b""
    while not stop.is_set():
        try:
            ready, _, _ = select.select([fd], [], [], _POLL)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            if on_line(raw.decode(errors="replace")):
                return
        if len(buffer) > MAX_PASTE_LINE:
            buffer = b""


def _pasted_params(line: str) -> dict[str, str] | None:
    """The query parameters of a pasted URL or query string; None if it is neither."""
    text = line.strip().strip("<>\"'")
    if "?" in text:
        text = text.split("?", 1)[1]
    elif "=" not in text:
        return None
    return _parse_query(text.partition("#")[0])


# --- the server ---------------------------------------------------------------------------


class CallbackServer:
    """Receives the OAuth redirect on `http://{host_name}:{port}/` (loopback only).

    Use as a context manager: `with CallbackServer(state) as cb: ... cb.wait(300)`.
    """

    #: The whole request head must arrive within this many seconds of the connection, and
    #: each write of the answer may take as long.
    connection_timeout: float = 5.0
    outcome_timeout: float = 30.0  # how long the browser's page waits for `finish()`

    def __init__(
        self,
        expected_state: str,
        *,
        ports: Sequence[int] = CALLBACK_PORTS,
        host_name: str = "localhost",
        report_outcome: bool = False,
    ) -> None:
        if not expected_state:
            raise ValueError("expected_state must not be empty")
        if not ports:
            raise ValueError("ports must not be empty")
        self.flow = _Flow(expected_state)
        #: Hold the browser's page until `finish()` says how the sign-in ended (at most
        #: `outcome_timeout` seconds), so that it can name the organization.
        self.report_outcome = report_outcome
        #: Connections open at once, at most.
        self.max_connections = connection_cap()
        self.link: _StartLink | None = None  # see start_link()
        self._ports = tuple(ports)
        self._host_name = host_name
        self._servers: list[_LoopbackServer] = []
        self._acceptor: _Acceptor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.port = 0
        self.redirect_uri = ""
        self.allowed_hosts: frozenset[str] = frozenset()

    # lifecycle

    def start(self) -> None:
        """Listen on the first port free on 127.0.0.1 (and on ::1, when the host has it)."""
        if self._servers or self._closed:
            raise RuntimeError("a CallbackServer starts once")
        v6_taken = 0
        for port in self._ports:
            try:
                v4 = _LoopbackServer(socket.AF_INET, "127.0.0.1", port, self)
            except OSError as exc:
                if exc.errno in _TAKEN:
                    continue
                raise AtmnError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
            try:
                v6 = _bind_v6(port, self)
            except OSError:  # ::1 taken by someone else: the browser might reach them there
                v4.server_close()
                v6_taken += 1
                continue
            self._servers = [v4] if v6 is None else [v4, v6]
            self.port = port
            break
        else:
            where = "127.0.0.1" if v6_taken == 0 else "127.0.0.1 or ::1"
            raise PortsTakenError(
                f"{_describe_ports(self._ports)} in use on {where}; "
                "is another `atmn login` running?"
            )
        self.redirect_uri = f"http://{self._host_name}:{self.port}/"
        names = {"localhost", "127.0.0.1", "[::1]", self._host_name.lower()}
        self.allowed_hosts = frozenset(f"{name}:{self.port}" for name in names)
        self._acceptor = _Acceptor(
            self._servers,
            self._serve,
            cap=self.max_connections,
            head_timeout=self.connection_timeout,
        )
        self._acceptor.start()

    def _serve(self, pending: _Pending) -> None:
        _Handler(pending.sock, pending.address, pending.server, bytes(pending.head))

    def start_link(self, target: str) -> str:
        """A single-use address on this server that redirects the browser to `target`
        (the sign-in URL), for the browser's command line: `target`'s `state` and PKCE
        challenge must not appear there. A new link replaces the previous one."""
        if not self.port:
            raise RuntimeError("CallbackServer.start_link() before start()")
        self.link = _StartLink(target)
        return f"http://{self._host_name}:{self.port}{START_PATH}{self.link.token}"

    @property
    def bound_addresses(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of every listening socket."""
        return tuple(s.socket.getsockname()[:2] for s in self._servers)

    def finish(self, title: str, body_html: str) -> None:
        """How the sign-in ended, for the page the browser is waiting on (with
        `report_outcome`); `body_html` is trusted markup of our own."""
        self.flow.outcome = (title, body_html)
        self.flow.finished.set()

    def close(self) -> None:
        """Stop listening and close every socket, open connections included (idempotent).

        A browser still waiting for its page gets it first (for at most a second).
        """
        if self.flow.done.is_set() and self.report_outcome:
            self.flow.finished.set()
            result = self.flow.result
            if result is not None and result.via == "browser" and not result.params.get("error"):
                self.flow.page_sent.wait(1.0)
        with self._lock:
            if self._closed:
                return
            self._closed = True
        connections = self._acceptor.stop() if self._acceptor is not None else []
        for server in self._servers:
            server.server_close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            _close(conn)

    def __enter__(self) -> CallbackServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # waiting

    def wait(
        self,
        timeout: float,
        *,
        paste_stream: TextIO | None = None,
        on_rejected_paste: Callable[[str], None] | None = None,
        failed: Callable[[], BaseException | None] | None = None,
        tick: Callable[[float], None] | None = None,
    ) -> CallbackResult:
        """The first settling result; CallbackTimeout after `timeout` seconds.

        Ctrl-C (KeyboardInterrupt) propagates within a fraction of a second. With
        `paste_stream`, a pasted redirect URL (or its query string) carrying the right state
        settles the flow too; other lines call `on_rejected_paste` with a short reason (never
        the line itself) and the wait goes on. `failed` is asked at every look: work done
        meanwhile (discovery) that fails ends the wait with its error at once. `tick` is
        called at every look with the seconds left (a live wait line).
        """
        if not self._servers:
            raise RuntimeError("CallbackServer.wait() before start()")
        stop = threading.Event()
        reader = None
        if paste_stream is not None and self.flow.result is None:
            reader = threading.Thread(
                target=_read_pastes,
                args=(paste_stream, self._paste_handler(on_rejected_paste), stop),
                name="atmn-callback-paste",
                daemon=True,
            )
            reader.start()
        try:
            return self._wait_for_result(timeout, failed, tick)
        finally:
            stop.set()
            if reader is not None:
                reader.join(timeout=2 * _POLL)

    def _wait_for_result(
        self,
        timeout: float,
        failed: Callable[[], BaseException | None] | None,
        tick: Callable[[float], None] | None,
    ) -> CallbackResult:
        deadline = time.monotonic() + timeout
        while not self.flow.done.is_set():
            error = failed() if failed is not None else None
            if error is not None:
                raise error
            if tick is not None:
                tick(max(0.0, deadline - time.monotonic()))
            left = deadline - time.monotonic()
            if left <= 0:
                raise CallbackTimeout(
                    f"no answer from the browser within {format_duration(timeout)}"
                )
            self.flow.done.wait(min(_POLL, left))
        assert self.flow.result is not None
        return self.flow.result

    def _paste_handler(self, on_rejected: Callable[[str], None] | None) -> Callable[[str], bool]:
        def on_line(line: str) -> bool:
            if not line.strip():
                return False
            params = _pasted_params(line)
            verdict = "wrong_state" if params is None else self.flow.judge(params)
            if params is not None and verdict == "settles":
                if self.flow.claim(params, "paste"):
                    self.flow.done.set()
                return True
            if on_rejected is not None:
                on_rejected(_REJECTIONS["not_url" if params is None else verdict])
            return False

        return on_line


_FINISHING = "The Autumn CLI is finishing the sign-in in your terminal. You can close this tab."

_REJECTIONS = {
    "not_url": "that is not a sign-in address: paste the whole address from the browser",
    "wrong_state": "that address is not from this sign-in",
    "incomplete": "that address carries no authorization code",
}


def _bind_v6(port: int, owner: CallbackServer) -> _LoopbackServer | None:
    """A server on [::1]:port; None when this host has no IPv6 loopback.

    Raises OSError when ::1 has the port taken.
    """
    if not socket.has_ipv6:
        return None
    try:
        return _LoopbackServer(socket.AF_INET6, "::1", port, owner)
    except OSError as exc:
        if exc.errno in _TAKEN:
            raise
        return None  # EADDRNOTAVAIL, EAFNOSUPPORT…: no usable ::1 here


__all__ = ["CallbackResult", "CallbackServer"]
