"""Debian's Chromium for Playwright (`executable_path`): Playwright never downloads one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: Headless, and nothing that would reach for the network on its own.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def executable() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is required (scripts/test installs it)"
    return path


# --------------------------------------------------------------------------- screenshots

#: The widths every page is looked at: a desktop and a phone.
VIEWPORTS = {"1280x800": (1280, 800), "390x844": (390, 844)}

#: Visible form fields without a <label> (by `for` or by nesting).
UNLABELLED_FIELDS = """
() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter((el) => el.type !== 'hidden')
  .filter((el) => {
    const style = getComputedStyle(el);
    return el.getClientRects().length > 0 && style.visibility !== 'hidden'
      && style.display !== 'none';
  })
  .filter((el) => {
    const byFor = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    return !byFor && !el.closest('label');
  })
  .map((el) => el.outerHTML)
"""


@contextmanager
def launched() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable(), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def at_viewport(browser: Browser, tmp_path: Path, viewport: str) -> Iterator[tuple[Page, Path]]:
    """A page of a new browser context at `viewport`, and where its screenshots go."""
    shots = tmp_path / "screenshots"
    shots.mkdir()
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page(), shots
    finally:
        context.close()
    print(f"screenshots: {shots}")


def check_page(page: Page, shots: Path, name: str, viewport: str) -> str:
    """Screenshots the page, checks what every page must get right (no sideways scrolling,
    a viewport meta tag, every field labelled), returns its text."""
    page.screenshot(path=str(shots / f"{name}-{viewport}.png"), full_page=True)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name} scrolls sideways at {viewport}: {width}"
    assert page.locator("meta[name=viewport]").count() == 1, f"{name} has no viewport meta"
    unlabelled = page.evaluate(UNLABELLED_FIELDS)
    assert unlabelled == [], f"{name} at {viewport} has fields without a <label>: {unlabelled}"
    return str(page.inner_text("body"))
