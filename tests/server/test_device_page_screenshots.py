"""The device confirmation page as a person sees it, at phone and desktop widths, in Chromium.

Signed in through the pages, the code entered from the verification link, the confirm page
is screenshotted into pytest's tmp_path (`device-confirm-<viewport>.png`, and
`device-confirm-old-<viewport>.png` for a request made 3 minutes earlier) and checked: the
request's age is in the box with the code, right under it and on the first screen, the old
request's warning too; no sideways scrolling, every field labelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, Page

from support import chromium
from support.autumn_server import AutumnServer
from support.chromium import VIEWPORTS, at_viewport, check_page
from support.device_requests import backdate
from support.oauth_flow import ALL_SCOPES, CLIENT_ID

DEVICE_PATH = "/api/auth/oauth2/device"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium.launched() as launched:
        yield launched


def request_device(server: AutumnServer) -> str:
    data = {"client_id": CLIENT_ID, "scope": ALL_SCOPES}
    response = httpx2.post(server.url + DEVICE_PATH, data=data, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["user_code"])


def open_confirm_page(page: Page, server: AutumnServer, user_code: str) -> None:
    """The verification link with the code (signing in first when asked), then Continue."""
    page.goto(f"{server.url}/device?user_code={user_code}")
    if page.locator("input[name=password]").count():
        page.fill("input[name=email]", server.email)
        page.fill("input[name=password]", server.password)
        page.click("#sign-in")
    page.wait_for_selector("#continue")
    page.click("#continue")
    page.wait_for_selector("#approve")


def box(page: Page, selector: str) -> dict[str, float]:
    assert page.locator(selector).count() == 1, f"{selector} is not on the page"
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def check_confirm_page(page: Page, shots: Path, name: str, viewport: str) -> str:
    """Screenshots the page and checks the age line sits under the code, in its box, on the
    first screen; returns the age line."""
    check_page(page, shots, name, viewport)
    code, age, section = box(page, "#user-code"), box(page, "#requested"), box(page, ".pairing")
    assert code["y"] + code["height"] <= age["y"] < code["y"] + code["height"] + 40
    for inner in (code, age):
        assert (
            section["x"] <= inner["x"]
            and inner["x"] + inner["width"] <= section["x"] + (section["width"])
        )
        assert (
            section["y"] <= inner["y"]
            and inner["y"] + inner["height"] <= section["y"] + (section["height"])
        )
    assert age["y"] + age["height"] <= page.viewport_size["height"], "the age is below the fold"
    return " ".join(page.inner_text("#requested").split())


@pytest.mark.browser
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_device_confirm_page_shows_the_requests_age_beside_the_code(
    browser: Browser,
    start_autumn_server: Callable[..., AutumnServer],
    tmp_path: Path,
    viewport: str,
) -> None:
    server = start_autumn_server()
    height = VIEWPORTS[viewport][1]
    with at_viewport(browser, tmp_path, viewport) as (page, shots):
        fresh = request_device(server)
        open_confirm_page(page, server, fresh)
        assert page.inner_text("#user-code").strip() == fresh
        line = check_confirm_page(page, shots, "device-confirm", viewport)
        assert re.fullmatch(r"Requested (just now|\d+ seconds ago)", line), line
        assert page.locator("#requested-warning").count() == 0

        old = request_device(server)
        backdate(server, old, 185)
        open_confirm_page(page, server, old)  # signed in already: straight to the code
        line = check_confirm_page(page, shots, "device-confirm-old", viewport)
        assert line == "Requested 3 minutes ago", line
        warning = " ".join(page.inner_text("#requested-warning").split())
        assert warning.startswith("This sign-in was started 3 minutes ago, not just now."), warning
        assert "If someone sent you this link or code, press Deny." in warning
        warned = box(page, "#requested-warning")
        assert warned["y"] + warned["height"] <= height, "the warning is below the fold"
