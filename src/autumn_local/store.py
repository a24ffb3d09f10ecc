"""Reading and writing the stand-in's records. Keys, tokens and codes are stored only as SHA-256."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Literal

from .db import from_row, transaction
from .secrets_util import check_password, hash_password, new_id, sha256_hex

CLI_CLIENT_ID = "hAWUopQqLnsSwuRgeRzIBzKslwXmQUSr"
CLI_CLIENT_NAME = "Autumn CLI"
CALLBACK_PORTS = range(31448, 31453)
CLI_REDIRECT_URIS = [
    f"http://{host}:{port}/" for port in CALLBACK_PORTS for host in ("localhost", "127.0.0.1")
]
SCOPES = [
    *(f"customers:{a}" for a in ("create", "read", "list", "update", "delete")),
    *(f"features:{a}" for a in ("create", "read", "list", "update", "delete")),
    *(f"plans:{a}" for a in ("create", "read", "list", "update", "delete")),
    "rewards:read",
    "rewards:write",
    "apiKeys:create",
    "apiKeys:read",
    "organisation:read",
]
#: RFC 8628 §6.1: user codes are 8 of these 20 consonants (no vowels: no words), XXXX-XXXX.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
#: RFC 8628 §3.5: each slow_down adds this many seconds to the polling interval.
SLOW_DOWN_STEP = 5.0
#: Slack when judging whether a client polled too early: the server stamps each poll when it
#: handles it, so a client that waited exactly `interval` may look a few milliseconds early.
POLL_LEEWAY = 0.25
#: Device codes are forgotten this long after they expire.
DEVICE_CODE_RETENTION = 24 * 3600.0
DEMO_EMAIL = "demo@autumn.local"
DEMO_ORGS = (("acme", "Acme"), ("globex", "Globex"))


class DeviceRequestsFull(Exception):
    """As many device requests as allowed are pending; `retry_after` seconds until the
    first of them expires."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"device requests full for {retry_after:.0f} s")
        self.retry_after = retry_after


class StoreError(Exception):
    """A request the records cannot satisfy (unknown user, duplicate slug, ...)."""


@dataclass(frozen=True)
class User:
    id: str
    email: str
    last_org_id: str | None


@dataclass(frozen=True)
class Organization:
    id: str
    slug: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "slug": self.slug}


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]


@dataclass(frozen=True)
class CodeRecord:
    id: int
    client_id: str
    user_id: str
    org_id: str | None
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str


@dataclass(frozen=True)
class DeviceRecord:
    """A device authorization request (RFC 8628), found by its device code or user code."""

    id: int
    client_id: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    org_hint: str | None
    created_at: float
    expires_at: float
    interval: float
    status: str  # "pending", "approved" or "denied"
    user_id: str | None
    org_id: str | None
    used: bool

    def is_expired(self, now: float | None = None) -> bool:
        return self.expires_at <= (time.time() if now is None else now)


#: What a poll of the token endpoint finds (RFC 8628 §3.5).
PollOutcome = Literal["pending", "slow_down", "approved", "denied", "expired", "used"]
#: What approving or denying on the verification page did.
DecideOutcome = Literal["ok", "unknown", "expired", "used"]


@dataclass(frozen=True)
class TokenRecord:
    id: int
    client_id: str
    user_id: str
    org_id: str | None
    scope: str
    issued_at: float
    expires_in: int
    access_revoked: bool
    refresh_revoked: bool
    has_refresh_token: bool


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str


# --- settings and seeding ------------------------------------------------------------------


def get_setting(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row["value"])


def get_or_create_setting(conn: sqlite3.Connection, name: str, make: str) -> str:
    conn.execute("INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)", (name, make))
    value = get_setting(conn, name)
    assert value is not None
    return value


