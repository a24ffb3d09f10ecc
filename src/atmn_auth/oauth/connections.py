"""The loopback server's sockets: listening, accepting, and reading request heads, so that
many idle or trickling connections cannot starve the browser's redirect, nor make the
server spin.

One thread (`Acceptor`) serves the listening sockets and reads every request head; a
connection gets a thread of its own only once its head is complete. Connections are capped
(the oldest one still sending its head makes room for a new one), a head must arrive whole
within `head_timeout` however slowly it trickles, and when `accept()` fails (out of file
descriptors) listening pauses, longer each time.

Each socket has one owner, who alone closes it: the acceptor while the head comes in, then
the thread answering it. `stop()` only shuts those down (which wakes their threads) and
waits for their threads a moment, so nothing is closed twice or while in use.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_CONNECTIONS = 1024  # open at once, at most; and fewer than the descriptors left
FD_RESERVE = 64  # descriptors the connections leave for the rest of the sign-in
BACKLOG = 1024  # the kernel's queue: a browser's connection waits there, never dropped
ACCEPT_BATCH = 32  # connections accepted in a row before anything else is looked at
_PAUSE_FIRST, _PAUSE_MAX = 0.005, 0.5  # listening pauses after a failed accept(), doubling


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
        self._reading: dict[socket.socket, Connection] = {}  # oldest first
        self._serving: dict[socket.socket, threading.Thread] = {}  # under _lock
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
        """Stop the thread (every connection still sending its head is closed), cut the
        connections being answered, and give their threads `grace` seconds to end."""
        if self._thread.is_alive():
            self._wake_w.send(b"x")
            self._thread.join()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:  # a socket leaves _serving (under the lock) before it is closed
            answering = list(self._serving.items())
            for sock, _ in answering:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes its thread; the thread closes it
        deadline = time.monotonic() + grace
        for _, thread in answering:
            thread.join(max(0.0, deadline - time.monotonic()))

    # the thread

    def _run(self) -> None:
        try:
            while True:
                for key, _ in self._selector.select(self._timeout()):
                    if key.data is None:
                        return
                    if isinstance(key.data, Connection):
                        self._read(key.data)
                    else:
                        self._accept_some(key.data)
                now = time.monotonic()
                while self._reading and next(iter(self._reading.values())).deadline <= now:
                    self._drop(next(iter(self._reading.values())))
                if self._resume_at is not None and now >= self._resume_at:
                    self._resume_at = None
                    self._set_listening(True)
        except Exception as exc:  # the owner reports it: a silent death would leave the
            self.failure = exc  # browser's connection queued, unanswered, for minutes
        finally:
            for pending in list(self._reading.values()):
                self._drop(pending)

    def _timeout(self) -> float | None:
        times = [] if self._resume_at is None else [self._resume_at]
        if self._reading:
            times.append(next(iter(self._reading.values())).deadline)
        return max(0.0, min(times) - time.monotonic()) if times else None

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
            if not self._listening or not self._accept(listener):
                return

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
        with self._lock:
            full = len(self._reading) + len(self._serving) >= self._cap
        if full and not self._evict_oldest():
            _close(sock)  # every connection is a complete request being answered
            return True
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

    def _hand_over(self, pending: Connection) -> None:
        self._selector.unregister(pending.sock)
        del self._reading[pending.sock]
        thread = threading.Thread(
            target=self._answer, args=(pending,), name="atmn-callback-request", daemon=True
        )
        with self._lock:
            self._serving[pending.sock] = thread
        try:
            pending.sock.setblocking(True)
            thread.start()
        except (OSError, RuntimeError):  # no thread could be started: drop this client
            self._finished(pending.sock)

    def _answer(self, pending: Connection) -> None:
        try:  # never print a traceback (or a request) to the user's terminal
            with contextlib.suppress(Exception):
                self._serve(pending)
        finally:
            self._finished(pending.sock)

    def _finished(self, sock: socket.socket) -> None:
        with self._lock:
            del self._serving[sock]
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        _close(sock)

    def _evict_oldest(self) -> bool:
        """Close the connection that has been sending its head the longest, if any."""
        if not self._reading:
            return False
        self._drop(next(iter(self._reading.values())))
        return True

    def _drop(self, pending: Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(pending.sock)
        self._reading.pop(pending.sock, None)
        _close(pending.sock)
