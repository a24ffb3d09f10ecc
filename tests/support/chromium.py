"""Debian's Chromium for Playwright (`executable_path`): Playwright never downloads one."""

from __future__ import annotations

import shutil

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
