"""How `atmn` marks its lines: `✓` for success, `!` for warnings, `atmn: error:` for errors.

`Style(stream, environ)` decides for one stream. Colour (green ✓, yellow !, red error)
only on a terminal, and never when `NO_COLOR` is set to anything but the empty string
(https://no-color.org) or `TERM=dumb`. On a terminal, a marked line is wrapped to its
width (`COLUMNS`, else the terminal's; at least 40 columns) without breaking words, paths
or URLs, and continuation lines are indented under the text after the mark. Piped
output is never wrapped or coloured, so each message stays one line for grep and tests.

`term.console.Console` routes them: results (and `ok`) to standard output, warnings and
errors to standard error.

Only `os` is imported up front: `atmn env --offline` loads this module before
click, and it must stay quick.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import TextIO

OK_MARK = "✓"
ASCII_OK_MARK = "OK"  # for a stream that cannot encode ✓
WARN_MARK = "!"
ERROR_PREFIX = "atmn: error:"
MIN_WIDTH = 40

GREEN, YELLOW, RED, RESET = "\x1b[32m", "\x1b[33m", "\x1b[1;31m", "\x1b[0m"


def _isatty(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # no such method, or a closed stream
        return False


def wants_color(stream: object, environ: Mapping[str, str]) -> bool:
    """Whether to colour what goes to `stream`: a terminal, no `NO_COLOR`, no `TERM=dumb`."""
    return _isatty(stream) and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def terminal_width(stream: object, environ: Mapping[str, str]) -> int:
    """`COLUMNS` when it is a positive number, else the size of `stream`'s terminal, else
    `shutil.get_terminal_size`'s answer; never less than `MIN_WIDTH`."""
    columns = environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() else 0
    if width <= 0:
        try:
            width = os.get_terminal_size(stream.fileno()).columns  # type: ignore[attr-defined]
        except (AttributeError, ValueError, OSError):
            import shutil

            width = shutil.get_terminal_size().columns
    return max(MIN_WIDTH, width)


def _encodes(stream: object, text: str) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        text.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


class Style:
    """Marks lines for one stream (`sys.stdout` or `sys.stderr`, usually).

    `color` and `width` default to what the stream and `environ` say; `width=None` on a
    stream that is not a terminal means "do not wrap". `Style()` marks plainly.
    """

    __slots__ = ("color", "ok_mark", "width")

    def __init__(
        self,
        stream: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        color: bool | None = None,
        width: int | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        tty = _isatty(stream)
        self.color: bool = wants_color(stream, env) if color is None else color
        if width is None and tty:
            width = terminal_width(stream, env)
        self.width: int | None = width
        self.ok_mark = OK_MARK if _encodes(stream, OK_MARK) else ASCII_OK_MARK

    def ok(self, text: str) -> str:
        """`✓ text` (the ✓ green)."""
        return self._mark(self.ok_mark, GREEN, text)

    def warn(self, text: str) -> str:
        """`! text` (the ! yellow). A leading "Warning:" may stay: `! Warning: …`."""
        return self._mark(WARN_MARK, YELLOW, text)

    def error(self, text: str) -> str:
        """`atmn: error: text` ("error:" in red)."""
        return self._mark(ERROR_PREFIX, RED, text)

    def _mark(self, mark: str, color: str, text: str) -> str:
        lines = self.wrap(f"{mark} ", text)
        if self.color:
            shown = f"{color}{mark}{RESET}"
            if mark == ERROR_PREFIX:
                head, _, word = mark.rpartition(" ")
                shown = f"{head} {color}{word}{RESET}"
            lines[0] = shown + lines[0][len(mark) :]
        return "\n".join(lines)

    def wrap(self, lead: str, text: str) -> list[str]:
        """`lead + text` as lines of at most `width` columns (one line each when there is
        no width); each line of `text` wrapped on its own, continuations under the text."""
        indent = " " * len(lead)
        out: list[str] = []
        for i, line in enumerate(text.split("\n")):
            first = lead if i == 0 else indent
            if self.width is None:
                out.append(first + line)
                continue
            import textwrap

            wrapped = textwrap.wrap(
                line,
                width=self.width,
                initial_indent=first,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            out.extend(wrapped or [first.rstrip()])
        return out
