"""Starving the callback server: many connections, trickled requests, no descriptors left.

The browser's redirect must still get through while an attacker holds connections open,
and a server out of file descriptors must wait for them, not spin.
"""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from atmn_auth.loopback.callback import CallbackServer

from .helpers import CODE, STATE, callback, free_ports, parse_response

#: The deadline of a connection's request head in the tests about making room: a browser
#: starved by held connections would wait that long for one to expire. Answered in under
#: a quarter of it is "answered at once" whatever the machine's load.
HOLD = 10.0
AT_ONCE = HOLD / 4


def _server(deadline: float) -> Iterator[CallbackServer]:
    server = CallbackServer(STATE, ports=free_ports(1))
    server.max_connections = 16
    server.connection_timeout = deadline
    with server:
        yield server


@pytest.fixture
def small_server() -> Iterator[CallbackServer]:
    """A cap of 16 connections, each head cut off after 0.5 s."""
    yield from _server(0.5)


@pytest.fixture
def holding_server() -> Iterator[CallbackServer]:
    """A cap of 16 connections that expire only after `HOLD` seconds: the browser gets
    through at once only if the server makes room by closing some."""
    yield from _server(HOLD)


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def test_a_trickled_request_head_is_cut_off_at_its_deadline(small_server: CallbackServer) -> None:
    """A byte every 0.1 s never lets a per-read timeout (0.5 s) expire; the head's own
    deadline does."""
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=5) as trickle:
        trickle.setblocking(False)
        started = time.monotonic()
        cut_off = None
        for byte in f"GET /?state={STATE}&code={CODE}&pad={'x' * 100}".encode():
            if closed_by_server(trickle):
                cut_off = time.monotonic() - started
                break
            try:
                trickle.send(bytes([byte]))
            except OSError:
                cut_off = time.monotonic() - started
                break
            time.sleep(0.1)
    assert cut_off is not None, "the server kept a trickling connection for 18 seconds"
    assert 0.4 < cut_off < 5.0, f"cut off after {cut_off:.2f} s, not at its 0.5 s deadline"
    assert callback(small_server.port).status == 200


def test_beyond_the_cap_the_oldest_idle_connections_make_room(
    holding_server: CallbackServer,
) -> None:
    """300 connections that send nothing: the server keeps at most its cap of them open,
    and the browser's redirect, arriving last, is answered at once."""
    idle = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", holding_server.port), timeout=5)
            sock.setblocking(False)
            idle.append(sock)
        sent = time.monotonic()
        response = callback(holding_server.port)
        answered = time.monotonic() - sent
        assert response.status == 200
        assert answered < AT_ONCE, f"answered after {answered:.2f} s"
        assert holding_server.wait(5).params["code"] == CODE
        time.sleep(0.1)
        still_open = [s for s in idle if not closed_by_server(s)]
        assert len(still_open) <= holding_server.max_connections
        assert still_open  # the newest ones were kept: nobody is refused without need
    finally:
        for sock in idle:
            sock.close()


def test_the_browser_gets_through_while_connections_keep_coming(
    holding_server: CallbackServer,
) -> None:
    """An attacker who opens a new connection for each one the server drops."""
    selector = selectors.DefaultSelector()
    held: set[socket.socket] = set()

    def connect() -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", holding_server.port))
        selector.register(sock, selectors.EVENT_READ)
        held.add(sock)

    try:
        for _ in range(100):
            connect()
        opened = 100
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # the churn is under way
            for key, _ in selector.select(0.01):
                selector.unregister(key.fileobj)
                held.discard(key.fileobj)  # type: ignore[arg-type]
                key.fileobj.close()  # type: ignore[union-attr]
                connect()
                opened += 1
        assert opened > 150
        sent = time.monotonic()
        assert callback(holding_server.port).status == 200
        assert time.monotonic() - sent < AT_ONCE
        assert holding_server.wait(5).params["code"] == CODE
    finally:
        for sock in held:
            sock.close()
        selector.close()


