"""Counting in a sliding window, to slow down guessing (device user codes, passwords) and
flooding (device authorization requests).

Who is counted depends on where a request comes from (`is_loopback`): every process on this
machine reaches the stand-in from 127.0.0.1, so a count per address there would let any of
them lock every local user out. Loopback clients are counted per account and per browser
session instead; clients reaching a `--host` address from elsewhere per address as well.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

#: At most this many failed user-code entries ...
DEFAULT_LIMIT = 10
#: ... per this many seconds, per browser session, per user (for a session that entered a
#: wrong code itself) and, for clients that are not on loopback, per address.
DEFAULT_WINDOW = 600.0
#: Above this many remembered keys, `record` first forgets the ones with no recent failure.
SWEEP_ABOVE = 10_000


def is_loopback(address: str | None) -> bool:
    """Whether a client address is this machine's loopback (127.0.0.0/8, ::1, or either
    as an IPv4-mapped IPv6 address); False for anything else, a missing address included."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class FailureLimiter:
    """Remembers when each key (a session, a user, an address) last failed.

    A key is blocked once it has `limit` failures within the last `window` seconds. Successes
    do not reset the count: otherwise entering one's own valid code now and then would allow
    unlimited guessing. Kept in memory: the stand-in is one process.

    `attempt` counts an attempt as a failure before it is judged, and `forgive` takes it back
    once it succeeded: so attempts made in parallel cannot get past the limit together. Used
    without `forgive`, it counts every attempt (a rate limit).
    """

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
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

    def _wait(self, keys: Iterable[str], now: float) -> float:
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(wait, times[-self.limit] + self.window - now)
        return wait

    def _append(self, keys: Iterable[str], now: float) -> None:
        if len(self._failures) > SWEEP_ABOVE:
            for key in list(self._failures):
                self._recent(key, now)
        for key in keys:
            self._recent(key, now)
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while len(times) > self.limit:
                times.popleft()

    def retry_after(self, keys: Iterable[str]) -> float:
        """Seconds until every key may try again; 0 when none is blocked."""
        with self._lock:
            return self._wait(keys, self._clock())

    def record(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._append(keys, self._clock())

    def attempt(
        self, keys: Iterable[str], *, shared: Iterable[str] = (), owner: str | None = None
    ) -> tuple[float, float]:
        """(seconds to wait, 0) when a key is blocked; else (0, stamp): the attempt is
        counted as a failure of every key until `forgive(keys + shared, stamp)` takes it back.

        `shared` keys (an account's, whose sessions anyone signed in as it can open) hold
        back only an `owner` (one of `keys`, a browser session) that has a recent failure of
        its own: other sessions' failures never stop a session's first try, so they cannot
        make a person's valid code fail, while every session that guessed wrong is held back
        by the account's count as well as its own."""
        keys, shared = list(keys), list(shared)
        with self._lock:
            now = self._clock()
            wait = self._wait(keys, now)
            if shared and (owner is None or self._recent(owner, now)):
                wait = max(wait, self._wait(shared, now))
            if wait > 0:
                return wait, 0.0
            self._append(keys + shared, now)
            return 0.0, now

    def forgive(self, keys: Iterable[str], stamp: float) -> None:
        """Take back the failure `attempt` counted at `stamp` (the attempt succeeded)."""
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if times is None:
                    continue
                with contextlib.suppress(ValueError):  # already out of the window
                    times.remove(stamp)
                if not times:
                    del self._failures[key]
