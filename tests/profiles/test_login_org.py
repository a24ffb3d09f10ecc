"""`atmn login --org`: a server that cannot preselect the organization (hosted Autumn) says
so before the browser opens; an approval for another organization writes nothing, and the
error says truly what became of the keys (hosted: minted and still working, with where to
delete them; full: the organization is checked before anything is minted)."""

from __future__ import annotations

from pathlib import Path

from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_PAGE,
    OTHER_LINES,
    SANDBOX_PAGE,
    RecordingProxy,
    login_stdout,
    new_project,
    ours,
    slugs,
)

NO_PRESELECTION = (
    "This server cannot preselect an organization or check it before keys are made: "
    "choose acme on the consent page."
)
OPENED = "Opened your browser to sign in to Autumn. If it did not open, visit:"


def test_org_is_preselected_or_the_person_is_told_to_choose_it(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    project = new_project(tmp_path, any_server)

    result = project.atmn("login", "--org", "acme")

    assert result.returncode == 0, result.stderr
    told = ours(result.stderr)
    url = next(line.strip() for line in told if "/oauth2/authorize?" in line)
    expected = login_stdout(any_server, project)
    if any_server.hosted:
        assert told.index(NO_PRESELECTION) < told.index(OPENED)
        assert "organization=" not in url  # hosted Autumn ignores it: atmn sends none
        assert result.stdout.splitlines() == expected
    else:
        assert NO_PRESELECTION not in told
        assert "&organization=acme&" in url
        # the organization comes from the list (§2), which names no user
        without_user = login_stdout(any_server, project, who=False)
        assert result.stdout.splitlines() in (expected, without_user)
    working = project.working()
    assert working == ["acme", "acme"]


def test_another_organization_approved_writes_nothing_and_says_what_became_of_the_keys(
    any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    """The demo user belongs to Acme and Globex; --org asks for acme, the browser approves
    globex."""
    project = new_project(tmp_path, any_server, backend_url=proxy.url, org="globex")
    minted_before = any_server.stats()["key_pairs_minted"]

    result = project.atmn("login", "--org", "acme")

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert project.env_file.read_bytes() == OTHER_LINES
    assert "approve org=globex > callback" in project.browser_log.read_text()
    error = ours(result.stderr)[-1]
    assert [r.path for r in proxy.requests if r.method == "DELETE"] == []
    assert proxy.failed(proxy.after_callback()) == [], proxy.summary()
    if any_server.hosted:
        assert error == (
            "atmn: error: you approved Globex (globex) in the browser, but --org asked for "
            "acme; the keys just minted for Globex (globex) were not saved but still work, as "
            "this server cannot revoke keys from the command line: delete them in the Autumn "
            f"dashboard ({SANDBOX_PAGE} and {LIVE_PAGE}). Sign in again and choose acme on "
            "the consent page, or drop --org"
        )
        minted = proxy.minted()
        assert len(minted) == 2
        # what the message says is true: they were made, and still work
        working = slugs(any_server.url, minted)
        assert working == ["globex", "globex"]
        assert any_server.stats()["key_pairs_minted"] == minted_before + 1
        assert proxy.cli_routes_but_mint() == []
    else:
        assert error == (
            "atmn: error: you approved Globex (globex) in the browser, but --org asked for "
            "Acme (acme); nothing was created. Sign in again and choose Acme (acme) on the "
            "consent page, or drop --org"
        )
        # checked against the organization list before minting: no keys exist at all
        assert proxy.seen("POST", "/cli/api-keys") == []
        assert any_server.stats()["key_pairs_minted"] == minted_before
