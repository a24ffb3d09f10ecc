"""Secret keys: minting, looking up, listing, revoking and noting their use.

Only a SHA-256 hash of each key is kept, with its prefix and last 4 characters for display.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .db import from_row, transaction
from .secrets_util import new_id, new_secret_key, sha256_hex

Env = Literal["sandbox", "live"]
#: How a key came to be: minted by `atmn login` (the OAuth mint) or made on the dashboard.
CreatedVia = Literal["oauth", "dashboard"]
ENVS: tuple[Env, ...] = ("sandbox", "live")
CREATED_VIA: tuple[CreatedVia, ...] = ("oauth", "dashboard")
#: Contract §7: a key's name is 1 to this many printable characters.
MAX_NAME_LENGTH = 100
#: `last_used_at` is written at most once per this many seconds per key.
TOUCH_INTERVAL = 60.0
#: The client id recorded for keys made on the (stand-in's) dashboard.
DASHBOARD_CLIENT_ID = "dashboard"


def iso(ts: float) -> str:
    """`2025-01-31T12:00:00Z`: ISO 8601, UTC, whole seconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_name(now: float) -> str:
    return f"CLI Key - {iso(now)}"


def name_problem(value: object) -> str | None:
    """Why `value` cannot be a key's name (contract §7), or None when it can."""
    if not isinstance(value, str):
        return "name must be a string."
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        return f"name must be 1 to {MAX_NAME_LENGTH} characters long."
    if not value.isprintable():
        return "name must contain only printable characters (no control characters)."
    if not value.strip():
        return "name must not be blank."
    return None


@dataclass(frozen=True)
class ApiKey:
    id: str
    prefix: str
    last4: str
    env: str
    name: str
    org_id: str
    org_slug: str
    org_name: str
    user_id: str
    created_at: float
    revoked_at: float | None
    created_via: str
    last_used_at: float | None
    #: What the key may do, in hosted Autumn's modern scope names; None (a dashboard key)
    #: or empty is full access, as on hosted Autumn.
    scopes: tuple[str, ...] | None = None
    user_email: str | None = None

    @property
    def redacted(self) -> str:
        return f"{self.prefix}…{self.last4}"

    def as_json(self) -> dict[str, object]:
        """What the admin command `autumn-local keys list --json` shows."""
        return {
            "id": self.id,
            "key": self.redacted,
            "env": self.env,
            "name": self.name,
            "org_id": self.org_id,
            "org_slug": self.org_slug,
            "created_at": iso(self.created_at),
            "created_via": self.created_via,
            "last_used_at": _iso_or_none(self.last_used_at),
            "revoked": self.revoked_at is not None,
            "revoked_at": _iso_or_none(self.revoked_at),
        }

    def as_listing(self) -> dict[str, object]:
        """One entry of `GET /cli/api-keys` (contract §7): never the key or its hash."""
        return {
            "id": self.id,
            "name": self.name,
            "env": self.env,
            "last4": self.last4,
            "created_at": iso(self.created_at),
            "last_used_at": _iso_or_none(self.last_used_at),
            "created_via": self.created_via,
        }


def _iso_or_none(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def _insert(
    conn: sqlite3.Connection,
    *,
    secret: str,
    pair_id: str,
    env: str,
    name: str,
    org_id: str,
    user_id: str,
    client_id: str,
    created_via: str,
    now: float,
    scopes: list[str] | None = None,
) -> str:
    key_id = new_id("key_")
    conn.execute(
        "INSERT INTO api_keys (id, pair_id, key_hash, prefix, last4, env, name, org_id,"
        " user_id, client_id, created_at, created_via, scopes)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key_id,
            pair_id,
            sha256_hex(secret),
            secret[:-42],
            secret[-4:],
            env,
            name,
            org_id,
            user_id,
            client_id,
            now,
            created_via,
            None if scopes is None else json.dumps(scopes),
        ),
    )
    return key_id


def mint_key_pair(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    org_id: str,
    client_id: str,
    name: str | None = None,
    scopes: list[str] | None = None,
) -> tuple[str, str]:
    """A new (sandbox key, live key) pair for `org_id`, minted by the OAuth mint (§3).

    Both keys get `name` (the `env` tells them apart), or `CLI Key - <time>` without one,
    and `scopes` (None: full access).
    """
    now = time.time()
    pair_id = new_id("pair_")
    keys: dict[str, str] = {}
    with transaction(conn):
        for env in ENVS:
            keys[env] = secret = new_secret_key(env)
            _insert(
                conn,
                secret=secret,
                pair_id=pair_id,
                env=env,
                name=name or default_name(now),
                org_id=org_id,
                user_id=user_id,
                client_id=client_id,
                created_via="oauth",
                now=now,
                scopes=scopes,
            )
    return keys["sandbox"], keys["live"]


