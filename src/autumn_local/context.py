"""Per-request access to the server's settings and its database connection."""

from __future__ import annotations

import sqlite3
from typing import cast

from flask import current_app, g

from .config import ServerConfig
from .db import connect

EXTENSION_KEY = "autumn_local"


def config() -> ServerConfig:
    return cast(ServerConfig, current_app.extensions[EXTENSION_KEY])


def db() -> sqlite3.Connection:
    """This request's connection, opened on first use and closed when the request ends."""
    conn = g.get("autumn_db")
    if conn is None:
        conn = connect(config().data_dir)
        g.autumn_db = conn
    return cast(sqlite3.Connection, conn)


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("autumn_db", None)
    if conn is not None:
        conn.close()
