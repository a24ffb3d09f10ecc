"""The loopback server's sockets: listening, accepting, and reading request heads, so that
many idle or trickling connections cannot starve the browser's redirect, nor make the
server spin.

One thread (`Acceptor`) serves the listening sockets and reads every request head; a
connection gets a thread of its own only once its head is complete. A head over its budget
is answered (414/431) and the connection comes back to the acceptor, which reads and drops
what the client is still sending for a second at most (`LINGER_SECONDS`), so that the
client sees the answer rather than a reset.

Connections are capped. To make room for a new one, once it is accepted (never for one
that may not come), the one that has lingered the longest is closed, else the one that
has been sending its head the longest; when every connection is being answered (a moment
each), nothing is accepted until one is done: a new connection waits in the kernel's
queue, never closed unread. A head must arrive whole within `head_timeout` however slowly
it trickles, and when `accept()` fails (out of file descriptors) listening pauses, longer
each time.

Each socket has one owner, who alone closes it: the acceptor while the head comes in, then
the thread answering it, then the acceptor again while it lingers. `stop()` only shuts
those down (which wakes their threads) and waits for their threads a moment, so nothing is
closed twice or while in use.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_CONNECTIONS = 1024  # open at once, at most; and fewer than the descriptors left
FD_RESERVE = 64  # descriptors the connections leave for the rest of the sign-in
BACKLOG = 1024  # the kernel's queue: a browser's connection waits there, never dropped
ACCEPT_BATCH = 32  # connections accepted in a row before anything else is looked at
_PAUSE_FIRST, _PAUSE_MAX = 0.005, 0.5  # listening pauses after a failed accept(), doubling
LINGER_SECONDS = 1.0  # after a head over its budget is answered, the rest is read this long
LINGER_BYTES = 256 * 1024  # and this much, at most


def listen(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """A socket listening on host:port, for this family only (no dual-stack); on Windows,
    one nobody else can bind to as well. OSError when the port cannot be had."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if os.name == "nt":  # pragma: no cover - Windows only; its SO_REUSEADDR would share
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)  # the system may cap it (somaxconn: 4096 Linux, 128 macOS)
    except BaseException:
        sock.close()
        raise
    return sock


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


@dataclass(eq=False)
class Connection:
    """An accepted connection and the request head read from it so far."""

    sock: socket.socket
    address: Any
    deadline: float  # for the whole head
    head: bytearray = field(default_factory=bytearray)
    oversized: bool = False  # handed over with more than the budget: the client sends on


@dataclass(eq=False)
class _Lingering:
    """An answered connection whose client may still be sending: read and dropped."""

    sock: socket.socket
    deadline: float
    left: int = LINGER_BYTES


def head_complete(head: bytes | bytearray) -> bool:
    """Whether `head` holds a request line and headers up to the blank line (or a blank
    first line, which the handler turns down)."""
    return head.startswith((b"\r\n", b"\n")) or b"\n\r\n" in head or b"\n\n" in head


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


