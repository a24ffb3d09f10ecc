"""Pasted addresses: a user whose browser cannot reach this machine (SSH) pastes the address
it ended on, or its query string, into the terminal; one with the right `state` settles the
sign-in like the browser's redirect. Other lines get a short reason, never the line itself.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from atmn_auth.loopback.settlement import Settlement, parse_query

MAX_PASTE_LINE = 16 * 1024
_POLL = 0.1  # how often the reader looks whether the wait is over

REJECTIONS = {
    "not_url": "that is not a sign-in address: paste the whole address from the browser",
    "wrong_state": "that address is not from this sign-in",
    "incomplete": "that address carries no authorization code",
}


@contextmanager
def reading_pastes(
    stream: TextIO | None,
    settlement: Settlement,
    on_rejected: Callable[[str], None] | None,
) -> Iterator[None]:
    """Read `stream` on a thread while inside (nothing when it is None or the sign-in is
    already settled); on the way out the thread stops reading, so that later input (a
    prompt, say) is not swallowed."""
    if stream is None or settlement.result is not None:
        yield
        return
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_lines,
        args=(stream, _on_line(settlement, on_rejected), stop),
        name="atmn-callback-paste",
        daemon=True,
    )
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join(timeout=2 * _POLL)


def _on_line(
    settlement: Settlement, on_rejected: Callable[[str], None] | None
) -> Callable[[str], bool]:
    def on_line(line: str) -> bool:
        if not line.strip():
            return False
        params = pasted_params(line)
        verdict = "wrong_state" if params is None else settlement.judge(params)
        if params is not None and verdict == "settles":
            if settlement.claim(params, "paste"):
                settlement.done.set()
            return True
        if on_rejected is not None:
            on_rejected(REJECTIONS["not_url" if params is None else verdict])
        return False

    return on_line


def pasted_params(line: str) -> dict[str, str] | None:
    """The query parameters of a pasted URL or query string; None if it is neither."""
    text = line.strip().strip("<>\"'")
    if "?" in text:
        text = text.split("?", 1)[1]
    elif "=" not in text:
        return None
    return parse_query(text.partition("#")[0])


def _read_lines(stream: TextIO, on_line: Callable[[str], bool], stop: threading.Event) -> None:
    """Feed lines to `on_line` until it returns True, `stop` is set, or the stream ends.

    A stream with a file descriptor is polled, so the thread stops reading when the wait is
    over and later input is not swallowed.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd < 0 or os.name == "nt":
        for line in iter(stream.readline, ""):
            if stop.is_set() or on_line(line):
                return
        return
    buffer = b""
    while not stop.is_set():
        try:
            ready, _, _ = select.select([fd], [], [], _POLL)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            if on_line(raw.decode(errors="replace")):
                return
        if len(buffer) > MAX_PASTE_LINE:
            buffer = b""