def create_key(
    conn: sqlite3.Connection,
    *,
    org_id: str,
    user_id: str,
    env: Env,
    name: str,
    created_via: CreatedVia = "dashboard",
) -> tuple[str, str]:
    """One key made outside the CLI (as on Autumn's dashboard): (its id, the secret)."""
    secret = new_secret_key(env)
    with transaction(conn):
        key_id = _insert(
            conn,
            secret=secret,
            pair_id=new_id("pair_"),
            env=env,
            name=name,
            org_id=org_id,
            user_id=user_id,
            client_id=DASHBOARD_CLIENT_ID if created_via == "dashboard" else "admin",
            created_via=created_via,
            now=time.time(),
        )
    return key_id, secret


_KEY_SELECT = (
    "SELECT k.*, o.slug AS org_slug, o.name AS org_name, u.email AS user_email"
    " FROM api_keys k JOIN organizations o ON o.id = k.org_id"
    " LEFT JOIN users u ON u.id = k.user_id"
)


def _scopes(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    value = json.loads(text)
    return tuple(str(s) for s in value) if isinstance(value, list) else None


def _key(row: sqlite3.Row) -> ApiKey:
    return from_row(ApiKey, row, scopes=_scopes(row["scopes"]))


def active_key(conn: sqlite3.Connection, secret: str) -> ApiKey | None:
    row = conn.execute(
        _KEY_SELECT + " WHERE k.key_hash = ? AND k.revoked_at IS NULL", (sha256_hex(secret),)
    ).fetchone()
    return None if row is None else _key(row)


def record_use(conn: sqlite3.Connection, key: ApiKey, now: float | None = None) -> bool:
    """Note that `key` was just used; True when `last_used_at` was written.

    At most one write per key per TOUCH_INTERVAL: nothing is written while the stored time
    (as read with the key) is more recent than that, so heavy use costs no writes.
    """
    now = time.time() if now is None else now
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_INTERVAL:
        return False
    cur = conn.execute(
        "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
        " AND (last_used_at IS NULL OR last_used_at <= ?)",
        (now, key.id, now - TOUCH_INTERVAL),
    )
    return cur.rowcount > 0


def list_keys(conn: sqlite3.Connection) -> list[ApiKey]:
    """Every key ever made, revoked ones too (for the admin command)."""
    rows = conn.execute(_KEY_SELECT + " ORDER BY k.created_at, k.env DESC").fetchall()
    return [_key(r) for r in rows]


def org_keys(conn: sqlite3.Connection, org_id: str, env: str) -> list[ApiKey]:
    """The active keys of one organization and environment, oldest first."""
    rows = conn.execute(
        _KEY_SELECT + " WHERE k.org_id = ? AND k.env = ? AND k.revoked_at IS NULL"
        " ORDER BY k.created_at, k.id",
        (org_id, env),
    ).fetchall()
    return [_key(r) for r in rows]


def revoke_org_key(conn: sqlite3.Connection, org_id: str, env: str, key_id: str) -> bool:
    """Revoke the active key `key_id` if it belongs to `org_id` and `env` (the keys
    `org_keys` lists); False when there is none."""
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = ?"
        " WHERE id = ? AND org_id = ? AND env = ? AND revoked_at IS NULL",
        (time.time(), key_id, org_id, env),
    )
    return cur.rowcount > 0


def revoke_keys(
    conn: sqlite3.Connection,
    *,
    key_id: str | None = None,
    last4: str | None = None,
    everything: bool = False,
) -> int:
    """Revoke matching active keys; returns how many were revoked."""
    now = time.time()
    args: tuple[str, ...]
    if key_id is not None:
        where, args = "id = ?", (key_id,)
    elif last4 is not None:
        where, args = "last4 = ?", (last4,)
    elif everything:
        where, args = "1 = 1", ()
    else:
        raise ValueError("say which keys to revoke")
    cur = conn.execute(
        f"UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL AND {where}",  # noqa: S608
        (now, *args),
    )
    return cur.rowcount
