"""The stand-in keeps HTTP/1.1 connections alive, as a hosted API does, and numbers them in
its request log (`GET /healthz 200 0.4ms conn=3`), so a test can count a client's connections.
"""

from __future__ import annotations

import re
import socket
import time

import httpx2

from support.autumn_server import AutumnServer
from support.oauth_flow import AUTHORIZE_PATH, oauth_client
from support.scripted_browser import browse

LOG_LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>/\S*) (?P<status>\d{3}) \d+\.\dms conn=(?P<conn>\d+)$"
)


class RequestLines:
    """The request lines a server logs from now on, as (method, path, status, conn)."""

    def __init__(self, server: AutumnServer) -> None:
        self.server = server
        self.offset = len(server.log_text())

    def read(self) -> list[tuple[str, str, int, int]]:
        lines = self.server.log_text()[self.offset :].splitlines()
        found = [LOG_LINE.match(line) for line in lines]
        return [(m["method"], m["path"], int(m["status"]), int(m["conn"])) for m in found if m]

    def connections(self) -> list[int]:
        return [conn for *_, conn in self.read()]


def read_until_closed(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it hangs up; fails if it does not within `timeout`."""
    sock.settimeout(timeout)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_two_requests_from_one_client_go_over_one_connection(autumn_server):
    log = RequestLines(autumn_server)
    with httpx2.Client(base_url=autumn_server.url) as client:
        first = client.get("/healthz")
        second = client.get("/healthz")
    assert first.status_code == second.status_code == 200
    assert first.headers["connection"] == "keep-alive"
    lines = log.read()
    assert [(method, path, status) for method, path, status, _ in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/healthz", 200),
    ]
    assert len({conn for *_, conn in lines}) == 1


def test_a_client_asking_for_close_gets_the_connection_closed(autumn_server):
    log = RequestLines(autumn_server)
    with httpx2.Client(base_url=autumn_server.url) as client:
        closing = client.get("/healthz", headers={"Connection": "close"})
        after = client.get("/healthz")
    assert closing.headers["connection"] == "close"
    assert after.status_code == 200
    first, second = log.connections()
    assert first != second

    with socket.create_connection(("127.0.0.1", autumn_server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        response = read_until_closed(sock)  # the server hangs up after the response
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close\r\n" in response


def test_http_1_0_without_keep_alive_is_closed(autumn_server):
    with socket.create_connection(("127.0.0.1", autumn_server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        response = read_until_closed(sock)
    assert b'"autumn-local"' in response


def test_request_bodies_read_or_not_leave_the_connection_usable(autumn_server):
    log = RequestLines(autumn_server)
    with httpx2.Client(base_url=autumn_server.url) as client:
        refused = client.post(
            "/api/auth/oauth2/token", data={"grant_type": "authorization_code", "code": "x"}
        )
        unread = client.post("/healthz", content=b"x" * 20_000)  # 405: body never read
        health = client.get("/healthz")
    assert refused.status_code == 400
    assert unread.status_code == 405
    assert health.status_code == 200
    assert len(set(log.connections())) == 1


def test_a_large_unread_body_closes_the_connection_instead_of_reading_it(autumn_server):
    with socket.create_connection(("127.0.0.1", autumn_server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n"
        )
        response = read_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 405 ")
    assert b"\r\nConnection: close\r\n" in response


def test_the_whole_browser_sign_in_goes_over_one_connection(autumn_server):
    url, _ = oauth_client().create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    log = RequestLines(autumn_server)
    with httpx2.Client(follow_redirects=False, timeout=10) as client:
        outcome = browse(
            url,
            email=autumn_server.email,
            password=autumn_server.password,
            follow_callback=False,
            client=client,
        )
    assert outcome.redirect_uri is not None
    assert len(log.read()) >= 3
    assert len(set(log.connections())) == 1


def test_the_log_line_keeps_the_query_string_out(autumn_server):
    log = RequestLines(autumn_server)
    httpx2.get(autumn_server.url + "/healthz?code=secret-code-123")
    assert "secret-code-123" not in autumn_server.log_text()
    assert [(m, p, s) for m, p, s, _ in log.read()] == [("GET", "/healthz", 200)]


def test_sigterm_stops_promptly_with_idle_kept_alive_connections(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        assert client.get("/healthz").status_code == 200  # its connection now waits, idle
        with socket.create_connection(("127.0.0.1", autumn_server.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            started = time.monotonic()
            autumn_server.stop()
            stopped_in = time.monotonic() - started
            assert read_until_closed(sock) == b""  # the server hung up the idle connection
    assert autumn_server.returncode == 0
    assert stopped_in < 3
    assert autumn_server.log_text().rstrip().endswith("autumn-local stopped")
