"""The pages a person sees while `atmn login` runs, at desktop and phone widths, in Chromium.

Each page (the stand-in's sign-in and consent pages, the CLI's own callback pages for
Approve and Deny, and the pages that refuse: a start link used twice, a request the
stand-in cannot take, a throttled sign-in) is screenshotted into pytest's tmp_path as
`<page>-<viewport>.png` and checked for what a person would trip over: a page wider than
the screen, no viewport meta tag, form fields without a label, and the words that matter
on it.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from dotenv import dotenv_values
from playwright.sync_api import Browser, Page

from support import chromium
from support.autumn_server import AutumnServer
from support.chromium import VIEWPORTS, at_viewport, check_page

from .helpers import ATMN, clean_env, organization_of

URL = re.compile(r"http://127\.0\.0\.1:\d+/api/auth/oauth2/authorize\?\S+")
PAIRING = re.compile(r"Pairing code: (?P<code>[A-Z0-9]{4}-[A-Z0-9]{4})")
CALLBACK = re.compile(r"http://localhost:3144[89]/|http://localhost:3145[012]/")
LINE_TIMEOUT = 30.0
EXIT_TIMEOUT = 30.0


class Login:
    """A running `atmn login --no-browser`, its stderr read line by line in a thread."""

    def __init__(self, server: AutumnServer, project: Path) -> None:
        project.mkdir(parents=True)
        self.project = project
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self.process = subprocess.Popen(
            [ATMN, "login", "--no-browser", "--no-device", "--timeout", "60"],
            cwd=project,
            env=clean_env(project, ATMN_BACKEND_URL=server.url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None and self.process.stdout is not None
        self._threads = [
            threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True),
            threading.Thread(target=self._read_stdout, args=(self.process.stdout,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_stdout(self, stream: IO[str]) -> None:
        self.stdout.extend(stream)

    def url_and_pairing_code(self) -> tuple[str, str]:
        url = code = None
        while url is None or code is None:
            try:
                line = self.lines.get(timeout=LINE_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"atmn login printed no URL and pairing code:\n{self.transcript()}")
            if line is None:
                pytest.fail(f"atmn login ended before its pairing code:\n{self.transcript()}")
            url_match, code_match = URL.search(line), PAIRING.search(line)
            url = url_match.group(0) if url_match else url
            code = code_match["code"] if code_match else code
        return url, code

    def url(self) -> str:
        """The sign-in URL (hosted Autumn's page shows no pairing code, nor does atmn)."""
        while True:
            try:
                line = self.lines.get(timeout=LINE_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"atmn login printed no URL:\n{self.transcript()}")
            if line is None:
                pytest.fail(f"atmn login ended before its URL:\n{self.transcript()}")
            found = URL.search(line)
            if found:
                return found.group(0)

    def wait(self) -> int:
        try:
            returncode = self.process.wait(timeout=EXIT_TIMEOUT)
        finally:
            self.stop()
        return returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for thread in self._threads:
            thread.join(timeout=5)

    def transcript(self) -> str:
        return "".join(self.stderr) + "".join(self.stdout)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium.launched() as launched:
        yield launched


def sign_in(page: Page, server: AutumnServer) -> None:
    """Fills in the sign-in page as the demo user and submits it."""
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("#sign-in")


def consent(page: Page, shots: Path, name: str, viewport: str, pairing: str) -> list[str]:
    page.wait_for_selector("select[name=org_id]")
    text = check_page(page, shots, name, viewport)
    assert pairing in text, f"consent page does not show the terminal's code {pairing}"
    if page.locator("#pairing-code").count():
        assert page.inner_text("#pairing-code").strip() == pairing
    options = [o.strip() for o in page.locator("select[name=org_id] option").all_inner_texts()]
    assert any("Acme" in o for o in options), options
    assert any("Globex" in o for o in options), options
    return options


@pytest.mark.browser
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_login_pages_at_desktop_and_phone_widths(
    browser: Browser, autumn_server: AutumnServer, tmp_path: Path, viewport: str
) -> None:
    with at_viewport(browser, tmp_path, viewport) as (page, shots):
        # Approve: sign in, choose the second organization (Globex), approve.
        login = Login(autumn_server, tmp_path / "approve")
        try:
            url, pairing = login.url_and_pairing_code()
            page.goto(url)
            page.wait_for_selector("input[name=password]")
            text = check_page(page, shots, "sign-in", viewport)
            assert "Sign in" in text
            sign_in(page, autumn_server)

            options = consent(page, shots, "consent", viewport, pairing)
            assert "Globex" in options[1], options
            page.select_option("select[name=org_id]", index=1)
            page.click("#approve")
            # The callback page is held until the CLI has minted the keys: wait for its load.
            page.wait_for_url(CALLBACK, wait_until="load", timeout=45_000)
            done = check_page(page, shots, "done", viewport)
            returncode = login.wait()
        finally:
            login.stop()
        assert returncode == 0, login.transcript()
        assert "Globex" in done, done
        assert re.search(r"return to (your|the) terminal", done, re.IGNORECASE), done
        key = dotenv_values(login.project / ".env").get("AUTUMN_SECRET_KEY")
        assert key, login.transcript()
        assert organization_of(autumn_server.url, key).json()["slug"] == "globex"

        # Deny: same browser session (already signed in), straight to consent, press Deny.
        login = Login(autumn_server, tmp_path / "deny")
        try:
            url, pairing = login.url_and_pairing_code()
            page.goto(url)
            consent(page, shots, "consent-again", viewport, pairing)
            page.click("#deny")
            page.wait_for_url(CALLBACK, wait_until="load", timeout=45_000)
            denied = check_page(page, shots, "denied", viewport)
            returncode = login.wait()
        finally:
            login.stop()
        assert returncode == 1, login.transcript()
        assert "Sign-in cancelled" in denied, denied
        assert "You chose Deny" in denied, denied
        assert "nothing was created" in denied, denied
        assert not (login.project / ".env").exists() or not dotenv_values(
            login.project / ".env"
        ).get("AUTUMN_SECRET_KEY")


@pytest.mark.browser
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_hosted_consent_page_at_desktop_and_phone_widths(
    browser: Browser,
    start_autumn_server: Callable[..., AutumnServer],
    tmp_path: Path,
    viewport: str,
) -> None:
    """Hosted Autumn's consent page (the stand-in's `--hosted`): Cancel and Authorize, no
    pairing code anywhere (the terminal shows none either), Authorize goes straight back to
    the CLI, whose page is the last one."""
    server = start_autumn_server(hosted=True)
    with at_viewport(browser, tmp_path, viewport) as (page, shots):
        login = Login(server, tmp_path / "approve")
        try:
            page.goto(login.url())
            page.wait_for_selector("input[name=password]")
            sign_in(page, server)
            page.wait_for_selector("#authorize")
            text = check_page(page, shots, "hosted-consent", viewport)
            assert "Pairing code" not in text and "Pairing code" not in login.transcript()
            assert page.locator("#cancel").inner_text().strip() == "Cancel"
            page.select_option("select[name=org_id]", label="Globex")
            page.click("#authorize")
            page.wait_for_url(CALLBACK, wait_until="load", timeout=45_000)
            done = check_page(page, shots, "hosted-done", viewport)
            returncode = login.wait()
        finally:
            login.stop()
        assert returncode == 0, login.transcript()
        assert "Signed in to Globex" in done, done
        assert "✓ Signed in to Globex (globex) as " in login.transcript()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_refusal_pages_at_desktop_and_phone_widths(
    browser: Browser,
    start_autumn_server: Callable[..., AutumnServer],
    tmp_path: Path,
    viewport: str,
) -> None:
    """The pages that say no: a start link used twice (the CLI's), a throttled sign-in and
    a request the stand-in cannot take (autumn-local's)."""
    from atmn_auth.loopback.callback import CallbackServer

    shots = tmp_path / "screenshots"
    shots.mkdir()
    width, height = VIEWPORTS[viewport]
    server = start_autumn_server(sign_in_limit=1, sign_in_window=300)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        with CallbackServer("s" * 43, ports=range(31448, 31453)) as callback:
            link = callback.start_link(f"{server.url}/healthz")
            page.goto(link)
            page.goto(link)  # a second use of the single-use link
            used = check_page(page, shots, "start-link-used", viewport)
        assert "already used" in used, used
        assert "terminal" in used, used

        page.goto(f"{server.url}/api/auth/oauth2/authorize?redirect_uri=%22x%5C&response_type=code")
        invalid = check_page(page, shots, "request-not-valid", viewport)
        assert "not valid" in invalid, invalid

        page.goto(f"{server.url}/sign-in")
        for _ in range(2):  # the limit is one failure: the second attempt is throttled
            page.fill("input[name=email]", server.email)
            page.fill("input[name=password]", "not-the-password")
            page.click("#sign-in")
            page.wait_for_selector("input[name=password]")
        throttled = check_page(page, shots, "sign-in-throttled", viewport)
        assert "Too many failed sign-ins" in throttled, throttled
    finally:
        context.close()
    print(f"screenshots: {shots}")
