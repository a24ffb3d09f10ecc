"""Text from requests made safe to print on the `serve` console.

Any web page can make a browser request `http://localhost:8080/<anything>`: a path holding
escape sequences or CR/LF would otherwise reach the terminal raw (changing its title,
colours, or forging log lines). Everything the log prints that a request chose goes
through `printable`.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[\x20-\x5b\x5d-\x7e]*")


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if char.isprintable():
        return char
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with control, format (bidi) and other unprintable characters, CR and LF
    written as `\\xNN`/`\\uNNNN`, and `\\` as `\\\\`, so that it is one inert line."""
    if _PLAIN.fullmatch(text):
        return text
    return "".join(_escape(c) for c in text)


def wsgi_text(value: str) -> str:
    """A WSGI environ string (bytes as latin-1, PEP 3333) as the UTF-8 it most likely was,
    made `printable`; bytes that are not UTF-8 are shown as `\\xNN`."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return printable(value)
    return printable(raw.decode("utf-8", "surrogateescape"))


def printable_block(text: str, indent: str = "  ") -> str:
    """Several lines (a traceback), each made `printable` and indented, so that no line of
    it can pass for a line of the request log."""
    return "\n".join(indent + printable(line) for line in text.splitlines())