def seed(conn: sqlite3.Connection) -> DemoAccount:
    """Register the CLI client and, on first start, the demo user and organizations."""
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO clients (client_id, name, redirect_uris, scopes)"
            " VALUES (?, ?, ?, ?)",
            (CLI_CLIENT_ID, CLI_CLIENT_NAME, json.dumps(CLI_REDIRECT_URIS), " ".join(SCOPES)),
        )
        password = get_setting(conn, "demo_password")
        if password is not None:
            return DemoAccount(DEMO_EMAIL, password)
        password = "demo-" + secrets.token_urlsafe(9)
        conn.execute("INSERT INTO settings (name, value) VALUES ('demo_password', ?)", (password,))
        org_ids = [_insert_org(conn, slug, name) for slug, name in DEMO_ORGS]
        user_id = _insert_user(conn, DEMO_EMAIL, password)
        for org_id in org_ids:
            conn.execute(
                "INSERT INTO memberships (user_id, org_id) VALUES (?, ?)", (user_id, org_id)
            )
    return DemoAccount(DEMO_EMAIL, password)


def demo_account(conn: sqlite3.Connection) -> DemoAccount:
    return seed(conn)


# --- users and organizations --------------------------------------------------------------


def _insert_user(conn: sqlite3.Connection, email: str, password: str) -> str:
    user_id = new_id("user_")
    salt, digest = hash_password(password)
    try:
        conn.execute(
            "INSERT INTO users (id, email, password_salt, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, email, salt, digest, time.time()),
        )
    except sqlite3.IntegrityError:
        raise StoreError(f"a user with email {email} already exists") from None
    return user_id


def _insert_org(conn: sqlite3.Connection, slug: str, name: str) -> str:
    org_id = new_id("org_")
    try:
        conn.execute(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES (?, ?, ?, ?)",
            (org_id, slug, name, time.time()),
        )
    except sqlite3.IntegrityError:
        raise StoreError(f"an organization with slug {slug} already exists") from None
    return org_id


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], email=row["email"], last_org_id=row["last_org_id"])


def _org(row: sqlite3.Row) -> Organization:
    return Organization(id=row["id"], slug=row["slug"], name=row["name"])


