"""python-dotenv's `.env` grammar (1.x `dotenv.parser`), exactly, without python-dotenv.

`BINDING` matches one binding from where python-dotenv's `parse_binding` starts one:
the same text (`original`), key, value and error, so a file is cut into the same pieces.
tests/envfile/test_grammar.py checks that against `dotenv.parser.parse_stream` and
`dotenv_values` on every kind of text hypothesis can think of.

Two ways to use it:

- `bindings(text)` walks the whole file, binding after binding (linear; what the writer
  and `parse_all` use);
- `key_bindings(text, names)` finds only the bindings of `names`, without reading the
  rest: every occurrence of a name is checked to start a binding, which it does unless
  it lies inside a quoted value (or a quoted key) that began on an earlier line. That is
  decided backwards from the occurrence: the span it could be in was opened by the last
  unescaped quote before it, and whether that quote opened a span depends only on its
  own line and, rarely, on the state at that line's start (asked the same way). On a
  file whose quotes keep every question open (a pathological one) it gives up after a
  budget of steps and walks the whole file instead, so the answer is always exact.

Interpolation (`${NAME}`, `${NAME:-default}`) is python-dotenv's too (`interpolate`),
against the process environment and the file's earlier values, in one linear pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: A file's text, or the bytes of an ASCII-only one.
Text = str | bytes

_ERR = r"[^\r\n]*+(?:\r|\n|\r\n)?"  # python-dotenv's `_rest_of_line`, after an error
_SQ = r"(?:\\[\s\S]|[^'\\])*+"
_DQ = r'(?:\\[\s\S]|[^"\\])*+'


class _Dialect:
    """The grammar's expressions over `str`, or over the bytes of an ASCII-only file (with
    str's whitespace spelled out, since bytes' `\\s` lacks \\x1c-\\x1f): reading a big
    file's bytes spares decoding all of it."""

    after_key: re.Pattern[Any]
    binding: re.Pattern[Any]
    key_prefix: re.Pattern[Any]

    def __init__(self, ws: str, h: str, key: str, kind: type[str] | type[bytes]) -> None:
        eol = rf"{h}*+(?:\r\n|\n|\r|\Z)"
        #: After the key: `=` and a value, or none; then a comment and the line's end.
        after_key = (
            rf"(?>{h}*)"
            rf"(?:=(?:(?P<hash>{h}++(?=\#))"
            rf"|{h}*+(?:'(?P<sq>{_SQ})'|\"(?P<dq>{_DQ})\"|(?!['\"])(?P<uq>[^\r\n]*+)"
            rf"|(?P<qerr>(?=['\"]))))"
            rf"|(?P<nov>))"
            rf"(?(qerr){_ERR}|(?>(?:{h}*\#[^\r\n]*)?)(?:{eol}(?P<ok>)|{_ERR}))"
        )
        #: One binding (python-dotenv's `parse_binding`), matched where one starts.
        #: Exactly one of `eof` (only blanks left), `comment`, `ok` (a key, and a value
        #: or none) is set unless python-dotenv would report an error for the piece.
        binding = (
            rf"(?>{ws}*)(?:\Z(?P<eof>)|(?>(?:export{h}+)?)"
            rf"(?:\#[^\r\n]*+(?:\r\n|\n|\r|\Z)(?P<comment>)"
            rf"|(?:'(?P<qkey>[^']+)'|(?!')(?P<key>{key}++)){after_key}"
            rf"|{_ERR}))"
        )
        key_prefix = rf"{h}*+(?:export{h}+)?+('?)"
        if kind is bytes:
            self.after_key = re.compile(after_key.encode())
            self.binding = re.compile(binding.encode())
            self.key_prefix = re.compile(key_prefix.encode())
        else:
            self.after_key = re.compile(after_key)
            self.binding = re.compile(binding)
            self.key_prefix = re.compile(key_prefix)


