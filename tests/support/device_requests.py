"""Device authorization requests (RFC 8628) in a stand-in's database, for page tests."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any


def backdate(server: Any, user_code: str, seconds: float) -> float:
    """Makes the device request with `user_code` as if it was made `seconds` earlier (its
    expiry too), in the running server's database; returns when it was made now (a Unix
    time)."""
    digest = hashlib.sha256(user_code.encode()).hexdigest()
    conn = sqlite3.connect(server.data_dir / "autumn-local.db")
    try:
        with conn:
            changed = conn.execute(
                "UPDATE device_codes SET created_at = created_at - ?, expires_at = expires_at - ?"
                " WHERE user_code_hash = ?",
                (seconds, seconds, digest),
            ).rowcount
        assert changed == 1, f"no device request with user code {user_code}"
        row = conn.execute(
            "SELECT created_at FROM device_codes WHERE user_code_hash = ?", (digest,)
        ).fetchone()
    finally:
        conn.close()
    return float(row[0])
