"""Refusing malformed OAuth requests up front, before authlib or a page sees them.

RFC 6749 (Appendix A) allows only printable ASCII in the parameters of its endpoints, and a
parameter at most once (§3.1, §3.2). Every value here must moreover fit authlib's rule for
error descriptions (no `"`, no `\\`), since authlib quotes some values (`redirect_uri`,
`response_type`) in its errors and raises instead of answering when they do not fit. `state`
is quoted nowhere, so it may hold any printable ASCII (RFC 6749's VSCHAR).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qsl

#: RFC 6749 §4.1.2.1's error-description characters: printable ASCII without `"` and `\`.
_PLAIN = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
#: RFC 6749 Appendix A's VSCHAR: any printable ASCII.
_VSCHAR = re.compile(r"[\x20-\x7e]*")
#: What a parameter's name may be (to be named in an error message).
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: Where to go after signing in: printable ASCII without spaces (a URL, as sent).
_NEXT = re.compile(r"[\x21-\x7e]*")
MAX_VALUE = 2048
MAX_PARAMETERS = 40
MAX_NEXT = 8192
#: Parameters whose values may hold any printable ASCII.
ANY_PRINTABLE = frozenset({"state"})


NOT_UTF8 = "The request has percent-escapes that are not UTF-8."


def decode_form(raw: bytes) -> list[tuple[str, str]] | None:
    """A query string or form body as (name, value) pairs; None when a percent-escape is
    not UTF-8 (werkzeug would keep such escapes as text instead of refusing them)."""
    try:
        return parse_qsl(
            raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return None


def problem(pairs: Iterable[tuple[str, str]]) -> str | None:
    """What is wrong with these (name, value) pairs, in words that quote no value; or None."""
    pairs = list(pairs)
    if len(pairs) > MAX_PARAMETERS:
        return "The request has too many parameters."
    for name, value in pairs:
        if not _NAME.fullmatch(name):
            return "The request has a parameter with a malformed name."
        if len(value) > MAX_VALUE:
            return f"The '{name}' parameter is too long."
        allowed = _VSCHAR if name in ANY_PRINTABLE else _PLAIN
        if not allowed.fullmatch(value):
            return f"The '{name}' parameter contains characters that are not allowed."
    repeated = sorted(name for name, count in Counter(n for n, _ in pairs).items() if count > 1)
    if repeated:
        return f"The '{repeated[0]}' parameter is repeated."
    return None


def next_is_malformed(target: str) -> bool:
    """Whether a sign-in page's `next` cannot be a URL at all (control characters, CR/LF,
    spaces, non-ASCII, too long). A well-formed one that points elsewhere is not malformed:
    the page just goes home instead (no open redirect)."""
    return len(target) > MAX_NEXT or not _NEXT.fullmatch(target)
