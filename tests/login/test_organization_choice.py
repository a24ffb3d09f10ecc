"""The organization chosen on the consent page is final: the CLI mints for the
organization the token is bound to (contract §2 `bound_org_id`), `--org` is a hint the
consent page preselects (§1), and a sign-in bound to another organization than `--org`
creates nothing."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

from .helpers import clean_env, organization_of, run_atmn


def test_without_a_terminal_the_consent_page_choice_is_used(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """Several organizations, no `--org`, no terminal: the browser's second organization."""
    env = clean_env(
        tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server, org="globex")
    )

    result = run_atmn(["login"], cwd=tmp_path, env=env)  # stdin is /dev/null

    assert result.returncode == 0, result.stderr
    assert "Signed in to Globex (globex)" in result.stdout
    sandbox = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(autumn_server.url, sandbox).json()["slug"] == "globex"


def test_org_is_preselected_on_the_consent_page(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """The browser approves whatever the page preselected: `--org globex` made it Globex."""
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = run_atmn(["login", "--org", "globex"], cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    sandbox = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(autumn_server.url, sandbox).json()["slug"] == "globex"


def test_org_that_the_browser_did_not_approve_creates_nothing(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_bytes(b"KEEP=1\n")
    env = clean_env(
        tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server, org="globex")
    )
    minted_before = autumn_server.stats()["key_pairs_minted"]

    result = run_atmn(["login", "--org", "acme"], cwd=tmp_path, env=env)

    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("atmn: error:")]
    assert len(error) == 1, result.stderr
    assert "Globex (globex)" in error[0] and "Acme (acme)" in error[0]
    assert "nothing was created" in error[0]
    assert (tmp_path / ".env").read_bytes() == b"KEEP=1\n"
    assert autumn_server.stats()["key_pairs_minted"] == minted_before
