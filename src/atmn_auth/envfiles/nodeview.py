"""How Node's `dotenv` (the `parse` of dotenv 16-18, its regular expression) reads what
python-dotenv reads differently, for the writer: values quoted with backticks, which
may span lines, and the `NAME: value` form.

`backtick_spans(text)` runs Node's own expression over the text (line ends made `\\n` as
Node does, positions mapped back), and returns where each multi-line backtick-quoted
value lies: a line in one is part of a value for Node, whatever python-dotenv makes of
it. `colon_value(line, name)` is the value Node reads from a `NAME: value` line.
"""

from __future__ import annotations

import bisect
import re

_WS = "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
_LT = "\\n\\r\\u2028\\u2029"  # JavaScript's line terminators (`^`, `$` and `.` with /m)
#: Node dotenv's `LINE` expression, `/.../mg`, in Python's dialect.
_LINE = re.compile(
    rf"(?:(?<=[{_LT}])|\A){_WS}*(?:export{_WS}+)?([A-Za-z0-9_.-]+)"
    rf"(?:{_WS}*={_WS}*?|:{_WS}+?)"
    rf"({_WS}*'(?:\\'|[^'])*'|{_WS}*\"(?:\\\"|[^\"])*\"|{_WS}*`(?:\\`|[^`])*`|[^#\r\n]+)?"
    rf"{_WS}*(?:#[^{_LT}]*)?(?=[{_LT}]|\Z)"
)
_QUOTED = re.compile(r"^(['\"`])([\s\S]*)\1$", re.MULTILINE)


def backtick_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each backtick-quoted value Node reads across lines."""
    if "`" not in text:
        return []
    normal, collapsed = _normalise(text)
    spans = []
    for m in _LINE.finditer(normal):
        value = m.group(2)
        if value is None or not value.lstrip().startswith("`"):
            continue
        start = m.start(2) + (len(value) - len(value.lstrip()))
        end = m.end(2)
        if "\n" in normal[start:end] or "\u2028" in value or "\u2029" in value:
            spans.append((_original(start, collapsed), _original(end, collapsed)))
    return spans


def inside(spans: list[tuple[int, int]], pos: int) -> bool:
    return any(start < pos < end for start, end in spans)


def colon_value(piece: str, name: str) -> str | None:
    """Node's value for `name` when `piece` (a line) is `[export ]NAME: value`; else None."""
    m = _LINE.match(piece.replace("\r\n", "\n").replace("\r", "\n"))
    if m is None or m.group(1) != name:
        return None
    value = (m.group(2) or "").strip()
    unquoted = _QUOTED.sub(r"\2", value)
    if value.startswith('"'):
        unquoted = unquoted.replace("\\n", "\n").replace("\\r", "\r")
    return unquoted


def _normalise(text: str) -> tuple[str, list[int]]:
    """Node's `text.replace(/\\r\\n?/g, "\\n")`, and where (in the result) each `\\r\\n`
    lost a character, to map positions back."""
    if "\r" not in text:
        return text, []
    collapsed: list[int] = []  # just after each "\n" that was "\r\n"
    out: list[str] = []
    pos = size = 0
    for m in re.finditer(r"\r\n?", text):
        out.append(text[pos : m.start()])
        size += m.start() - pos + 1
        if m.group(0) == "\r\n":
            collapsed.append(size)
        out.append("\n")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), collapsed


def _original(pos: int, collapsed: list[int]) -> int:
    return pos + bisect.bisect_right(collapsed, pos)
