"""The SQLite database: where it lives, its schema, and connections to it.

One connection per request (or per admin command); WAL mode so the running server and admin
commands can use the same file at the same time.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Record = TypeVar("Record", bound=DataclassInstance)

DB_FILENAME = "autumn-local.db"

_initialised: set[Path] = set()
_init_lock = threading.Lock()

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_salt TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    last_org_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (user_id, org_id)
);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS authorization_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    org_id TEXT,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    org_id TEXT,
    code_id INTEGER,
    scope TEXT NOT NULL,
    access_token_hash TEXT NOT NULL UNIQUE,
    refresh_token_hash TEXT UNIQUE,
    issued_at REAL NOT NULL,
    expires_in INTEGER NOT NULL,
    access_revoked_at REAL,
    refresh_revoked_at REAL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    pair_id TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    last4 TEXT NOT NULL,
    env TEXT NOT NULL,
    name TEXT NOT NULL,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    created_via TEXT NOT NULL DEFAULT 'oauth',
    last_used_at REAL,
    scopes TEXT
);
CREATE TABLE IF NOT EXISTS device_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    org_hint TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    interval REAL NOT NULL,
    last_poll_at REAL,
    status TEXT NOT NULL DEFAULT 'pending',
    user_id TEXT,
    org_id TEXT,
    decided_at REAL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS tokens_code ON tokens(code_id);
CREATE INDEX IF NOT EXISTS api_keys_last4 ON api_keys(last4);
CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys(org_id, env);
"""


#: Columns added after the first release: (table, column, definition), added to older files.
MIGRATIONS = (
    ("api_keys", "created_via", "TEXT NOT NULL DEFAULT 'oauth'"),
    ("api_keys", "last_used_at", "REAL"),
    ("api_keys", "scopes", "TEXT"),
)


def _migrate(conn: sqlite3.Connection) -> None:
    for table, column, definition in MIGRATIONS:
        columns = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def connect(data_dir: Path) -> sqlite3.Connection:
    """Open the database in `data_dir` (created 0700 if missing), schema applied."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = db_path(data_dir)
    is_new = not path.exists()
    if is_new:
        # Create the file ourselves so it is private from the first byte.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    with _init_lock:
        if path not in _initialised or is_new:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            # Older files lack some columns: add them before the schema's indexes use them.
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'api_keys'").fetchone():
                _migrate(conn)
            conn.executescript(SCHEMA)
            _initialised.add(path)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front (no upgrade deadlocks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def from_row(cls: type[Record], row: sqlite3.Row, **computed: Any) -> Record:
    """A record dataclass from a row: each field the column of its name, but for those
    given in `computed` (derived from other columns)."""
    columns = {f.name: row[f.name] for f in fields(cls) if f.name not in computed}
    return cls(**columns, **computed)