def test_connections_read_on_after_an_oversized_head_make_room(
    holding_server: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a 414 the server reads what the client still sends, for a second, so that the
    client sees the answer. A connection in that state used to count as one being
    answered: as many as the cap, held open, made the server close the browser's
    connection unanswered. Now they make room like unfinished heads."""
    from atmn_auth.loopback import connections

    monkeypatch.setattr(connections, "LINGER_SECONDS", HOLD)  # waiting them out: too long
    oversized = f"GET /?pad={'A' * 30_000}".encode()
    held = []
    started = time.monotonic()
    try:
        for _ in range(holding_server.max_connections):
            sock = socket.create_connection(("127.0.0.1", holding_server.port), timeout=5)
            sock.sendall(oversized)
            held.append(sock)
        for i, sock in enumerate(held):  # each is answered, and stays open while it is read
            try:
                answer = sock.recv(12)
            except OSError as exc:  # say what the server was doing, for a failure seen once
                acceptor = holding_server._acceptor
                pytest.fail(
                    f"connection {i} of {len(held)}: {exc!r} "
                    f"{time.monotonic() - started:.2f} s after the first was opened; "
                    f"acceptor failure: {acceptor.failure if acceptor else None!r}"
                )
            assert answer == b"HTTP/1.0 414"
        sent = time.monotonic()
        response = callback(holding_server.port)
        assert time.monotonic() - sent < AT_ONCE
        assert response.status == 200
        assert holding_server.wait(5).params["code"] == CODE
    finally:
        for sock in held:
            sock.close()


def test_reaching_the_cap_closes_nobody(
    holding_server: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As many connections as the cap, the last one slow to send its request: each is
    answered. (The server used to make room before accepting, so the connection that
    filled the cap closed the oldest unfinished one, unread, for a connection that never
    came: on a loaded machine, a person's own browser tab.) The answers are slowed, as the
    scheduler of a loaded machine slows them, so that none is done yet."""
    acceptor = holding_server._acceptor
    assert acceptor is not None
    answer = acceptor._serve
    monkeypatch.setattr(acceptor, "_serve", lambda c: (time.sleep(1.0), answer(c)))
    oversized = f"GET /?pad={'A' * 30_000}".encode()
    held = []
    try:
        for _ in range(holding_server.max_connections - 1):
            sock = socket.create_connection(("127.0.0.1", holding_server.port), timeout=5)
            sock.sendall(oversized)
            held.append(sock)
        time.sleep(0.3)  # all of them are being answered
        last = socket.create_connection(("127.0.0.1", holding_server.port), timeout=5)
        held.append(last)
        time.sleep(0.2)  # accepted; its request has not come yet
        last.sendall(oversized)
        answers = []
        for sock in held:
            try:
                answers.append(sock.recv(12))
            except OSError as exc:
                answers.append(repr(exc).encode())
        assert answers == [b"HTTP/1.0 414"] * holding_server.max_connections
    finally:
        for sock in held:
            sock.close()


def test_clients_that_never_read_their_answers_hold_no_room(
    holding_server: CallbackServer,
) -> None:
    """Complete requests from clients with the smallest receive buffer that never read:
    the answers are sent without waiting for them, and the browser gets through."""
    silent = []
    try:
        for i in range(200):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", holding_server.port))
            sock.sendall(f"GET /nothing-{i} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            silent.append(sock)
        sent = time.monotonic()
        response = callback(holding_server.port)
        assert time.monotonic() - sent < AT_ONCE
        assert response.status == 200
    finally:
        for sock in silent:
            sock.close()


# A callback server in a process whose descriptors run out: it reports its CPU time when
# they are gone, and again when asked; then it frees them and waits for the redirect.
OUT_OF_DESCRIPTORS = textwrap.dedent(
    """
    import os, resource, sys, time
    from atmn_auth.loopback.callback import CallbackServer

    port, state = int(sys.argv[1]), sys.argv[2]
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    with CallbackServer(state, ports=[port]) as server:
        time.sleep(0.2)  # the server is up and listening
        fillers = []
        try:
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        print("full", time.process_time(), flush=True)
        sys.stdin.readline()
        print("cpu", time.process_time(), flush=True)
        sys.stdin.readline()
        for fd in fillers:
            os.close(fd)
        print("freed", flush=True)
        print("code", server.wait(10).params["code"], flush=True)
    """
)


def test_out_of_descriptors_the_server_waits_without_spinning_and_recovers() -> None:
    port = free_ports(1)[0]
    child = subprocess.Popen(
        [sys.executable, "-c", OUT_OF_DESCRIPTORS, str(port), STATE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        word, before = child.stdout.readline().split()
        assert word == "full", child.stderr.read() if child.stderr else ""
        # the browser's redirect: the kernel queues it; accept() fails with EMFILE
        browser = socket.create_connection(("127.0.0.1", port), timeout=10)
        target = f"/?code={CODE}&state={STATE}"
        browser.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
        time.sleep(3)
        child.stdin.write("cpu\n")
        child.stdin.flush()
        word, after = child.stdout.readline().split()
        assert word == "cpu"
        busy = float(after) - float(before)
        assert busy < 0.3, f"the server used {busy:.2f} s of CPU in 3 s while out of descriptors"

        child.stdin.write("free\n")
        child.stdin.flush()
        assert child.stdout.readline() == "freed\n"
        freed = time.monotonic()
        raw = b""
        while chunk := browser.recv(65536):
            raw += chunk
        browser.close()
        assert parse_response(raw).status == 200
        # the pauses grow to half a second at most (a server that gave up never answers)
        assert time.monotonic() - freed < 5.0
        assert child.stdout.readline() == f"code {CODE}\n"
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
