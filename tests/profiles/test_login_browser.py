"""`atmn login` in the browser (the scripted browser as BROWSER), on both profiles, through
a recording proxy: what the person sees, what is written, and what was asked of the
server once the browser came back."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import unquote

from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_VAR,
    OTHER_LINES,
    PAIRING,
    SANDBOX_VAR,
    WHOLE_KEY,
    RecordingProxy,
    login_stdout,
    new_project,
    ours,
)

STATE = re.compile(r"[?&]state=([^&\s]+)")


def pairing_code(state: str) -> str:
    """Contract §1: the first 8 characters of the unpadded base32 of SHA-256(state)."""
    letters = base64.b32encode(hashlib.sha256(state.encode()).digest()).decode()[:8]
    return f"{letters[:4]}-{letters[4:]}"


def test_login_writes_both_keys_and_says_who_and_what_the_keys_may_do(
    any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    project = new_project(tmp_path, any_server, backend_url=proxy.url)

    result = project.atmn("login")

    assert result.returncode == 0, result.stderr
    keys = project.keys()
    well_formed = [bool(WHOLE_KEY.fullmatch(key or "")) for key in keys.values()]
    assert well_formed == [True, True]
    assert (keys[SANDBOX_VAR] or "").startswith("am_sk_test_")
    assert (keys[LIVE_VAR] or "").startswith("am_sk_live_")
    assert project.env_file.read_bytes().startswith(OTHER_LINES)
    working = project.working()
    assert working == ["acme", "acme"]
    assert result.stdout.splitlines() == login_stdout(any_server, project)

    told = ours(result.stderr)
    assert told[0] == "Opened your browser to sign in to Autumn. If it did not open, visit:"
    assert "Approved in the browser. Finishing sign-in…" in told
    assert [line for line in told if line.startswith("!")] == []
    pairing = [
        line
        for line in result.stdout.splitlines() + told
        if line.lstrip().startswith("Pairing code")
    ]
    if any_server.hosted:  # hosted Autumn's consent page shows no code: neither may atmn
        assert pairing == []
    else:
        match = STATE.search(result.stderr)
        assert match is not None
        code = pairing_code(unquote(match[1]))
        assert pairing == [f"Pairing code: {code} (the consent page shows the same)."]
        assert PAIRING.match(pairing[0])
    assert "approve org=acme > callback" in project.browser_log.read_text()

    after = proxy.after_callback()
    assert proxy.failed(after) == [], proxy.summary()
    assert [r.path for r in after if r.method == "POST" and r.path == "/cli/api-keys"] == [
        "/cli/api-keys"
    ]
    assert [r.path for r in proxy.requests if r.method == "DELETE"] == []
    if any_server.hosted:
        assert proxy.cli_routes_but_mint() == []
        (mint,) = proxy.seen("POST", "/cli/api-keys")
        assert mint.body == b""  # hosted Autumn refuses any field but resource/scopes


def test_login_into_a_directory_without_env_creates_it(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    project = new_project(tmp_path, any_server)
    project.env_file.unlink()

    result = project.atmn("login")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == login_stdout(any_server, project, verb="Created")
    assert project.env_file.stat().st_mode & 0o777 == 0o600
    working = project.working()
    assert working == ["acme", "acme"]
