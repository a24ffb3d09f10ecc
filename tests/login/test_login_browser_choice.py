"""When `atmn login` opens a browser, and when it only prints the URL and says what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.autumn_server import AutumnServer

from .helpers import clean_env, run_atmn


def _desktop(tmp_path: Path, server: AutumnServer, **extra: str) -> tuple[dict[str, str], Path]:
    """A desktop session whose browser launchers only record what they were asked to open.

    They shadow the real ones on PATH (Python's `webbrowser` tries `chromium`, then
    `xdg-open`…) and keep running a moment, as a browser that started would.
    """
    bin_dir, opened = tmp_path / "bin", tmp_path / "opened.txt"
    bin_dir.mkdir()
    for name in ("chromium", "xdg-open", "x-www-browser"):
        launcher = bin_dir / name
        launcher.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {opened}\nsleep 1\n')
        launcher.chmod(0o755)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=server.url, DISPLAY=":0", **extra)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env, opened


def test_on_a_desktop_the_browser_is_opened_and_the_url_printed(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env, opened = _desktop(tmp_path, autumn_server)

    result = run_atmn(["login", "--timeout", "1"], cwd=tmp_path, env=env)

    assert result.returncode == 1  # nobody approved: it timed out
    assert "Opened your browser" in result.stderr
    asked = opened.read_text()
    printed = next(line.strip() for line in result.stderr.splitlines() if "/authorize?" in line)
    assert printed.startswith(f"{autumn_server.url}/api/auth/oauth2/authorize?")
    # the browser got a single-use loopback link, never the URL with state and challenge
    assert "/start/" in asked
    assert "state=" not in asked and "code_challenge" not in asked


@pytest.mark.parametrize(
    ("extra", "args", "reason"),
    [
        ({"SSH_CONNECTION": "192.0.2.1 50000 192.0.2.2 22"}, [], "this is an SSH session"),
        ({}, ["--no-browser"], "--no-browser/--headless was given"),
        ({}, ["--headless"], "--no-browser/--headless was given"),
    ],
)
def test_no_browser_is_tried_and_the_url_and_next_steps_are_printed(
    start_autumn_server,
    tmp_path: Path,
    extra: dict[str, str],
    args: list[str],
    reason: str,
) -> None:
    """Against a server without the device flow (hosted Autumn today)."""
    autumn_server = start_autumn_server(disable=["device"])
    env, opened = _desktop(tmp_path, autumn_server, **extra)
    command = ["--headless", "login"] if args == ["--headless"] else ["login", *args]

    result = run_atmn([*command, "--timeout", "1"], cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert not opened.exists()
    assert f"Not opening a browser ({reason})" in result.stderr
    assert f"{autumn_server.url}/api/auth/oauth2/authorize?" in result.stderr
    assert "ssh -L 31448:localhost:31448" in result.stderr
    assert "no answer from the browser within 1 second" in result.stderr


def test_without_a_display_no_browser_is_tried(start_autumn_server, tmp_path: Path) -> None:
    autumn_server = start_autumn_server(disable=["device"])
    env, opened = _desktop(tmp_path, autumn_server)
    del env["DISPLAY"]

    result = run_atmn(["login", "--timeout", "1"], cwd=tmp_path, env=env)

    assert not opened.exists()
    assert "Not opening a browser (there is no display)" in result.stderr


@pytest.mark.parametrize(
    ("extra", "args", "reason"),
    [
        ({"SSH_CONNECTION": "192.0.2.1 50000 192.0.2.2 22"}, [], "this is an SSH session"),
        ({}, ["--no-browser"], "--no-browser/--headless was given"),
    ],
)
def test_where_no_browser_can_come_back_a_code_is_used_when_the_server_offers_it(
    start_autumn_server,
    tmp_path: Path,
    extra: dict[str, str],
    args: list[str],
    reason: str,
) -> None:
    autumn_server = start_autumn_server(device_ttl=2, device_interval=1)  # nobody approves
    env, opened = _desktop(tmp_path, autumn_server, **extra)

    result = run_atmn(["login", *args], cwd=tmp_path, env=env, timeout=30)

    assert result.returncode == 1  # the code expired
    assert not opened.exists()
    assert f"Signing in with a code instead of a browser here ({reason})." in result.stderr
    assert "Your code:" in result.stderr
    assert f"Open {autumn_server.issuer}/device on any device" in result.stderr
    assert "/authorize?" not in result.stderr


def test_no_device_keeps_the_browser_address(autumn_server: AutumnServer, tmp_path: Path) -> None:
    env, _ = _desktop(tmp_path, autumn_server, SSH_CONNECTION="192.0.2.1 50000 192.0.2.2 22")

    result = run_atmn(["login", "--no-device", "--timeout", "1"], cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "Not opening a browser (this is an SSH session)" in result.stderr
    assert "Your code:" not in result.stderr
