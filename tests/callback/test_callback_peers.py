"""The start link against other users' sockets (IPv6, v4-mapped, a peer that leaves at once), and
the callback server's end: no thread left answering, a failed acceptor ends the wait."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atmn_auth.errors import AtmnError
from atmn_auth.loopback.callback import CallbackServer

from .helpers import STATE, free_ports, request
from .test_callback_start_link import SIGN_IN_URL, assert_gives_nothing_away, path_of


@pytest.fixture
def server() -> Iterator[CallbackServer]:
    with CallbackServer(STATE, ports=free_ports(3)) as srv:
        yield srv


AS_NOBODY = """
import encodings.idna, os, socket, struct, sys, time
os.setgid(65534)
os.setuid(65534)  # nobody
port, path, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mapped = (socket.AF_INET6, "::ffff:127.0.0.1")
family, host = mapped if how == "mapped" else (socket.AF_INET, "127.0.0.1")
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(5)
s.connect((host, port))
s.sendall(f"GET {path} HTTP/1.1\\r\\nHost: localhost:{port}\\r\\n\\r\\n".encode())
if how == "reset":  # leave at once, without reading the answer
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    sys.exit()
data = b""
while chunk := s.recv(65536):
    data += chunk
sys.stdout.write(data.decode("latin-1"))
"""

needs_root = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="playing another user takes root (setuid), and the kernel's table is Linux's",
)


def as_nobody(port: int, path: str, how: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", AS_NOBODY, str(port), path, how],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


@needs_root
def test_another_user_on_an_ipv6_socket_cannot_use_the_link(server: CallbackServer) -> None:
    """A dual-stack IPv6 socket connected to ::ffff:127.0.0.1 reaches the IPv4 listener;
    the kernel lists it in /proc/net/tcp6, not /proc/net/tcp."""
    link = server.start_link(SIGN_IN_URL)
    other = as_nobody(server.port, path_of(link), "mapped")
    assert other.startswith("HTTP/1.0 403 "), other
    assert_gives_nothing_away(other.encode())
    assert request(server.port, path_of(link)).status == 303


@needs_root
def test_another_user_who_leaves_at_once_does_not_use_up_the_link(
    server: CallbackServer,
) -> None:
    link = server.start_link(SIGN_IN_URL)
    as_nobody(server.port, path_of(link), "reset")
    time.sleep(0.2)  # the server has read and answered that request
    mine = request(server.port, path_of(link))
    assert mine.status == 303
    assert mine.headers["location"] == SIGN_IN_URL


CLOSE_AFTER_SENDING = """
import encodings.idna, os, socket, sys, time
os.setgid(65534)
os.setuid(65534)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /")
s.close()  # the kernel keeps its end in TIME_WAIT, printed with uid 0: not root's
"""


@needs_root
def test_a_closed_peer_is_nobody_of_this_user() -> None:
    from atmn_auth.loopback.peers import another_user, peer_uid

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        subprocess.run(
            [sys.executable, "-c", CLOSE_AFTER_SENDING, str(listener.getsockname()[1])],
            timeout=30,
            check=True,
        )
        accepted, _ = listener.accept()
        with accepted:
            time.sleep(0.2)
            assert peer_uid(accepted) is None
            assert another_user(accepted)


on_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's connection table is Linux's"
)


def _tables(into: Path, *, leave_out: int | None = None) -> dict[int, str]:
    """Copies of the kernel's connection tables, without the rows whose local port is
    `leave_out`."""
    copies = {}
    for family, name in ((socket.AF_INET, "tcp"), (socket.AF_INET6, "tcp6")):
        rows = Path(f"/proc/net/{name}").read_text(encoding="ascii").splitlines(keepends=True)
        kept = [rows[0]] + [
            row for row in rows[1:] if int(row.split()[1].rsplit(":", 1)[1], 16) != leave_out
        ]
        copy = into / name
        copy.write_text("".join(kept), encoding="ascii")
        copies[family] = str(copy)
    return copies


@on_linux
@pytest.mark.parametrize("leaving", ["close", "reset"])
def test_a_peer_missing_from_the_table_counts_as_gone_once_our_end_saw_it_leave(
    tmp_path: Path, leaving: str
) -> None:
    """A client that resets leaves the kernel's table before the reset reaches our end.
    That moment cannot be produced on demand, so the test reads a copy of the live
    tables without the client's row. While the client is connected, a missing row tells
    nothing (a peer beyond this network namespace, as with WSL's mirrored networking, is
    not listed either, and must not be refused); once our end has seen it close or
    reset, it is gone and cannot use up the start link."""
    from atmn_auth.loopback.peers import _GONE, _owner

    empty = _tables(tmp_path)  # from before the connection: neither end
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with accepted:
            assert _owner(accepted) == os.getuid()  # the live table lists the client
            (tmp_path / "left").mkdir()
            left = _tables(tmp_path / "left", leave_out=client.getsockname()[1])
            assert _owner(accepted, tables=left) is None
            assert _owner(accepted, tables=empty) is None
            if leaving == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            assert _owner(accepted, tables=left) == _GONE
            assert _owner(accepted, tables=empty) == _GONE
            missing = {family: str(tmp_path / "none") for family in left}
            assert _owner(accepted, tables=missing) == _GONE


def test_close_leaves_no_thread_answering(server: CallbackServer) -> None:
    """A client whose headers are too large keeps its connection open while the server
    reads the rest of its request (up to a second): close() cuts that short, and its
    thread ends before close() returns, having closed the socket itself."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(f"GET / HTTP/1.1\r\nHost: localhost:{server.port}\r\nX: ".encode())
        client.sendall(b"a" * 30000)
        assert client.recv(12).startswith(b"HTTP/1.0 431")
        server.close()
        assert not [t for t in threading.enumerate() if t.name == "atmn-callback-request"]


