"""`atmn login` with a real person's browser: headless Chromium driven by Playwright."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from playwright.sync_api import sync_playwright

from support import chromium
from support.autumn_server import AutumnServer

from .helpers import ATMN, clean_env, organization_of

URL = re.compile(r"http://127\.0\.0\.1:\d+/api/auth/oauth2/authorize\?\S+")


@pytest.mark.browser
def test_sign_in_and_consent_in_headless_chromium(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url)
    cli = subprocess.Popen(
        [ATMN, "login", "--no-browser", "--no-device", "--org", "globex", "--timeout", "60"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert cli.stderr is not None
        url = None
        for line in cli.stderr:
            match = URL.search(line)
            if match:
                url = match.group(0)
                break
        assert url, "atmn login printed no sign-in URL"

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium.executable(), args=chromium.ARGS)
            page = browser.new_page()
            page.goto(url)
            page.fill("input[name=email]", autumn_server.email)
            page.fill("input[name=password]", autumn_server.password)
            page.click("#sign-in")
            page.wait_for_selector("select[name=org_id]")
            assert "Autumn" in page.content()
            globex = page.locator("select[name=org_id] option[data-slug=globex]")
            page.select_option("select[name=org_id]", globex.get_attribute("value"))
            page.click("#approve")
            page.wait_for_url(re.compile(r"http://localhost:3144\d/"))
            landing = page.inner_text("body")
            browser.close()

        out, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()

    assert cli.returncode == 0, err
    assert "terminal" in landing
    assert "Signed in to Globex (globex)" in out
    sandbox = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(autumn_server.url, sandbox).json()["slug"] == "globex"