_STR = _Dialect(r"\s", r"[^\S\r\n]", r"[^=\#\s]", str)
_ASCII_WS = r"\t\n\x0b\x0c\r\x1c-\x1f "
_BYTES = _Dialect(f"[{_ASCII_WS}]", r"[\t\x0b\x0c\x1c-\x1f ]", rf"[^=\#{_ASCII_WS}]", bytes)
AFTER_KEY = _STR.after_key
BINDING = _STR.binding
_UNQUOTED_COMMENT = re.compile(r"\s+#.*")
_SQ_ESCAPES = re.compile(r"\\[\\']")
_DQ_ESCAPES = re.compile(r"\\[\\'\"abfnrtv]")
_DQ_DECODED = {
    "\\\\": "\\",
    "\\'": "'",
    '\\"': '"',
    "\\a": "\a",
    "\\b": "\b",
    "\\f": "\f",
    "\\n": "\n",
    "\\r": "\r",
    "\\t": "\t",
    "\\v": "\v",
}
_VARIABLE = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")

#: States at the start of a line: a binding may start here, or the line continues a
#: double-quoted value, a single-quoted value or a single-quoted key.
START, IN_DOUBLE, IN_SINGLE, IN_KEY = 0, 1, 2, 3
#: How many line states `key_bindings` may work out for one line before it walks the
#: whole file instead.
BUDGET = 200


class Found:
    """A binding python-dotenv reads: `text[start:end]` from the start of its line (the
    blank lines python-dotenv joins to it stay outside), its key and decoded value (None
    for `NAME` alone); `error` for a piece python-dotenv could not parse (key None)."""

    __slots__ = ("end", "error", "key", "start", "value")

    def __init__(
        self, start: int, end: int, key: str | None, value: str | None, error: bool
    ) -> None:
        self.start, self.end, self.key, self.value, self.error = start, end, key, value, error

    def __repr__(self) -> str:  # values may be keys: never shown
        return f"Found({self.start}, {self.end}, {self.key!r}, error={self.error})"


def found_at(text: Text, start: int) -> Found:
    """The piece python-dotenv parses from `start` (where it starts one)."""
    m = _dialect(text).binding.match(text, start)
    assert m is not None  # every branch ends in one that cannot fail
    if m.group("ok") is not None:
        key = m.group("qkey") if m.group("qkey") is not None else m.group("key")
        return Found(start, m.end(), _str(key), _value(m), False)
    error = m.group("eof") is None and m.group("comment") is None
    return Found(start, m.end(), None, None, error)


def _dialect(text: Text) -> _Dialect:
    return _STR if isinstance(text, str) else _BYTES


def _str(piece: Text) -> str:
    return piece if isinstance(piece, str) else piece.decode("ascii")


def _value(m: re.Match[Any]) -> str | None:
    if m.group("nov") is not None:
        return None
    if m.group("hash") is not None:
        return ""
    single = m.group("sq")
    if single is not None:
        return _SQ_ESCAPES.sub(lambda e: e.group(0)[1], _str(single))
    double = m.group("dq")
    if double is not None:
        return _DQ_ESCAPES.sub(lambda e: _DQ_DECODED[e.group(0)], _str(double))
    return _UNQUOTED_COMMENT.sub("", _str(m.group("uq"))).rstrip()


# ---------------------------------------------------------------------------- the whole file


def bindings(text: Text) -> Iterator[Found]:
    """Every piece python-dotenv's `parse_stream` cuts `text` (BOM removed) into, in order.
    `start` is where python-dotenv's piece starts (blank lines before a binding included)."""
    pos, size = 0, len(text)
    while pos < size:
        found = found_at(text, pos)
        yield found
        pos = found.end