def test_close_waits_for_a_thread_that_has_just_let_its_connection_go(
    server: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread that has sent its answer and given up its connection is still running
    while it closes the socket: close() waits for it too, so none is left answering after
    close() returns. (The pause in the socket's close is injected: on a loaded machine the
    thread can be held there by the scheduler, which a test cannot make happen on demand.)"""
    from atmn_auth.loopback import connections

    closing = threading.Event()
    real_close = connections._close

    def slow_close(sock: socket.socket) -> None:
        if threading.current_thread().name == "atmn-callback-request":
            closing.set()
            time.sleep(0.3)
        real_close(sock)

    monkeypatch.setattr(connections, "_close", slow_close)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(f"GET /elsewhere HTTP/1.1\r\nHost: localhost:{server.port}\r\n\r\n".encode())
        answer = b""
        while chunk := client.recv(4096):  # the whole answer, up to the end of it
            answer += chunk
        assert answer.startswith(b"HTTP/1.0 404")
        assert closing.wait(5)
        server.close()
        assert not [t for t in threading.enumerate() if t.name == "atmn-callback-request"]


def test_a_dead_acceptor_ends_the_wait_at_once(monkeypatch: pytest.MonkeyPatch, capfd) -> None:  # type: ignore[no-untyped-def]
    """An unexpected error on the thread that accepts connections (here injected: a real
    client cannot cause one on demand) ends wait() with one line, not a traceback and five
    minutes of nothing."""
    from atmn_auth.loopback import connections

    def broken(head: bytes) -> bool:
        raise MemoryError

    monkeypatch.setattr(connections, "head_complete", broken)
    with (
        CallbackServer(STATE, ports=free_ports(1)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as s,
    ):
        s.sendall(b"GET /")
        started = time.monotonic()
        with pytest.raises(AtmnError, match="the callback server stopped"):
            server.wait(30)
        assert time.monotonic() - started < 5.0  # at once, not at the end of the wait
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
