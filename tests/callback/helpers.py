"""Real sockets on loopback: free ports, raw HTTP requests, a wait() running in a thread."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest

from atmn_auth.errors import CallbackTimeout
from atmn_auth.loopback.callback import CallbackResult, CallbackServer

STATE = "st4te-Xy9_kQ2pL7mN3vB8cR1dF6gH0jT5wZ-abcd"
CODE = "c0de-Uj3kL9mP2qR7sT1vW8xY4zA6bC5dE0fG"


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _free_on_both(port: int) -> bool:
    families = [(socket.AF_INET, "127.0.0.1")]
    if has_ipv6_loopback():
        families.append((socket.AF_INET6, "::1"))
    try:
        with ExitStack() as stack:
            for family, host in families:
                s = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
                s.bind((host, port))
    except OSError:
        return False
    return True


def free_ports(n: int) -> list[int]:
    """n distinct ports that the OS just handed out and that are free on 127.0.0.1 and ::1."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in ports and _free_on_both(port):
            ports.append(port)
    return ports


def consecutive_free_ports(n: int) -> list[int]:
    """n consecutive free ports below the usual ephemeral range, away from 31448-31452."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 31000)
        ports = list(range(base, base + n))
        if all(_free_on_both(p) for p in ports):
            return ports
    raise RuntimeError("no run of free ports found")


@contextmanager
def occupied(host: str, port: int) -> Iterator[socket.socket]:
    """A listening socket that holds host:port (like another program would)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        if host == "::":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # dual-stack, like Node
        s.bind((host, port))
        s.listen()
        yield s


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    raw: bytes


def parse_response(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(status, headers, body.decode(), raw)


def send_raw(port: int, data: bytes, *, host: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request(
    port: int,
    target: str,
    *,
    method: str = "GET",
    host_header: str | None = "",
    connect_to: str = "127.0.0.1",
    extra: str = "",
) -> Response:
    """One HTTP/1.1 request; host_header "" means the right `localhost:{port}`, None omits it."""
    if host_header == "":
        host_header = f"localhost:{port}"
    host_line = "" if host_header is None else f"Host: {host_header}\r\n"
    data = f"{method} {target} HTTP/1.1\r\n{host_line}{extra}Connection: close\r\n\r\n"
    return parse_response(send_raw(port, data.encode(), host=connect_to))


def callback(
    port: int,
    code: str = CODE,
    state: str = STATE,
    *,
    host_header: str | None = "",
    connect_to: str = "127.0.0.1",
    extra: str = "",
) -> Response:
    """The redirect the browser follows after consent (right code and state by default)."""
    target = f"/?code={code}&state={state}&iss=http%3A%2F%2Flocalhost%3A8080"
    return request(port, target, host_header=host_header, connect_to=connect_to, extra=extra)


def assert_still_waiting(server: CallbackServer) -> None:
    with pytest.raises(CallbackTimeout):
        server.wait(0.01)


def assert_safe_page(response: Response) -> None:
    """No secret in the page or headers; not cached, not referred, no scripts."""
    assert CODE.encode() not in response.raw
    assert STATE.encode() not in response.raw
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<script" not in response.body.lower()


class Waiter:
    """`server.wait(...)` running in a thread, for tests that act while it waits."""

    def __init__(self, server: CallbackServer, timeout: float = 10.0, **kwargs: object) -> None:
        self.result: CallbackResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(server, timeout, kwargs))
        self._thread.start()

    def _run(self, server: CallbackServer, timeout: float, kwargs: dict[str, object]) -> None:
        try:
            self.result = server.wait(timeout, **kwargs)  # type: ignore[arg-type]
        except BaseException as exc:
            self.error = exc

    def join(self) -> CallbackResult:
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "wait() did not return"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def non_loopback_addresses(family: socket.AddressFamily) -> list[str]:
    """This machine's addresses on other interfaces (none on a loopback-only host)."""
    found: set[str] = set()
    if family == socket.AF_INET:
        # Routing trick: connecting a UDP socket sends nothing but picks the source address.
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("10.255.255.255", 9))
                found.add(s.getsockname()[0])
        except OSError:
            pass
    flag = "-4" if family == socket.AF_INET else "-6"
    try:
        out = subprocess.run(
            ["ip", "-o", flag, "addr", "show"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for match in re.finditer(r"inet6? ([0-9a-fA-F.:]+)/\d+ scope global", out):
        found.add(match.group(1))
    return sorted(a for a in found if _is_other_interface(a))


def _is_other_interface(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    return not (ip.is_loopback or ip.is_unspecified)


def listening_addresses(port: int) -> set[str]:
    """Every address with a TCP socket in LISTEN on `port`, from /proc/net/tcp{,6}."""
    import ipaddress

    found: set[str] = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            with open(f"/proc/net/{name}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port or len(addr_hex) != width:
                continue
            # each 32-bit word is in host (little-endian) order
            raw = b"".join(bytes.fromhex(addr_hex[i : i + 8])[::-1] for i in range(0, width, 8))
            found.add(str(ipaddress.ip_address(raw)))
    return found
