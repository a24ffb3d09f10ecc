"""An attacker that holds connections to a local port, as a process of its own.

    python hold_connections.py PORT IDLE TRICKLING [OVERSIZED]

keeps IDLE connections that send nothing, TRICKLING ones that send a byte of a request
every 2 seconds, and OVERSIZED ones that send a request head larger than the server takes
(it answers 414 and then reads what is still coming, for a while) and then a byte every
0.1 s, and opens a new one for each the server closes. Prints `holding N` once all are
connected (or after 5 seconds: N are); on SIGTERM prints `answered N` (oversized heads
the server was seen answering, 414/431) and then `opened N` (connections made in all),
and exits.
"""

from __future__ import annotations

import errno
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass

TRICKLE_EVERY = 2.0
REQUEST = b"GET /?state=" + b"a" * 4000
OVERSIZED_EVERY = 0.1
OVERSIZED_HEAD = b"GET /?state=" + b"a" * (32 * 1024)  # over the 24 KiB a head may have
IDLE, TRICKLING, OVERSIZED = "idle", "trickling", "oversized"


@dataclass
class Held:
    kind: str
    unsent: bytes = b""  # what the kernel has not taken yet (of an oversized head)
    next_at: float = 0.0  # when the next byte goes (trickling, oversized)
    sent: int = 0  # bytes of REQUEST trickled so far
    answer: bytes = b""  # the start of what the server sent back
    eof: bool = False  # the server has half-closed it (and is reading what comes)


def connected(selector: selectors.BaseSelector, deadline: float) -> int:
    """How many of the selector's sockets are connected, once all are or at `deadline`."""
    waiting = selectors.DefaultSelector()
    for key in selector.get_map().values():
        waiting.register(key.fileobj, selectors.EVENT_WRITE)
    done = 0
    while waiting.get_map() and time.monotonic() < deadline:
        for key, _ in waiting.select(0.1):
            waiting.unregister(key.fileobj)
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            done += sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    waiting.close()
    return done


def main(port: int, idle: int, trickling: int, oversized: int = 0) -> int:
    selector = selectors.DefaultSelector()
    held: dict[socket.socket, Held] = {}
    opened = answered = 0
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    def connect(kind: str) -> None:
        nonlocal opened
        sock = socket.socket()
        sock.setblocking(False)
        if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
            sock.close()
            time.sleep(0.01)  # the server is gone: no busy loop here either
            return
        selector.register(sock, selectors.EVENT_READ)
        now = time.monotonic()
        if kind == TRICKLING:
            held[sock] = Held(kind, next_at=now + TRICKLE_EVERY)
        elif kind == OVERSIZED:  # sent at once, so that it is all there when accepted
            held[sock] = Held(kind, unsent=OVERSIZED_HEAD, next_at=now)
            send(sock, held[sock], now)
        else:
            held[sock] = Held(kind)
        opened += 1

    def reopen(sock: socket.socket) -> None:
        nonlocal answered
        state = held.pop(sock)
        answered += state.answer.startswith((b"HTTP/1.0 414", b"HTTP/1.0 431"))
        if not state.eof:
            selector.unregister(sock)
        sock.close()
        connect(state.kind)

    def send(sock: socket.socket, state: Held, now: float) -> bool:
        """Sends what is due on `sock`; False once the server has closed it."""
        try:
            if state.unsent:  # the oversized head, as fast as the server takes it
                state.unsent = state.unsent[sock.send(state.unsent) :]
            elif state.kind == OVERSIZED:  # then a byte now and then, while it reads
                sock.send(b"a")
                state.next_at = now + OVERSIZED_EVERY
            else:
                sock.send(REQUEST[state.sent : state.sent + 1])
                state.sent = (state.sent + 1) % len(REQUEST)
                state.next_at = now + TRICKLE_EVERY
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:  # reset, or shut: the server is done with it
            return exc.errno in (errno.ENOTCONN, errno.EAGAIN)  # still connecting
        return True

    for i in range(idle + trickling + oversized):
        connect(IDLE if i < idle else TRICKLING if i < idle + trickling else OVERSIZED)
        time.sleep(0.002)  # paced, so that the server accepts them as they come
    print(f"holding {connected(selector, time.monotonic() + 5)}", flush=True)
    while not stop:
        for key, _ in selector.select(0.02):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            state = held[sock]
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                reopen(sock)  # reset
                continue
            if len(state.answer) < 16:
                state.answer += data[: 16 - len(state.answer)]
            if data:
                continue
            if state.kind != OVERSIZED:
                reopen(sock)  # the server dropped it: open another
            else:  # the server answered and half-closed it, and reads what still comes:
                state.eof = True  # go on sending, until the server closes it
                selector.unregister(sock)
        now = time.monotonic()
        for sock, state in list(held.items()):
            if state.kind != IDLE and state.next_at <= now and not send(sock, state, now):
                reopen(sock)
    print(f"answered {answered}", flush=True)
    print(f"opened {opened}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:5])))  # type: ignore[arg-type]