def get_user(conn: sqlite3.Connection, user_id: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if row is None else _user(row)


def authenticate(conn: sqlite3.Connection, email: str, password: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE email = ?", (email.strip(),)).fetchone()
    if row is None:
        # Spend the same time as a real check so unknown emails are not revealed by timing.
        check_password(password, "00" * 16, "00" * 32)
        return None
    if not check_password(password, row["password_salt"], row["password_hash"]):
        return None
    return _user(row)


def org_by_slug(conn: sqlite3.Connection, slug: str) -> Organization | None:
    row = conn.execute("SELECT * FROM organizations WHERE slug = ?", (slug,)).fetchone()
    return None if row is None else _org(row)


def get_org(conn: sqlite3.Connection, org_id: str) -> Organization | None:
    row = conn.execute("SELECT * FROM organizations WHERE id = ?", (org_id,)).fetchone()
    return None if row is None else _org(row)


def user_orgs(conn: sqlite3.Connection, user_id: str) -> list[Organization]:
    rows = conn.execute(
        "SELECT o.* FROM organizations o JOIN memberships m ON m.org_id = o.id"
        " WHERE m.user_id = ? ORDER BY o.created_at, o.slug",
        (user_id,),
    ).fetchall()
    return [_org(r) for r in rows]


def is_member(conn: sqlite3.Connection, user_id: str, org_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM memberships WHERE user_id = ? AND org_id = ?", (user_id, org_id)
    ).fetchone()
    return row is not None


def set_last_org(conn: sqlite3.Connection, user_id: str, org_id: str) -> None:
    conn.execute("UPDATE users SET last_org_id = ? WHERE id = ?", (org_id, user_id))


def add_user(conn: sqlite3.Connection, email: str, password: str, org_slugs: list[str]) -> User:
    with transaction(conn):
        orgs = [_require_org(conn, slug) for slug in org_slugs]
        user_id = _insert_user(conn, email, password)
        for org in orgs:
            conn.execute(
                "INSERT INTO memberships (user_id, org_id) VALUES (?, ?)", (user_id, org.id)
            )
    user = get_user(conn, user_id)
    assert user is not None
    return user


def add_org(
    conn: sqlite3.Connection, slug: str, name: str, member_emails: list[str]
) -> Organization:
    with transaction(conn):
        # one membership a user, however often (and in whatever case) they are named
        user_ids = list(dict.fromkeys(_require_user(conn, email) for email in member_emails))
        org_id = _insert_org(conn, slug, name)
        for user_id in user_ids:
            conn.execute(
                "INSERT INTO memberships (user_id, org_id) VALUES (?, ?)", (user_id, org_id)
            )
    return Organization(id=org_id, slug=slug, name=name)


def org_and_member(
    conn: sqlite3.Connection, slug: str, email: str | None
) -> tuple[Organization, User]:
    """The organization `slug` and its member `email` (or its first member, without one)."""
    org = _require_org(conn, slug)
    if email is not None:
        user = get_user(conn, _require_user(conn, email))
        if user is None or not is_member(conn, user.id, org.id):
            raise StoreError(f"{email} is not a member of {slug}")
        return org, user
    row = conn.execute(
        "SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id"
        " WHERE m.org_id = ? ORDER BY u.created_at, u.email LIMIT 1",
        (org.id,),
    ).fetchone()
    if row is None:
        raise StoreError(f"organization {slug} has no members")
    return org, _user(row)


def _require_org(conn: sqlite3.Connection, slug: str) -> Organization:
    org = org_by_slug(conn, slug)
    if org is None:
        raise StoreError(f"no organization with slug {slug}")
    return org


def _require_user(conn: sqlite3.Connection, email: str) -> str:
    row = conn.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
    if row is None:
        raise StoreError(f"no user with email {email}")
    return str(row["id"])


# --- OAuth clients, codes and tokens ------------------------------------------------------


def get_client(conn: sqlite3.Connection, client_id: str) -> ClientRecord | None:
    row = conn.execute("SELECT * FROM clients WHERE client_id = ?", (client_id,)).fetchone()
    if row is None:
        return None
    return ClientRecord(
        client_id=row["client_id"],
        name=row["name"],
        redirect_uris=list(json.loads(row["redirect_uris"])),
        scopes=str(row["scopes"]).split(),
    )


def save_code(
    conn: sqlite3.Connection,
    *,
    code: str,
    client_id: str,
    user_id: str,
    org_id: str | None,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    code_challenge_method: str,
    ttl: float,
) -> None:
    now = time.time()
    conn.execute(
        "INSERT INTO authorization_codes (code_hash, client_id, user_id, org_id, redirect_uri,"
        " scope, code_challenge, code_challenge_method, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sha256_hex(code),
            client_id,
            user_id,
            org_id,
            redirect_uri,
            scope,
            code_challenge,
            code_challenge_method,
            now,
            now + ttl,
        ),
    )


def find_code(conn: sqlite3.Connection, code: str, client_id: str) -> CodeRecord | None:
    """The record of an unused, current code issued to `client_id`; None otherwise.

    Nothing is marked here: the code is used up only by a successful exchange (`claim_code`,
    after the redirect URI and PKCE checks), so a failed guess does not burn it. Presenting a
    code that was already exchanged revokes every token issued from it (RFC 6749 §4.1.2).
    """
    now = time.time()
    row = conn.execute(
        "SELECT * FROM authorization_codes WHERE code_hash = ? AND client_id = ?",
        (sha256_hex(code), client_id),
    ).fetchone()
    if row is None:
        return None
    if row["used_at"] is not None:
        _revoke_code_tokens(conn, row["id"], now)
        return None
    if row["expires_at"] <= now:
        return None
    return _code_record(row)


def _code_record(row: sqlite3.Row) -> CodeRecord:
    return from_row(CodeRecord, row)


def claim_code(conn: sqlite3.Connection, code_id: int) -> bool:
    """Mark a verified code used, once: False when another exchange claimed it first (that
    one's tokens are then revoked, as for any second use)."""
    now = time.time()
    with transaction(conn):
        cur = conn.execute(
            "UPDATE authorization_codes SET used_at = ?"
            " WHERE id = ? AND used_at IS NULL AND expires_at > ?",
            (now, code_id, now),
        )
        if cur.rowcount == 1:
            return True
        _revoke_code_tokens(conn, code_id, now)
    return False


def consume_code(conn: sqlite3.Connection, code: str) -> CodeRecord | None:
    """Use up a code as hosted Autumn's token endpoint does (Better Auth 1.6): at once, before
    anything else about the request is checked, whoever presents it. None when it is
    unknown, used or expired. Nothing is revoked on a second use."""
    now = time.time()
    with transaction(conn):
        row = conn.execute(
            "SELECT * FROM authorization_codes WHERE code_hash = ?", (sha256_hex(code),)
        ).fetchone()
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            return None
        conn.execute("UPDATE authorization_codes SET used_at = ? WHERE id = ?", (now, row["id"]))
    return _code_record(row)


def _revoke_code_tokens(conn: sqlite3.Connection, code_id: int, now: float) -> None:
    conn.execute(
        "UPDATE tokens SET access_revoked_at = coalesce(access_revoked_at, ?),"
        " refresh_revoked_at = coalesce(refresh_revoked_at, ?) WHERE code_id = ?",
        (now, now, code_id),
    )


def save_token(
    conn: sqlite3.Connection,
    *,
    access_token: str,
    refresh_token: str | None,
    client_id: str,
    user_id: str,
    org_id: str | None,
    code_id: int | None,
    scope: str,
    expires_in: int,
) -> None:
    conn.execute(
        "INSERT INTO tokens (client_id, user_id, org_id, code_id, scope, access_token_hash,"
        " refresh_token_hash, issued_at, expires_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            client_id,
            user_id,
            org_id,
            code_id,
            scope,
            sha256_hex(access_token),
            sha256_hex(refresh_token) if refresh_token else None,
            time.time(),
            expires_in,
        ),
    )


