"""What the callback server answers, and which requests end the sign-in."""

from __future__ import annotations

import socket
import threading

import pytest

from atmn_auth.loopback.callback import CallbackServer

from .helpers import (
    CODE,
    STATE,
    assert_safe_page,
    assert_still_waiting,
    callback,
    request,
    send_raw,
)


def test_right_state_settles_with_a_safe_success_page(server: CallbackServer) -> None:
    response = callback(server.port)
    assert response.status == 200
    assert_safe_page(response)
    assert "Sign-in approved" in response.body
    assert "return to your terminal to finish" in response.body
    result = server.wait(5)
    assert result.params == {
        "code": CODE,
        "state": STATE,
        "iss": "http://localhost:8080",
    }
    assert result.via == "browser"


def test_wrong_state_does_not_end_the_flow_but_the_right_one_does(
    server: CallbackServer,
) -> None:
    forged = callback(server.port, code="attacker-code", state="attacker-state")
    assert forged.status == 400
    assert_safe_page(forged)
    assert "attacker" not in forged.body
    assert "not belong to the sign-in" in forged.body
    assert_still_waiting(server)
    assert callback(server.port).status == 200
    assert server.wait(5).params["code"] == CODE


@pytest.mark.parametrize(
    "target",
    [
        f"/?code={CODE}",  # no state
        f"/?code={CODE}&state=",  # empty state
        f"/?code={CODE}&state={STATE[:-1]}",  # a prefix of it
        f"/?state={STATE}",  # right state, but neither code nor error
        f"/?code={CODE}&state={STATE}&state=other",  # state given twice
    ],
    ids=["no-state", "empty-state", "state-prefix", "no-code", "two-states"],
)
def test_requests_that_do_not_settle(server: CallbackServer, target: str) -> None:
    response = request(server.port, target)
    assert response.status == 400
    assert_safe_page(response)
    assert "Return to your terminal" in response.body
    assert_still_waiting(server)


def test_access_denied_settles_with_the_error(server: CallbackServer) -> None:
    response = request(
        server.port, f"/?error=access_denied&error_description=User%20denied&state={STATE}"
    )
    assert response.status == 200
    assert_safe_page(response)
    assert "You chose Deny; nothing was created" in response.body
    assert "run <code>atmn login</code>" in response.body
    assert "approved" not in response.body
    result = server.wait(5)
    assert result.params == {
        "error": "access_denied",
        "error_description": "User denied",
        "state": STATE,
    }


def test_the_error_code_is_shown_escaped(server: CallbackServer) -> None:
    response = request(server.port, f"/?error=%3Cscript%3Ealert(1)%3C/script%3E&state={STATE}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.body
    assert "<script" not in response.body
    assert server.wait(5).params["error"] == "<script>alert(1)</script>"


def test_a_second_callback_is_already_handled_and_changes_nothing(
    server: CallbackServer,
) -> None:
    assert callback(server.port).status == 200
    again = callback(server.port, code="second-code")
    assert again.status == 200
    assert "already handled" in again.body
    assert_safe_page(again)
    denied = request(server.port, f"/?error=access_denied&state={STATE}")
    assert "already handled" in denied.body
    assert server.wait(5).params["code"] == CODE


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", f"/callback?code={CODE}&state={STATE}", 404),
        ("GET", "/favicon.ico", 404),
        ("GET", f"//evil.example/?code={CODE}&state={STATE}", 404),
        ("POST", f"/?code={CODE}&state={STATE}", 405),
        ("PUT", f"/?code={CODE}&state={STATE}", 405),
        ("HEAD", f"/?code={CODE}&state={STATE}", 405),
    ],
)
def test_other_paths_and_methods_are_refused(
    server: CallbackServer, method: str, target: str, status: int
) -> None:
    response = request(server.port, target, method=method)
    assert response.status == status
    assert response.headers["cache-control"] == "no-store"
    if status == 405:
        assert response.headers["allow"] == "GET"
    assert_still_waiting(server)


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "localhost", "localhost:{wrong}", "0.0.0.0:{port}"],
)
def test_a_foreign_host_header_is_refused(server: CallbackServer, host: str) -> None:
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1
    header = host.format(port=server.port, wrong=server.port + 1)
    response = callback(server.port, host_header=header)
    assert response.status == 400
    assert_safe_page(response)
    assert_still_waiting(server)