class Acceptor:
    """Accepts on `listeners` and reads request heads, on one thread; see the module
    docstring. `serve(connection)` answers a complete head (or one cut short by the client,
    or over `head_budget` bytes) on a thread of its own; the connection is closed after."""

    def __init__(
        self,
        listeners: Sequence[socket.socket],
        serve: Callable[[Connection], None],
        *,
        cap: int,
        head_timeout: float,
        head_budget: int,
    ) -> None:
        self._listeners = listeners
        self._serve = serve
        self._cap = cap
        self._head_timeout = head_timeout
        self._head_budget = head_budget
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a full pipe already wakes the thread
        self._reading: dict[socket.socket, Connection] = {}  # oldest first
        self._lingering: dict[socket.socket, _Lingering] = {}  # oldest first
        self._serving: dict[socket.socket, threading.Thread] = {}  # under _lock
        # under _lock: every answering thread not yet ended, also those past _serving
        self._threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        self._returned: list[socket.socket] = []  # under _lock: answered, to linger
        self._stopping = False  # under _lock: no socket is handed back, nor a wake sent
        self._lock = threading.Lock()
        self._pause = 0.0
        self._resume_at: float | None = None
        self._listening = False
        self._thread = threading.Thread(target=self._run, name="atmn-callback", daemon=True)
        #: What ended the acceptor's thread other than `stop()` (nothing is accepted after).
        self.failure: Exception | None = None

    def start(self) -> None:
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        for listener in self._listeners:
            listener.setblocking(False)  # a vanished client must not block accept()
        self._set_listening(True)
        self._thread.start()

    def stop(self, grace: float = 1.0) -> None:
        """Stop the thread (every connection still sending its head, or lingering, is
        closed), cut the connections being answered, and give every answering thread
        `grace` seconds to end (each closes its own), also one that has just let its
        connection go and is still on its way out."""
        with self._lock:
            self._stopping = True
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            self._thread.join()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:  # a socket leaves _serving (under the lock) before it is closed
            for sock in self._serving:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes its thread; the thread closes it
            threads = list(self._threads)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # the thread

    def _run(self) -> None:
        try:
            while not self._stopping:
                for key, _ in self._selector.select(self._timeout()):
                    if key.data is None:
                        self._woken()
                    elif isinstance(key.data, Connection):
                        self._read(key.data)
                    elif isinstance(key.data, _Lingering):
                        self._discard(key.data)
                    else:
                        self._accept_some(key.data)
                now = time.monotonic()
                for table in self._tables():
                    while table and (oldest := next(iter(table.values()))).deadline <= now:
                        self._drop(oldest)
                if self._resume_at is not None and now >= self._resume_at:
                    self._resume_at = None
                # listen while a connection can be taken in: there is room, or can be made
                self._set_listening(self._resume_at is None and self._has_room())
        except Exception as exc:  # the owner reports it: a silent death would leave the
            self.failure = exc  # browser's connection queued, unanswered, for minutes
        finally:
            with self._lock:
                self._stopping = True
                returned, self._returned = self._returned, []
            for sock in returned:
                _close(sock)
            for table in self._tables():
                for entry in list(table.values()):
                    self._drop(entry)

    def _timeout(self) -> float | None:
        times = [] if self._resume_at is None else [self._resume_at]
        for table in self._tables():
            if table:
                times.append(next(iter(table.values())).deadline)
        return max(0.0, min(times) - time.monotonic()) if times else None

    def _tables(self) -> tuple[Mapping[socket.socket, Connection | _Lingering], ...]:
        """The connections the acceptor holds, each table oldest first (and so by
        deadline): the lingering ones, which go first to make room, then the reading ones."""
        return (self._lingering, self._reading)

    def _woken(self) -> None:
        """`stop()`, or a thread done answering: take back the sockets to linger on."""
        with contextlib.suppress(OSError):
            self._wake_r.recv(4096)
        self._take_back()

    def _take_back(self) -> None:
        """Answered sockets handed back to linger on join the lingering ones."""
        with self._lock:
            returned, self._returned = self._returned, []
        now = time.monotonic()
        for sock in returned:
            lingering = _Lingering(sock, now + LINGER_SECONDS)
            try:
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ, lingering)
            except (OSError, ValueError):
                _close(sock)
                continue
            self._lingering[sock] = lingering

    def _open(self) -> int:
        with self._lock:
            answering = len(self._serving) + len(self._returned)
        return len(self._reading) + len(self._lingering) + answering

    def _has_room(self) -> bool:
        """Whether a connection can be accepted now, if need be by closing another
        (answered ones handed back count once the acceptor is woken for them)."""
        return bool(self._reading or self._lingering) or self._open() < self._cap

    def _set_listening(self, on: bool) -> None:
        if on == self._listening:
            return
        self._listening = on
        for listener in self._listeners:
            if on:
                self._selector.register(listener, selectors.EVENT_READ, listener)
            else:
                self._selector.unregister(listener)

    def _accept_some(self, listener: socket.socket) -> None:
        """Accept what waits, up to a batch: the kernel's queue stays short."""
        for _ in range(ACCEPT_BATCH):
            if not self._listening:
                return
            if self._open() >= self._cap:
                self._take_back()  # answered ones waiting to linger can make room too
                if not (self._reading or self._lingering):
                    return  # every connection is being answered: this one waits its turn
            if not self._accept(listener):
                return  # none was waiting: nothing is closed for it
            if self._open() > self._cap:
                self._evict_oldest()  # room for the one just accepted, never before

    def _accept(self, listener: socket.socket) -> bool:
        """Accept one connection; False when there is none to accept now."""
        try:
            sock, address = listener.accept()
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
            self._set_listening(False)
            return False
        self._pause = 0.0
        pending = Connection(sock, address, time.monotonic() + self._head_timeout)
        try:
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, pending)
        except (OSError, ValueError):
            _close(sock)
            return True
        self._reading[sock] = pending
        self._read(pending)  # a browser sends its request at once: it is often here already
        return True

    def _read(self, pending: Connection) -> None:
        try:
            chunk = pending.sock.recv(self._head_budget + 1 - len(pending.head))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(pending)
            return
        if not chunk and not pending.head:
            self._drop(pending)
            return
        pending.head += chunk
        if chunk and len(pending.head) <= self._head_budget and not head_complete(pending.head):
            return
        self._hand_over(pending)  # complete, too large, or the client is done sending

    def _discard(self, lingering: _Lingering) -> None:
        """Read and drop what a lingering connection sends; close it once it is done."""
        try:
            chunk = lingering.sock.recv(min(lingering.left, 65536))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        lingering.left -= len(chunk)
        if not chunk or lingering.left <= 0:
            self._drop(lingering)

    def _hand_over(self, pending: Connection) -> None:
        self._selector.unregister(pending.sock)
        del self._reading[pending.sock]
        pending.oversized = len(pending.head) > self._head_budget
        thread = threading.Thread(
            target=self._answer, args=(pending,), name="atmn-callback-request", daemon=True
        )
        with self._lock:
            self._serving[pending.sock] = thread
            self._threads.add(thread)
        try:
            pending.sock.setblocking(True)
            thread.start()
        except (OSError, RuntimeError):  # no thread could be started: drop this client
            with self._lock:
                self._threads.discard(thread)  # (stop() joins only threads that ran)
            pending.oversized = False
            self._finished(pending)

    def _answer(self, pending: Connection) -> None:
        try:  # never print a traceback (or a request) to the user's terminal
            with contextlib.suppress(Exception):
                self._serve(pending)
        finally:
            self._finished(pending)

    def _finished(self, pending: Connection) -> None:
        """On the answering thread: the answer is sent. The socket is closed, or handed
        back to linger on when its client may still be sending; the acceptor is woken
        either way (a slot is free)."""
        sock = pending.sock
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the client sees the end of the answer now
        with self._lock:
            del self._serving[sock]
            linger = pending.oversized and not self._stopping
            if linger:
                self._returned.append(sock)
            if not self._stopping:  # (stop() closes the pipe once this is set)
                with contextlib.suppress(OSError):
                    self._wake_w.send(b".")
        if not linger:
            _close(sock)

    def _evict_oldest(self) -> None:
        """Close the connection that has lingered the longest (answered ones handed back
        count, though the acceptor has not been woken for them yet), else the one that has
        been sending its head the longest, if there is one."""
        self._take_back()
        for table in self._tables():
            if table:
                self._drop(next(iter(table.values())))
                return

    def _drop(self, entry: Connection | _Lingering) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(entry.sock)
        self._reading.pop(entry.sock, None)
        self._lingering.pop(entry.sock, None)
        _close(entry.sock)
