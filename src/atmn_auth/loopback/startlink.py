"""The start link: the single-use address the browser is opened on instead of the sign-in URL.

A command line is readable by every user of the machine (`/proc/PID/cmdline`, `ps`), and
the sign-in URL carries the `state` and the PKCE challenge, which are all another user
needs to finish the sign-in with their own account first. `/start/<random token>`
redirects to the sign-in URL once, and only for a connection of this user (where the
kernel tells: see `peers`); once the sign-in is settled it is dead.
"""

from __future__ import annotations

import hmac
import secrets
import socket
import threading

from atmn_auth.loopback.pages import LINK_USED, OTHER_USER, REDIRECTING
from atmn_auth.loopback.peers import another_user

START_PATH = "/start/"

#: (status, (title, body HTML) or None for the plain error page, extra headers)
Answer = tuple[int, tuple[str, str] | None, dict[str, str]]


class StartLink:
    """`/start/<token>`: sends the browser on to the sign-in URL (`target`), once."""

    def __init__(self, target: str) -> None:
        self.token = secrets.token_urlsafe(32)
        self.target = target
        self._used = False
        self._lock = threading.Lock()

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.token.encode())

    def claim(self) -> bool:
        """True the first time only."""
        with self._lock:
            used, self._used = self._used, True
            return not used


def answer(
    link: StartLink | None, token: str, conn: socket.socket, settled: threading.Event
) -> Answer:
    """What a GET of `/start/<token>` on `conn` gets: the redirect once; a wrong token is
    not found; another user is turned away and leaves the link working for the browser."""
    if link is None or not link.matches(token):
        return 404, None, {}
    if another_user(conn):
        return 403, OTHER_USER, {}
    if settled.is_set() or not link.claim():
        return 410, LINK_USED, {}
    return 303, REDIRECTING, {"Location": link.target}