def _token(row: sqlite3.Row) -> TokenRecord:
    return from_row(
        TokenRecord,
        row,
        access_revoked=row["access_revoked_at"] is not None,
        refresh_revoked=row["refresh_revoked_at"] is not None,
        has_refresh_token=row["refresh_token_hash"] is not None,
    )


def token_by_access(conn: sqlite3.Connection, access_token: str) -> TokenRecord | None:
    row = conn.execute(
        "SELECT * FROM tokens WHERE access_token_hash = ?", (sha256_hex(access_token),)
    ).fetchone()
    return None if row is None else _token(row)


def token_by_refresh(conn: sqlite3.Connection, refresh_token: str) -> TokenRecord | None:
    row = conn.execute(
        "SELECT * FROM tokens WHERE refresh_token_hash = ?", (sha256_hex(refresh_token),)
    ).fetchone()
    return None if row is None else _token(row)


def revoke_token(conn: sqlite3.Connection, token_id: int, *, access: bool, refresh: bool) -> None:
    now = time.time()
    if access:
        conn.execute(
            "UPDATE tokens SET access_revoked_at = coalesce(access_revoked_at, ?) WHERE id = ?",
            (now, token_id),
        )
    if refresh:
        conn.execute(
            "UPDATE tokens SET refresh_revoked_at = coalesce(refresh_revoked_at, ?) WHERE id = ?",
            (now, token_id),
        )


# --- device authorization (RFC 8628) ------------------------------------------------------


def normalize_user_code(text: str) -> str | None:
    """`bcdf ghjk`, `BCDFGHJK`, ` bcdf-ghjk ` -> `BCDF-GHJK`; None when it cannot be a code."""
    letters = "".join(text.split()).replace("-", "").upper()
    if len(letters) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in letters):
        return None
    half = USER_CODE_LENGTH // 2
    return letters[:half] + "-" + letters[half:]


def save_device_code(
    conn: sqlite3.Connection,
    *,
    device_code: str,
    user_code: str,
    client_id: str,
    scope: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
    org_hint: str | None,
    ttl: float,
    interval: float,
    max_pending: int | None = None,
) -> bool:
    """Store a new device request (hashes of its codes only); False if the user code is taken.

    Raises DeviceRequestsFull when `max_pending` requests are already pending (neither
    approved, denied nor expired), counted in the same transaction as the insert.
    """
    now = time.time()
    normalized = normalize_user_code(user_code)
    if normalized is None:
        raise ValueError("not a user code")
    with transaction(conn):
        conn.execute(
            "DELETE FROM device_codes WHERE expires_at < ?", (now - DEVICE_CODE_RETENTION,)
        )
        if max_pending is not None:
            pending, first_expiry = conn.execute(
                "SELECT count(*), min(expires_at) FROM device_codes"
                " WHERE status = 'pending' AND used_at IS NULL AND expires_at > ?",
                (now,),
            ).fetchone()
            if pending >= max_pending:
                raise DeviceRequestsFull(first_expiry - now)
        try:
            conn.execute(
                "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scope,"
                " code_challenge, code_challenge_method, org_hint, created_at, expires_at,"
                " interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sha256_hex(device_code),
                    sha256_hex(normalized),
                    client_id,
                    scope,
                    code_challenge,
                    code_challenge_method,
                    org_hint,
                    now,
                    now + ttl,
                    interval,
                ),
            )
        except sqlite3.IntegrityError:
            return False
    return True


