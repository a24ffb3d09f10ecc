"""`run_login` in this process, on private callback ports, with a "browser" that approves.

The browser is a plain HTTP client: it opens the start link it is given, follows the
redirects (to the sign-in URL, the backend's own), then loads the loopback callback and
keeps the page it was shown.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2

from atmn_auth.api.session import Session as HTTPSession
from atmn_auth.auth.login import LoginOptions, LoginResult, log_in
from atmn_auth.settings import load_settings
from atmn_auth.term.console import Console


def free_ports(n: int) -> list[int]:
    """n loopback ports free right now, away from the shared callback range."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in ports and not 31448 <= port <= 31452:
            ports.append(port)
    return ports


@dataclass
class Browser:
    """Follows redirects from the sign-in URL to the callback; remembers every page."""

    pages: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bool:
        with httpx2.Client(follow_redirects=False, timeout=5) as client:
            response = client.get(url)
            for _ in range(10):
                self.addresses.append(str(response.url))
                self.pages.append(response.text)
                if not response.is_redirect:
                    break
                target = urljoin(str(response.url), response.headers["location"])
                response = client.get(target)
        return True

    @property
    def callback_page(self) -> str:
        for address, page in zip(self.addresses, self.pages, strict=True):
            parts = urlsplit(address)
            if parts.hostname == "localhost" and parts.path == "/":  # not the start link
                return page
        raise AssertionError(f"the browser never reached the callback: {self.addresses}")


@dataclass
class Session:
    """What the user saw: every line of output, debug lines included."""

    lines: list[str] = field(default_factory=list)
    browser: Browser = field(default_factory=Browser)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def login(
    backend_url: str,
    project: Path,
    *,
    session: Session | None = None,
    opener: Callable[[str], bool] | None = None,
    org: str | None = "acme",
    ports: Sequence[int] | None = None,
) -> LoginResult:
    """One `atmn login --org acme --force` against `backend_url`, writing `project/.env`.

    Private free ports by default; the real stand-in only accepts the registered ones
    (`ports=CALLBACK_PORTS`).
    """
    session = session if session is not None else Session()
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": backend_url})
    console = Console(
        info=session.lines.append,
        interactive=False,
        opener=opener or session.browser,
        debug=lambda line: session.lines.append(f"debug: {line}"),
    )
    with HTTPSession({"BROWSER": "scripted"}) as http:
        return log_in(
            settings,
            cwd=project,
            environ={"BROWSER": "scripted"},
            options=LoginOptions(org=org, force=True, timeout=10),
            console=console,
            session=http,
            ports=ports or free_ports(2),
        )
