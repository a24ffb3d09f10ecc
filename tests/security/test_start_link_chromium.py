"""The start link in a real browser: headless Chromium, driven by Playwright, is given the
address `atmn login` asked the browser command to open, and a person signs in."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Request, sync_playwright

from support import chromium
from support.autumn_server import AutumnServer

from .cli import ATMN, cli_env
from .test_callback_during_login import assert_keys_work

START_LINK = re.compile(r"http://localhost:\d+/start/[A-Za-z0-9_-]{43}")


@pytest.mark.browser
def test_chromium_follows_the_start_link_once_and_signs_in(
    stand_in: AutumnServer, tmp_path: Path
) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    asked, browser_command = tmp_path / "asked.txt", tmp_path / "browser"
    browser_command.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" > {asked}\n')
    browser_command.chmod(0o755)
    env = cli_env(home, stand_in.url, browser=False, BROWSER=f"{browser_command} %s")
    cli = subprocess.Popen(
        [ATMN, "login", "--org", "acme", "--no-device", "--timeout", "60"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not asked.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        start = asked.read_text().strip()
        assert START_LINK.fullmatch(start), start

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium.executable(), args=chromium.ARGS)
            page = browser.new_page()
            authorize: list[Request] = []
            page.on("request", lambda r: authorize.append(r) if "/authorize?" in r.url else None)
            page.goto(start)
            assert page.url.startswith(f"{stand_in.url}/")  # on the sign-in page
            assert authorize and "referer" not in authorize[0].headers  # no-referrer
            again = browser.new_page()  # the link again, in another tab: it is used up
            answer = again.goto(start)
            assert answer is not None and answer.status == 410
            used = again.inner_text("body")
            page.fill("input[name=email]", stand_in.email)
            page.fill("input[name=password]", stand_in.password)
            page.click("#sign-in")
            page.wait_for_selector("select[name=org_id]")
            page.click("#approve")
            page.wait_for_url(re.compile(r"http://localhost:\d+/\?"))
            landing = page.inner_text("body")

            browser.close()

        out, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()

    assert cli.returncode == 0, err
    assert "Signed in to Acme" in landing
    assert "already used" in used
    assert "Signed in to Acme (acme)" in out
    assert_keys_work(stand_in, project / ".env")
