"""Counting failures in a sliding window, to slow down guessing (device user codes)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

#: At most this many failed user-code entries ...
DEFAULT_LIMIT = 10
#: ... per this many seconds, per session, per user and per address.
DEFAULT_WINDOW = 600.0


class FailureLimiter:
    """Remembers when each key (a session, a user, an address) last failed.

    A key is blocked once it has `limit` failures within the last `window` seconds. Successes
    do not reset the count: otherwise entering one's own valid code now and then would allow
    unlimited guessing. Kept in memory: the stand-in is one process.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT, window: float = DEFAULT_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: Iterable[str]) -> float:
        """Seconds until every key may try again; 0 when none is blocked."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    wait = max(wait, times[-self.limit] + self.window - now)
        return wait

    def record(self, keys: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)
                times = self._failures[key]
                while len(times) > self.limit:
                    times.popleft()