def parse_all(text: str, environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """What `dotenv_values(stream=...)` returns for `text`: every variable, interpolated."""
    pairs = ((f.key, f.value) for f in bindings(text.removeprefix("\ufeff")) if f.key is not None)
    return interpolate(pairs, os.environ if environ is None else environ)


def interpolate(
    pairs: Iterable[tuple[str, str | None]], environ: Mapping[str, str]
) -> dict[str, str | None]:
    """python-dotenv's `resolve_variables(..., override=True)`, in linear time: each
    `${NAME}` is the file's earlier value of NAME, else the environment's, else the
    default after `:-`, else empty."""
    values: dict[str, str | None] = {}
    for name, value in pairs:
        if value is not None and "${" in value:
            value = _VARIABLE.sub(lambda m: _lookup(m, values, environ), value)
        values[name] = value
    return values


def _lookup(m: re.Match[str], values: Mapping[str, str | None], environ: Mapping[str, str]) -> str:
    name, default = m.group("name"), m.group("default")
    if name in values:
        found = values[name]
    else:
        found = environ.get(name, default if default is not None else "")
    return found if found is not None else ""


def uses_variables(value: str | None) -> bool:
    return value is not None and _VARIABLE.search(value) is not None


# ---------------------------------------------------------------------------- some names


class _TooHard(Exception):
    """The budget of `key_bindings` ran out."""


def key_bindings(text: Text, names: Iterable[str]) -> list[Found]:
    """The bindings python-dotenv reads whose key is one of `names`, in file order
    (`text` without its BOM). `start` is the start of the binding's line."""
    names = tuple(names)
    return [found for found in lines_of(text, names) if found.key in names]


def lines_of(text: Text, names: Iterable[str]) -> list[Found]:
    """The pieces python-dotenv parses from each line that starts a binding and holds one
    of `names` where a key goes (after blanks, `export ` and maybe a quote), whatever
    they turned out to be (a binding of another key such as `NAME:`, an error, ...)."""
    names = tuple(names)
    try:
        return _Lines(text).lines_of(names)
    except _TooHard:
        return _walk_lines(text, names)


def _walk_lines(text: Text, names: tuple[str, ...]) -> list[Found]:
    """`lines_of` the slow, sure way: every piece of the file, in order."""
    lines = _Lines(text)
    wanted = {start for start, _ in lines.candidates(names)}
    result = []
    for found in bindings(text):
        piece = _str(text[found.start : found.end])
        blank = len(piece) - len(piece.lstrip())  # python-dotenv joins blank lines to it
        if blank < len(piece):
            line = lines.line_start(found.start + blank)
            if line in wanted:
                result.append(found_at(text, line))
    return result


class _Lines:
    """The line states of one text, worked out backwards from the lines that matter."""

    def __init__(self, text: Text) -> None:
        self.text: Any = text  # str, or bytes: the same methods, the same answers
        self.d = _dialect(text)
        self.ascii = isinstance(text, bytes)
        c = self.encode
        self.nl, self.cr, self.crlf = c("\n"), c("\r"), c("\r\n")
        self.dq, self.sq, self.bs = c('"'), c("'"), c("\\")
        self.has_cr = self.text.find(self.cr) != -1
        self.memo: dict[int, int] = {}
        self.steps = 0

    def encode(self, piece: str) -> Any:
        """`piece` as the same type as the text."""
        return piece.encode() if self.ascii else piece

    # -- lines

    def line_start(self, pos: int) -> int:
        text = self.text
        start = text.rfind(self.nl, 0, pos)
        if self.has_cr:
            start = max(start, text.rfind(self.cr, 0, pos))
        return int(start) + 1

    def next_line(self, pos: int) -> int:
        """The start of the line after the one holding `pos` (or the end of the text)."""
        text = self.text
        end = text.find(self.nl, pos)
        if self.has_cr:
            cr = text.find(self.cr, pos)
            if cr != -1 and (end == -1 or cr < end):
                return int(cr) + 2 if text.startswith(self.crlf, cr) else int(cr) + 1
        return len(text) if end == -1 else int(end) + 1

    def escaped(self, pos: int) -> bool:
        text, run, bs = self.text, pos, self.bs
        while run > 0 and text[run - 1 : run] == bs:
            run -= 1
        return (pos - run) % 2 == 1

    def last_unescaped(self, quote: Text, before: int) -> int:
        found: int = self.text.rfind(quote, 0, before)
        while found != -1 and self.escaped(found):
            found = self.text.rfind(quote, 0, found)
        return found

    def first_unescaped(self, quote: Text, start: int, end: int) -> int:
        found: int = self.text.find(quote, start, end)
        while found != -1 and self.escaped(found):
            found = self.text.find(quote, found + 1, end)
        return found

    # -- candidates

    def candidates(self, names: tuple[str, ...]) -> list[tuple[int, str]]:
        """(line start, name) where a name sits at the key position of its line."""
        text, found = self.text, set()
        for name in names:
            needle = self.encode(name)
            at = text.find(needle)
            while at != -1:
                start = self.line_start(at)
                prefix = self.d.key_prefix.match(text, start)
                if prefix is not None and prefix.end() == at:
                    found.add((start, name))
                at = text.find(needle, at + 1)
        return sorted(found)

    def lines_of(self, names: tuple[str, ...]) -> list[Found]:
        result: list[Found] = []
        done: set[int] = set()
        for start, _ in self.candidates(names):
            self.steps = 0  # the budget is for each line asked about
            if start not in done and self.state(start) == START:
                result.append(found_at(self.text, start))
            done.add(start)
        return result

    # -- states

    def state(self, pos: int) -> int:
        """The state at the line start `pos`."""
        known = self.memo.get(pos)
        if known is not None:
            return known
        self.steps += 1
        if self.steps > BUDGET:
            raise _TooHard
        state = START
        double = self.last_unescaped(self.dq, pos)
        if double != -1 and self.opens(double, IN_DOUBLE):
            state = IN_DOUBLE
        else:
            single = self.last_unescaped(self.sq, pos)
            if single != -1 and self.opens(single, IN_SINGLE):
                state = IN_SINGLE
            else:
                key = self.text.rfind(self.sq, 0, pos)
                if key != -1 and self.opens(key, IN_KEY):
                    state = IN_KEY
        self.memo[pos] = state
        return state

    def opens(self, quote: int, wanted: int) -> bool:
        """Whether the line holding `quote` ends inside a span of kind `wanted` (opened by
        that quote, the last of its kind before the line asked about)."""
        start, end = self.line_start(quote), self.next_line(quote)
        text = self.text
        entries = [START]
        if text.rfind(self.dq, 0, start) != -1:
            entries.append(IN_DOUBLE)
        if text.rfind(self.sq, 0, start) != -1:
            entries += [IN_SINGLE, IN_KEY]
        seen = set()
        for entry in entries:  # stop as soon as the answer depends on the entry
            seen.add(self.exit(start, end, entry) == wanted)
            if len(seen) == 2:
                return self.exit(start, end, self.state(start)) == wanted
        return seen.pop()

    def exit(self, start: int, end: int, entry: int) -> int:
        """The state after the line [start, end) when it begins in state `entry`."""
        text = self.text
        if entry in (IN_DOUBLE, IN_SINGLE):
            quote = self.dq if entry == IN_DOUBLE else self.sq
            return START if self.first_unescaped(quote, start, end) != -1 else entry
        if entry == IN_KEY:
            close = text.find(self.sq, start, end)
            if close == -1:
                return IN_KEY
            m = self.d.after_key.match(text, close + 1)
            assert m is not None
            return self._open_at(m, end)
        m = self.d.binding.match(text, start)
        assert m is not None
        return self._open_at(m, end)

    @staticmethod
    def _open_at(m: re.Match[Any], end: int) -> int:
        """What a match that began on a line leaves open at `end`, that line's end."""
        if m.end() <= end:
            return START
        for group, state in (("qkey", IN_KEY), ("dq", IN_DOUBLE), ("sq", IN_SINGLE)):
            if group in m.re.groupindex:
                first, last = m.span(group)
                if first != -1 and first < end <= last:
                    return state
        return START  # pragma: no cover - a match past the line always holds a span
