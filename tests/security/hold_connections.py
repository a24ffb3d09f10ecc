"""An attacker that holds connections to a local port, as a process of its own.

    python hold_connections.py PORT IDLE TRICKLING

keeps IDLE connections that send nothing and TRICKLING ones that send a byte of a request
every 2 seconds, and opens a new one for each the server closes. Prints `holding N` once
all are connected (or after 5 seconds: N are); on SIGTERM prints `opened N` (connections
made in all) and exits.
"""

from __future__ import annotations

import errno
import selectors
import signal
import socket
import sys
import time

TRICKLE_EVERY = 2.0
REQUEST = b"GET /?state=" + b"a" * 4000


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


def main(port: int, idle: int, trickling: int) -> int:
    selector = selectors.DefaultSelector()
    trickle_at: dict[socket.socket, tuple[float, int]] = {}
    opened = 0
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    def connect(trickles: bool) -> None:
        nonlocal opened
        sock = socket.socket()
        sock.setblocking(False)
        if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
            sock.close()
            time.sleep(0.01)  # the server is gone: no busy loop here either
            return
        selector.register(sock, selectors.EVENT_READ, trickles)
        if trickles:
            trickle_at[sock] = (time.monotonic() + TRICKLE_EVERY, 0)
        opened += 1

    for i in range(idle + trickling):
        connect(trickles=i >= idle)
        time.sleep(0.002)  # paced, so that the server accepts them as they come
    print(f"holding {connected(selector, time.monotonic() + 5)}", flush=True)
    while not stop:
        for key, _ in selector.select(0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                closed = sock.recv(4096) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:  # reopen what the server dropped
                selector.unregister(sock)
                trickle_at.pop(sock, None)
                sock.close()
                connect(trickles=bool(key.data))
        now = time.monotonic()
        for sock, (when, sent) in list(trickle_at.items()):
            if when <= now:
                try:
                    sock.send(REQUEST[sent : sent + 1])
                except OSError:
                    continue
                trickle_at[sock] = (now + TRICKLE_EVERY, (sent + 1) % len(REQUEST))
    print(f"opened {opened}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
