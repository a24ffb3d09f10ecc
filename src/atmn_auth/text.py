"""Text for people: server text made safe for a terminal, durations and ages in words."""

from __future__ import annotations

import unicodedata

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime


def printable(text: str, limit: int = 300) -> str:
    """`text` from a server made safe for a terminal: one line, no control characters.

    Escape sequences could recolour, retitle or rewrite the terminal, and a newline or a
    bidi override could forge lines of our own output.
    """
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if unicodedata.category(ch)[0] != "C" or ch.isspace()
    )
    return " ".join(kept.split())[:limit]


def format_duration(seconds: float) -> str:
    """`5 minutes`, `1 minute 30 seconds`, `0.3 seconds`."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + " seconds"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if n
    ]
    return " ".join(parts) or "0 seconds"


def ago(when: datetime | None, now: datetime) -> str:
    """`just now`, `5 minutes ago`, `3 days ago`, `4 months ago`, `2 years ago`."""
    if when is None:
        return "unknown"
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    for limit, size, unit in (
        (3600, 60, "minute"),
        (86400, 3600, "hour"),
        (60 * 86400, 86400, "day"),
        (365 * 86400, 30 * 86400, "month"),
    ):
        if seconds < limit:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    years = int(seconds // (365 * 86400))
    return f"{years} year{'' if years == 1 else 's'} ago"


def age_days(when: datetime | None, now: datetime) -> int | None:
    return None if when is None else max(int((now - when).total_seconds() // 86400), 0)


def iso(when: datetime | None) -> str | None:
    from datetime import UTC

    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")
