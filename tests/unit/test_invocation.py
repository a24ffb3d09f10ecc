"""`Invocation`: one per command; offline means no session at all, never a silent request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from atmn_auth.commands.invocation import Invocation
from atmn_auth.settings import load_settings
from atmn_auth.term.console import Console


def invocation(tmp_path: Path, *, offline: bool) -> Invocation:
    settings = load_settings(prod=False, local=True, environ={})
    return Invocation(
        settings, cwd=tmp_path, environ={}, console=Console(out=[].append), offline=offline
    )


def test_an_offline_command_cannot_get_a_session(tmp_path: Path) -> None:
    inv = invocation(tmp_path, offline=True)
    with pytest.raises(RuntimeError, match="offline"):
        _ = inv.session
    assert inv.session_or_none() is None


def test_the_session_is_opened_once_and_closed_with_the_invocation(tmp_path: Path) -> None:
    with invocation(tmp_path, offline=False) as inv:
        first = inv.session
        assert inv.session is first is inv.session_or_none()
        assert first.client is not None  # the HTTP client, opened
    assert first._client is None  # closed with the invocation
    with inv:
        assert inv.session is not first  # a closed session is never handed out again


def test_an_offline_env_imports_no_http_stack(tmp_path: Path) -> None:
    probe = (
        "import sys; from pathlib import Path\n"
        "from atmn_auth.commands.invocation import Invocation\n"
        "from atmn_auth.commands.env import run_env\n"
        "from atmn_auth.settings import load_settings\n"
        "from atmn_auth.term.console import Console\n"
        "lines = []\n"
        "inv = Invocation(load_settings(prod=False, local=True, environ={}), cwd=Path.cwd(),\n"
        "                 environ={}, console=Console(out=lines.append), offline=True)\n"
        "code = run_env(inv)\n"
        "assert code == 1 and any('not set' in line for line in lines), lines\n"
        "print(sorted(m for m in ('httpx2', 'httpcore', 'authlib', 'questionary', 'click')\n"
        "             if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
