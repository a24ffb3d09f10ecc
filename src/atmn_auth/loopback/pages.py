"""The pages the loopback callback server shows the browser: one small stylesheet, no
script, a Content-Security-Policy that allows nothing else."""

from __future__ import annotations

import base64
import hashlib
import html

STYLE = (
    "*{box-sizing:border-box}body{margin:0;background:#f6f5f2;color:#1f2328;"
    "overflow-wrap:anywhere;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "main{max-width:30rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.35rem;line-height:1.3;margin:0 0 .75rem}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;background:#f1f1f1;"
    "padding:0 .2rem;border-radius:3px}footer{margin-top:2rem;color:#57606a;font-size:.9rem}"
    "@media (max-width:32rem){main{margin:.75rem;padding:1.25rem}}"
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
# The start link (callback.start_link): (title, body HTML)
REDIRECTING = (
    "Opening the Autumn sign-in page",
    "If it does not open, return to your terminal and open the address printed there.",
)
LINK_USED = (
    "This sign-in link was already used",
    "It works only once. If the Autumn sign-in page is open in another tab, finish there. "
    "Otherwise return to your terminal and open the sign-in address printed there, or "
    "press Ctrl-C and run <code>atmn login</code> again.",
)
OTHER_USER = (
    "Not your sign-in",
    "This link belongs to a sign-in that another user of this computer started. If you "
    "started <code>atmn login</code>, open the address it printed in your terminal.",
)


def page(title: str, body_html: str) -> bytes:
    """A whole page: `title` is text, `body_html` is trusted markup of our own."""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · Autumn CLI</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1><p>{body_html}</p>"
        "<footer>Autumn CLI (atmn)</footer></main></body></html>\n"
    ).encode()
