"""The loopback server the browser is redirected to at the end of `atmn login`.

It listens on 127.0.0.1 (and ::1 where the host has it) on the first free callback port,
never on a public interface. The browser is opened on `start_link()`, a single-use address
of this server that redirects to the sign-in URL (that URL carries the `state` and the PKCE
challenge, and a browser's command line is readable by every user: see `startlink`). Then
`wait()` returns the first redirect whose `state` matches, or an address the user pasted
(see `pastes`); with `report_outcome`, the browser's page waits for `finish()` to say how
the sign-in ended. Everything else gets an error page and the flow keeps waiting.

The parts, each in its own module: `connections` (accept and read request heads under a
cap and a deadline), `handler` (answer one request), `settlement` (what settles the flow),
`startlink`, `peers` (which local user is connecting), `pastes`, `pages` (the HTML).
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TextIO

from atmn_auth.errors import AtmnError, CallbackTimeout, PortsTakenError
from atmn_auth.loopback.connections import Acceptor, Connection, connection_cap, listen
from atmn_auth.loopback.handler import HEAD_BUDGET, Handler
from atmn_auth.loopback.pastes import reading_pastes
from atmn_auth.loopback.peers import peer_uid
from atmn_auth.loopback.settlement import CallbackResult, Settlement
from atmn_auth.loopback.startlink import START_PATH, StartLink
from atmn_auth.settings import CALLBACK_PORTS
from atmn_auth.text import format_duration

_POLL = 0.1  # how often wait() looks up (Ctrl-C, a failure elsewhere, the clock)
_TAKEN = {errno.EADDRINUSE, errno.EACCES}


class CallbackServer:
    """Receives the OAuth redirect on `http://{host_name}:{port}/` (loopback only).

    Use as a context manager: `with CallbackServer(state) as cb: ... cb.wait(300)`.
    """

    #: The whole request head must arrive within this many seconds of the connection, and
    #: the whole answer must be sent within as many.
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
        self.flow = Settlement(expected_state)
        #: Hold the browser's page until `finish()` says how the sign-in ended (at most
        #: `outcome_timeout` seconds), so that it can name the organization.
        self.report_outcome = report_outcome
        #: Connections open at once, at most.
        self.max_connections = connection_cap()
        self.link: StartLink | None = None  # see start_link()
        self._ports = tuple(ports)
        self._host_name = host_name
        self._listeners: list[socket.socket] = []
        self._acceptor: Acceptor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.port = 0
        self.redirect_uri = ""
        self.allowed_hosts: frozenset[str] = frozenset()

    # lifecycle

    def start(self) -> None:
        """Listen on the first port free on 127.0.0.1 (and on ::1, when the host has it)."""
        if self._listeners or self._closed:
            raise RuntimeError("a CallbackServer starts once")
        v6_taken = 0
        for port in self._ports:
            try:
                v4 = listen(socket.AF_INET, "127.0.0.1", port)
            except OSError as exc:
                if exc.errno in _TAKEN:
                    continue
                raise AtmnError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
            try:
                v6 = _listen_v6(port)
            except OSError:  # ::1 taken by someone else: the browser might reach them there
                v4.close()
                v6_taken += 1
                continue
            self._listeners = [v4] if v6 is None else [v4, v6]
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
        try:
            self._acceptor = Acceptor(
                self._listeners,
                self._serve,
                cap=self.max_connections,
                head_timeout=self.connection_timeout,
                head_budget=HEAD_BUDGET,
            )
            self._acceptor.start()
        except BaseException:  # a `with` block never reaches close() when start() fails
            self.close()
            raise

    def _serve(self, connection: Connection) -> None:
        Handler(connection.sock, connection.address, self, bytes(connection.head))

    def start_link(self, target: str) -> str:
        """A single-use address on this server that redirects the browser to `target`
        (the sign-in URL), for the browser's command line: `target`'s `state` and PKCE
        challenge must not appear there. A new link replaces the previous one."""
        if not self.port:
            raise RuntimeError("CallbackServer.start_link() before start()")
        self.link = StartLink(target)
        return f"http://{self._host_name}:{self.port}{START_PATH}{self.link.token}"

    @property
    def bound_addresses(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of every listening socket."""
        return tuple(sock.getsockname()[:2] for sock in self._listeners)

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
        if self._acceptor is not None:
            self._acceptor.stop()
        for listener in self._listeners:
            listener.close()

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
        if not self._listeners:
            raise RuntimeError("CallbackServer.wait() before start()")
        with reading_pastes(paste_stream, self.flow, on_rejected_paste):
            return self._wait_for_result(timeout, failed, tick)

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
            stopped = self._acceptor.failure if self._acceptor is not None else None
            if stopped is not None:  # nothing answers the browser any more
                raise AtmnError(
                    f"the callback server stopped ({type(stopped).__name__}); "
                    "run `atmn login` again"
                ) from stopped
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


def _listen_v6(port: int) -> socket.socket | None:
    """A socket listening on [::1]:port; None when this host has no IPv6 loopback.

    Raises OSError when ::1 has the port taken.
    """
    if not socket.has_ipv6:
        return None
    try:
        return listen(socket.AF_INET6, "::1", port)
    except OSError as exc:
        if exc.errno in _TAKEN:
            raise
        return None  # EADDRNOTAVAIL, EAFNOSUPPORT…: no usable ::1 here


def _describe_ports(ports: Sequence[int]) -> str:
    if len(ports) == 1:
        return f"callback port {ports[0]} is"
    if list(ports) == list(range(ports[0], ports[0] + len(ports))):
        return f"all callback ports {ports[0]}\N{EN DASH}{ports[-1]} are"
    return f"all callback ports {', '.join(map(str, ports))} are"


__all__ = ["CallbackResult", "CallbackServer", "peer_uid"]
