"""The callback server is reachable on loopback and nowhere else."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from atmn_auth.loopback.callback import CallbackServer

from .helpers import (
    CODE,
    callback,
    has_ipv6_loopback,
    listening_addresses,
    non_loopback_addresses,
)


def test_bound_sockets_are_loopback_only(server: CallbackServer) -> None:
    addresses = {host for host, port in server.bound_addresses}
    assert all(port == server.port for _, port in server.bound_addresses)
    expected = {"127.0.0.1", "::1"} if has_ipv6_loopback() else {"127.0.0.1"}
    assert addresses == expected
    if os.path.exists("/proc/net/tcp"):  # what the kernel says is listening on the port
        assert listening_addresses(server.port) == expected
    for host in addresses:
        assert ipaddress.ip_address(host).is_loopback


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def test_other_interfaces_refuse_connections(
    server: CallbackServer, family: socket.AddressFamily
) -> None:
    others = non_loopback_addresses(family)
    if not others:
        pytest.skip(f"this machine has no non-loopback {family.name} address to try")
    for address in others:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, server.port), timeout=3).close()
    assert callback(server.port).status == 200  # while loopback still answers


def test_ipv6_loopback_reaches_it_when_the_host_has_it(server: CallbackServer) -> None:
    if has_ipv6_loopback():
        response = callback(server.port, connect_to="::1", host_header=f"[::1]:{server.port}")
        assert response.status == 200
    else:  # no ::1 here: IPv4 alone must still work
        assert [host for host, _ in server.bound_addresses] == ["127.0.0.1"]
        assert callback(server.port).status == 200
    assert server.wait(5).params["code"] == CODE
