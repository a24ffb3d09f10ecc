"""Which port the callback server takes, and that it gives it back."""

from __future__ import annotations

import socket
from contextlib import ExitStack

import pytest

from atmn_auth.errors import PortsTakenError
from atmn_auth.loopback.callback import CallbackServer
from atmn_auth.settings import CALLBACK_PORTS

from .helpers import (
    CODE,
    STATE,
    callback,
    consecutive_free_ports,
    free_ports,
    has_ipv6_loopback,
    occupied,
    parse_response,
    request,
    send_raw,
)

# another program on loopback only, or on every interface (as the published `atmn` does)
ANY_V4 = "0.0.0.0"  # noqa: S104
OCCUPANTS = ["127.0.0.1", ANY_V4] + (["::1", "::"] if has_ipv6_loopback() else [])


def test_real_port_range_and_localhost_redirect() -> None:
    # The shared 31448-31452 range: other test runs may hold some of it (rerun on a clash).
    with CallbackServer(STATE) as server:
        assert server.port in CALLBACK_PORTS
        assert server.redirect_uri == f"http://localhost:{server.port}/"
        # Reach it the way a browser does: by the name `localhost`, whatever it resolves to.
        data = f"GET /?code={CODE}&state={STATE} HTTP/1.1\r\nHost: localhost:{server.port}\r\n\r\n"
        assert parse_response(send_raw(server.port, data.encode(), host="localhost")).status == 200
        result = server.wait(5)
    assert result.params["code"] == CODE
    assert result.via == "browser"


@pytest.mark.parametrize("occupant", OCCUPANTS)
def test_a_taken_port_is_skipped_for_the_next(occupant: str) -> None:
    ports = free_ports(3)
    with occupied(occupant, ports[0]), CallbackServer(STATE, ports=ports) as server:
        assert server.port == ports[1]
        assert server.redirect_uri == f"http://localhost:{ports[1]}/"
        assert callback(server.port).status == 200
        assert server.wait(5).params["code"] == CODE


def test_all_ports_taken_names_the_range() -> None:
    ports = consecutive_free_ports(3)
    with ExitStack() as stack:
        for port in ports:
            stack.enter_context(occupied("127.0.0.1", port))
        with pytest.raises(PortsTakenError) as caught:
            CallbackServer(STATE, ports=ports).start()
    message = str(caught.value)
    assert f"all callback ports {ports[0]}\u2013{ports[2]} are in use on 127.0.0.1" in message
    assert "\n" not in message
    assert caught.value.exit_code == 1
    # and nothing was left listening: the ports are free again
    with CallbackServer(STATE, ports=ports) as server:
        assert server.port == ports[0]


def test_host_name_sets_the_redirect_uri() -> None:
    with CallbackServer(STATE, ports=free_ports(1), host_name="127.0.0.1") as server:
        assert server.redirect_uri == f"http://127.0.0.1:{server.port}/"
        assert callback(server.port, host_header=f"127.0.0.1:{server.port}").status == 200


def _bind_plain(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, port))  # no SO_REUSEADDR: fails if anything still holds the port
        s.listen()


def test_close_frees_the_port() -> None:
    server = CallbackServer(STATE, ports=free_ports(1))
    server.start()
    port = server.port
    server.close()
    server.close()  # idempotent
    _bind_plain("127.0.0.1", port)
    if has_ipv6_loopback():
        _bind_plain("::1", port)


def test_after_a_sign_in_the_next_login_gets_the_same_port() -> None:
    ports = free_ports(2)
    with CallbackServer(STATE, ports=ports) as server:
        assert callback(server.port).status == 200
        server.wait(5)
    with CallbackServer(STATE, ports=ports) as again:
        assert again.port == ports[0]


def test_leaving_the_with_block_on_an_error_closes_the_sockets() -> None:
    ports = free_ports(1)
    with pytest.raises(RuntimeError), CallbackServer(STATE, ports=ports):
        raise RuntimeError("boom")
    _bind_plain("127.0.0.1", ports[0])


def test_close_cuts_connections_that_are_still_open() -> None:
    server = CallbackServer(STATE, ports=free_ports(1))
    server.connection_timeout = 60.0  # so only close() can end the connection below
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as idle:
        idle.sendall(b"GET /?sta")  # a client that never finishes its request
        # a later request is answered only after the server accepted the earlier connection
        assert request(server.port, "/favicon.ico").status == 404
        server.close()
        try:
            leftover = idle.recv(1024)
        except ConnectionResetError:
            leftover = b""
    assert leftover == b""