def _device(row: sqlite3.Row) -> DeviceRecord:
    return from_row(DeviceRecord, row, used=row["used_at"] is not None)


def device_by_code(conn: sqlite3.Connection, device_code: str) -> DeviceRecord | None:
    row = conn.execute(
        "SELECT * FROM device_codes WHERE device_code_hash = ?", (sha256_hex(device_code),)
    ).fetchone()
    return None if row is None else _device(row)


def device_by_user_code(conn: sqlite3.Connection, user_code: str) -> DeviceRecord | None:
    """The request whose user code this is (in any form `normalize_user_code` accepts)."""
    normalized = normalize_user_code(user_code)
    if normalized is None:
        return None
    row = conn.execute(
        "SELECT * FROM device_codes WHERE user_code_hash = ?", (sha256_hex(normalized),)
    ).fetchone()
    return None if row is None else _device(row)


def poll_device(conn: sqlite3.Connection, device_id: int) -> tuple[PollOutcome, DeviceRecord]:
    """One poll of the token endpoint for this request, recorded (RFC 8628 §3.4, §3.5).

    An approved request is claimed by the first poll that sees it ("approved"), so its device
    code yields tokens once. A pending one answers "slow_down" when polled sooner than its
    interval after the previous poll, and its interval grows by SLOW_DOWN_STEP.
    """
    now = time.time()
    with transaction(conn):
        row = conn.execute("SELECT * FROM device_codes WHERE id = ?", (device_id,)).fetchone()
        record = _device(row)
        if record.used:
            return "used", record
        if record.is_expired(now):
            return "expired", record
        if record.status == "denied":
            return "denied", record
        if record.status == "approved":
            conn.execute("UPDATE device_codes SET used_at = ? WHERE id = ?", (now, device_id))
            return "approved", record
        last = row["last_poll_at"]
        too_soon = last is not None and now - last < record.interval - POLL_LEEWAY
        interval = record.interval + SLOW_DOWN_STEP if too_soon else record.interval
        conn.execute(
            "UPDATE device_codes SET last_poll_at = ?, interval = ? WHERE id = ?",
            (now, interval, device_id),
        )
    return ("slow_down" if too_soon else "pending"), record


def decide_device(
    conn: sqlite3.Connection,
    device_id: int,
    *,
    user_id: str,
    org_id: str | None,
    approve: bool,
) -> DecideOutcome:
    """Record the person's Approve or Deny, once, while the request is pending and current."""
    now = time.time()
    with transaction(conn):
        row = conn.execute("SELECT * FROM device_codes WHERE id = ?", (device_id,)).fetchone()
        if row is None:
            return "unknown"
        record = _device(row)
        if record.used or record.status != "pending":
            return "used"
        if record.is_expired(now):
            return "expired"
        conn.execute(
            "UPDATE device_codes SET status = ?, user_id = ?, org_id = ?, decided_at = ?"
            " WHERE id = ?",
            ("approved" if approve else "denied", user_id, org_id, now, device_id),
        )
    return "ok"


def stats(conn: sqlite3.Connection) -> dict[str, int]:
    def count(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    return {
        "authorizations_granted": count("SELECT count(*) FROM authorization_codes"),
        "tokens_issued": count("SELECT count(*) FROM tokens"),
        "key_pairs_minted": count("SELECT count(DISTINCT pair_id) FROM api_keys"),
        "keys_revoked": count("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL"),
        "users": count("SELECT count(*) FROM users"),
        "organizations": count("SELECT count(*) FROM organizations"),
    }
