"""Which local user owns the other end of a loopback TCP connection.

Linux tells, in /proc/net/tcp (sockets of the IPv4 family) and /proc/net/tcp6 (IPv6): each
row is one socket with its local and remote address, its state, the owner's uid and its
inode. The other end of our connection is the row whose local address is our peer and whose
remote address is us. An IPv4 connection may be held at the other end by an IPv6 socket
(dual-stack, connected to ::ffff:127.0.0.1): that row is in tcp6, in the v4-mapped form.
A row whose inode is 0 belongs to no process any more (closed, or TIME_WAIT, where the
kernel prints uid 0): it is nobody's, not root's; so is a peer with no row once our end
has seen it close (see `_owner`).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import time

_TABLES = {socket.AF_INET: "/proc/net/tcp", socket.AF_INET6: "/proc/net/tcp6"}
_GONE = -1  # the other end is closed: no process can read what is sent there


def _address_hex(family: int, address: str) -> str:
    """An address as /proc/net/tcp{,6} prints it: 32-bit words in host byte order."""
    packed = socket.inet_pton(family, address)
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words)


def _forms(address: str) -> dict[int, str]:
    """The hex form of `address` in each family's table that can list a socket holding it."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return {socket.AF_INET6: _address_hex(socket.AF_INET6, str(ip))}
    v4 = ip if isinstance(ip, ipaddress.IPv4Address) else ip.ipv4_mapped
    assert v4 is not None
    return {
        socket.AF_INET: _address_hex(socket.AF_INET, str(v4)),
        socket.AF_INET6: _address_hex(socket.AF_INET6, f"::ffff:{v4}"),
    }


def _owner(conn: socket.socket, tables: dict[int, str] | None = None) -> int | None:
    """The uid in the other end's row; `_GONE` when it has no process, or has left; None
    where that cannot be told.

    With no row for the other end, it either left before the table was read (a client
    that resets its connection leaves the table before the reset reaches our end), or it
    is a socket this table does not list (a peer beyond this network namespace, as with
    WSL's mirrored networking, or a system whose table is empty). Our own end tells them
    apart: it has seen the first close by now (`_left`).
    """
    try:
        peer, local = conn.getpeername(), conn.getsockname()
    except OSError as exc:
        return _GONE if exc.errno == errno.ENOTCONN else None
    try:
        theirs, ours = _forms(peer[0]), _forms(local[0])
    except ValueError:
        return None
    for family, table in (tables or _TABLES).items():
        if family not in theirs or family not in ours:
            continue
        their_end = f"{theirs[family]}:{peer[1]:04X}"
        our_end = f"{ours[family]}:{local[1]:04X}"
        try:
            with open(table, encoding="ascii") as rows:
                next(rows, None)
                for row in rows:
                    fields = row.split()
                    if fields[1:3] == [their_end, our_end]:
                        return _GONE if int(fields[9]) == 0 else int(fields[7])
        except (OSError, ValueError, IndexError):
            continue
    return _GONE if _left(conn) else None


#: `tcpi_state` values (linux/tcp_states.h) of a connection whose other end has closed.
_TCP_CLOSE, _TCP_CLOSE_WAIT = 7, 8


def _left(conn: socket.socket) -> bool:
    """Whether the other end has closed or reset the connection, as our end has seen it
    (looked at twice, 50 ms apart, for a close still on its way)."""
    for pause in (0.0, 0.05):
        time.sleep(pause)
        try:
            info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
        except (AttributeError, OSError):  # no TCP_INFO here: ask whether it is connected
            try:
                conn.getpeername()
            except OSError as exc:
                return exc.errno == errno.ENOTCONN
            continue
        if info and info[0] in (_TCP_CLOSE, _TCP_CLOSE_WAIT):
            return True
    return False


def peer_uid(conn: socket.socket) -> int | None:
    """The user id that owns the other end of a loopback TCP connection, as the kernel
    reports it (Linux: /proc/net/tcp{,6}); None where that cannot be told, or when no
    process holds the other end any more."""
    uid = _owner(conn)
    return None if uid == _GONE else uid


def another_user(conn: socket.socket) -> bool:
    """Whether an answer on `conn` may reach anyone but this user (or root): the kernel
    names another user at the other end, or the other end is closed (a client that sent its
    request and left can only use something up). False where the kernel cannot tell (not
    Linux, no /proc, the connection not in its tables)."""
    if not hasattr(os, "getuid"):
        return False  # pragma: no cover - Windows
    uid = _owner(conn)
    return uid is not None and uid not in (os.getuid(), 0)


__all__ = ["another_user", "peer_uid"]
