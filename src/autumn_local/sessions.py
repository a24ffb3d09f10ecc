"""Sign-in sessions kept on the server: the browser's cookie holds only a random session id.

Signing out ends the session row, so a copy of the cookie (another browser, a stolen backup)
is signed out too. Only a SHA-256 hash of each id is stored.
"""

from __future__ import annotations

import secrets
import sqlite3
import time

from .db import transaction
from .secrets_util import sha256_hex

#: How long a session lasts without signing out (as long as Flask's cookie: 31 days).
SESSION_TTL = 31 * 24 * 3600.0


def start(conn: sqlite3.Connection, user_id: str, ttl: float = SESSION_TTL) -> str:
    """A new session for `user_id`; returns its id (for the cookie)."""
    session_id = secrets.token_urlsafe(32)
    now = time.time()
    with transaction(conn):
        conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
        conn.execute(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (sha256_hex(session_id), user_id, now, now + ttl),
        )
    return session_id


def user_id(conn: sqlite3.Connection, session_id: str) -> str | None:
    """The user signed in with `session_id`; None when it is unknown, ended or expired."""
    row = conn.execute(
        "SELECT user_id FROM sessions WHERE id_hash = ? AND ended_at IS NULL AND expires_at > ?",
        (sha256_hex(session_id), time.time()),
    ).fetchone()
    return None if row is None else str(row["user_id"])


def end(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute(
        "UPDATE sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
        (time.time(), sha256_hex(session_id)),
    )
