"""The pages the loopback callback server shows the browser: one small stylesheet, no
script, a Content-Security-Policy that allows nothing else."""

from __future__ import annotations

import base64
import hashlib
import html

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;"
    "color:#222;line-height:1.5}h1{font-size:1.4rem}code{background:#eee;padding:0 .2rem}"
)
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
RETURN = "Return to your terminal."
PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "This request is not one the Autumn CLI can use."),
    404: ("Not found", "There is nothing here."),
    405: ("Method not allowed", "Only the sign-in redirect is served here."),
    414: ("Address too long", "This address is too long to be a sign-in redirect."),
    431: ("Headers too large", "This request's headers are too large."),
}


def page(title: str, body_html: str) -> bytes:
    """A whole page: `title` is text, `body_html` is trusted markup of our own."""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} · Autumn CLI</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{body_html}</p></body></html>\n"
    ).encode()
