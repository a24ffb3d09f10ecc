"""The browser's session: its CSRF token, and who is signed in.

Flask's signed cookie carries the CSRF token and a session id; who the id belongs to, and
whether it is still signed in, is kept on the server (`sessions`), so signing out ends every
copy of the cookie.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

from . import sessions, store
from .context import db

_SID = "sid"
_BROWSER = "browser_id"


def csrf_token() -> str:
    token = session.get("csrf_token")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf_token")
    sent = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


def browser_id() -> str:
    """A random id of this browser's session (its cookie), made on first use: the throttles
    count per browser session with it. Signing in or out starts a new one."""
    value = session.get(_BROWSER)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(16)
        session[_BROWSER] = value
    return value


def signed_in_user() -> store.User | None:
    session_id = session.get(_SID)
    if not isinstance(session_id, str):
        return None
    conn = db()
    user_id = sessions.user_id(conn, session_id)
    return None if user_id is None else store.get_user(conn, user_id)


def sign_in_as(user: store.User) -> None:
    """A new session for `user`: nothing carried over from before (no session fixation);
    a session this browser had before ends."""
    previous = session.get(_SID)
    if isinstance(previous, str):
        sessions.end(db(), previous)
    session.clear()
    session[_SID] = sessions.start(db(), user.id)
    csrf_token()


def sign_out() -> None:
    """End this session on the server, wherever its cookie was copied to, and clear it."""
    session_id = session.get(_SID)
    if isinstance(session_id, str):
        sessions.end(db(), session_id)
    session.clear()
