"""What settles the sign-in: a redirect's query whose `state` matches (compared in constant
time) and that carries a `code` or an `error`; the first one wins, from the browser or a
paste. With `report_outcome`, it also holds how the sign-in ended, for the browser's page.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

MAX_QUERY_FIELDS = 32

Verdict = Literal["settles", "wrong_state", "incomplete"]
Via = Literal["browser", "paste"]


@dataclass(frozen=True)
class CallbackResult:
    """The query parameters of the request that settled the flow, and where it came from."""

    params: dict[str, str]
    via: Via


def parse_query(query: str) -> dict[str, str] | None:
    """The query's parameters, or None when malformed (too many fields, a repeated name)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return None
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


class Settlement:
    """The expected state, and the first result that matched it."""

    def __init__(self, expected_state: str) -> None:
        self._expected = expected_state.encode()
        self._lock = threading.Lock()
        self.result: CallbackResult | None = None
        self.done = threading.Event()
        # With `report_outcome`: how the sign-in ended, for the browser's page
        self.outcome: tuple[str, str] | None = None  # (title, body HTML)
        self.finished = threading.Event()
        self.page_sent = threading.Event()

    def judge(self, params: dict[str, str]) -> Verdict:
        state = params.get("state")
        if state is None or not hmac.compare_digest(state.encode(), self._expected):
            return "wrong_state"
        if not params.get("code") and not params.get("error"):
            return "incomplete"
        return "settles"

    def claim(self, params: dict[str, str], via: Via) -> bool:
        """Record the result if it is the first; the caller sets `done` when it is ready."""
        with self._lock:
            if self.result is not None:
                return False
            self.result = CallbackResult(params=dict(params), via=via)
            return True
