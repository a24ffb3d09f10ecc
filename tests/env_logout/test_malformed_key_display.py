"""A malformed key in `.env` is shown redacted with no control character: a pasted
escape sequence must not reach the terminal, whichever command shows the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atmn_auth.keyformat import redact

ATMN = Path(sys.executable).with_name("atmn")

HOSTILE = [
    "\x1b]0;owned\x07abcdefghijklmnopqrstuv\x1b[2J",  # retitle, clear screen
    "am_sk_test_" + "a" * 12 + "\x1b[31m\r\n",  # an Autumn prefix, a hostile tail
    "\u202eabcdefghijklmnopqrstuvwxyz\u202d",  # bidi overrides
]


@pytest.mark.parametrize("value", HOSTILE)
def test_redaction_shows_no_control_character(value: str) -> None:
    shown = redact(value)
    assert all("!" <= ch <= "~" or ch == "…" for ch in shown), repr(shown)
    assert "?" in shown  # the odd characters are marked, not dropped


@pytest.mark.parametrize("value", HOSTILE)
def test_atmn_env_shows_a_malformed_key_without_its_control_characters(
    tmp_path: Path, value: str
) -> None:
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    (tmp_path / ".env").write_text(f'AUTUMN_SECRET_KEY="{quoted}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTUMN_", "ATMN_"))}
    result = subprocess.run(
        [str(ATMN), "env", "--offline"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    shown = result.stdout + result.stderr
    assert "AUTUMN_SECRET_KEY" in shown
    assert not any(ch in shown for ch in "\x1b\x07\r\u202e\u202d"), repr(shown)
