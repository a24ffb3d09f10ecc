"""Text for people: server text made safe for a terminal, and durations in words."""

from __future__ import annotations

import unicodedata


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