def test_a_missing_or_doubled_host_header_is_refused(server: CallbackServer) -> None:
    assert callback(server.port, host_header=None).status == 400
    doubled = callback(server.port, extra=f"Host: evil.example:{server.port}\r\n")
    assert doubled.status == 400
    assert_still_waiting(server)


@pytest.mark.parametrize("name", ["localhost", "LocalHost", "127.0.0.1", "[::1]"])
def test_loopback_host_headers_are_accepted(server: CallbackServer, name: str) -> None:
    assert callback(server.port, host_header=f"{name}:{server.port}").status == 200
    assert server.wait(5).params["code"] == CODE


def test_a_very_long_url_is_refused_and_the_flow_goes_on(server: CallbackServer) -> None:
    long_target = f"/?code={CODE}&state={STATE}&pad={'A' * 100_000}"
    response = request(server.port, long_target)
    assert response.status == 414
    assert_safe_page(response)
    assert_still_waiting(server)
    assert callback(server.port).status == 200
    assert server.wait(5).params["code"] == CODE


def test_oversized_headers_are_refused(server: CallbackServer) -> None:
    headers = "".join(f"X-Pad-{i}: {'B' * 1000}\r\n" for i in range(100))
    assert callback(server.port, extra=headers).status == 431
    assert_still_waiting(server)


def test_garbage_gets_a_400_and_the_flow_goes_on(server: CallbackServer) -> None:
    raw = send_raw(server.port, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert raw.startswith(b"HTTP/1.0 400 ")
    assert_still_waiting(server)
    assert callback(server.port).status == 200


def test_nothing_is_printed(server: CallbackServer, capfd: pytest.CaptureFixture[str]) -> None:
    request(server.port, f"/?code=wrong&state={STATE}x")
    request(server.port, "/favicon.ico", method="POST")
    send_raw(server.port, b"garbage\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"GET /?code=")  # hang up mid-request
    callback(server.port)
    server.wait(5)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_a_silent_connection_does_not_block_the_callback(server: CallbackServer) -> None:
    stalled = []
    try:
        for i in range(20):  # slowloris: connections that never finish a request
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            if i % 2:
                s.sendall(b"GET /?state=" + STATE.encode()[:10])
            stalled.append(s)
        assert callback(server.port).status == 200
        assert server.wait(5).params["code"] == CODE
    finally:
        for s in stalled:
            s.close()


def test_an_idle_connection_is_dropped() -> None:
    from .helpers import free_ports

    server = CallbackServer(STATE, ports=free_ports(1))
    server.connection_timeout = 0.2
    with server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as idle:
        idle.sendall(b"GET / HTTP/1.1\r\n")  # and then nothing more
        assert idle.recv(1024) == b""  # the server hangs up (a 5 s client timeout would raise)


def test_a_flood_of_bad_requests_does_not_block_the_callback(server: CallbackServer) -> None:
    port = server.port
    bad = [
        f"GET /?code=x&state=wrong HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode(),
        f"GET /favicon.ico HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode(),
        f"GET /?code=x&state={STATE} HTTP/1.1\r\nHost: evil.example\r\n\r\n".encode(),
        b"\x00\xff garbage\r\n\r\n",
    ]
    answered = []
    lock = threading.Lock()

    def flood(worker: int) -> None:
        for i in range(40):
            raw = send_raw(port, bad[(worker + i) % len(bad)])
            with lock:
                answered.append(raw.split(b" ", 2)[1])

    workers = [threading.Thread(target=flood, args=(w,)) for w in range(8)]
    for w in workers:
        w.start()
    response = callback(port)  # in the middle of the flood
    for w in workers:
        w.join(timeout=30)
    assert response.status == 200
    assert server.wait(5).params["code"] == CODE
    assert len(answered) == 320
    assert set(answered) <= {b"400", b"404"}
