"""What a process listens on, as the kernel reports it (Linux /proc), and hostile clients."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import socket
import threading
from dataclasses import dataclass, field


def listening_sockets_of(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN that process `pid` holds open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found: set[tuple[str, int]] = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:
                continue
            addr_hex, port_hex = local.split(":")
            raw = b"".join(bytes.fromhex(addr_hex[i : i + 8])[::-1] for i in range(0, width, 8))
            found.add((str(ipaddress.ip_address(raw)), int(port_hex, 16)))
    return found


@dataclass
class Attack:
    """Slowloris connections, a flood of wrong requests and junk, all at once on `port`."""

    port: int
    stalled: list[socket.socket] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def requests(self) -> list[bytes]:
        host = f"localhost:{self.port}"
        rng = random.Random(7)
        return [
            # a web page trying to complete someone else's sign-in (login CSRF)
            f"GET /?code=attacker-code&state=guessed HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
            # DNS rebinding: the right path, but a foreign Host
            f"GET /?code=x&state=y HTTP/1.1\r\nHost: evil.example:{self.port}\r\n\r\n".encode(),
            f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello".encode(),
            f"GET /../../etc/passwd HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
            f"GET /?{'a=1&' * 500} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
            f"GET / HTTP/1.1\r\nHost: {host}\r\nX: {'y' * 20000}\r\n\r\n".encode(),
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # an HTTP/2 preface
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS ClientHello
            bytes(rng.randrange(256) for _ in range(512)),
            b"\r\n" * 100,
        ]

    def start(self, *, slow: int = 30, flooders: int = 6) -> None:
        for i in range(slow):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if i % 3 == 1:
                s.sendall(b"GET /?state=")
            elif i % 3 == 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            self.stalled.append(s)
        bad = self.requests()
        lock = threading.Lock()

        def flood(worker: int) -> None:
            i = worker
            while not self.stop.is_set():
                data = bad[i % len(bad)]
                i += 1
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                        s.sendall(data)
                        s.shutdown(socket.SHUT_WR)
                        reply = s.recv(16)
                except OSError:
                    reply = b"(reset)"
                with lock:
                    self.answers.append(reply)

        for worker in range(flooders):
            thread = threading.Thread(target=flood, args=(worker,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        for s in self.stalled:
            s.close()
