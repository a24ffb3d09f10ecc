"""Keys deleted in the dashboard (the stand-in's admin command) before `atmn login` or
`atmn logout` replaces or removes them: atmn never says such a key still works or is still
valid. The server says which keys it accepts (`GET /v1/organization/me`, offered by both
profiles), and atmn has its own words for one it rejects: "the server had already revoked
it" (login) and "was already invalid on the server" (logout)."""

from __future__ import annotations

from pathlib import Path

from support.autumn_server import AutumnServer

from .helpers import (
    APPS_PAGE,
    LIVE_PAGE,
    LIVE_VAR,
    SANDBOX_VAR,
    KeyList,
    logged_in,
    login_stdout,
    ours,
    redact,
    revoke_on_server,
    slugs,
)


def _live_key_still_works(backend: str, live: str | None, which: str) -> list[str]:
    """The warning of a server that cannot revoke, for the live key alone."""
    return [
        f"! Warning: {backend} cannot revoke keys from the command line, so {which}:",
        f"!   {redact(live)}: delete it in the Autumn dashboard: {LIVE_PAGE}",
        "!   or, to delete every key atmn minted for the organization at once, revoke atmn "
        f"under Authorized Apps: {APPS_PAGE} (owners and admins).",
    ]


def test_logout_does_not_say_a_deleted_key_still_works(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, any_server)
    sandbox, live = project.keys().values()
    revoke_on_server(any_server, sandbox)

    result = project.atmn("logout")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        f"Removed AUTUMN_SECRET_KEY ({redact(sandbox)}) from {project.env_file}.",
        f"Removed AUTUMN_PROD_SECRET_KEY ({redact(live)}) from {project.env_file}.",
    ]
    already = f"{redact(sandbox)} was already invalid on the server."
    working = slugs(any_server.url, KeyList([live or ""]))
    if any_server.hosted:
        assert lines[2:] == [already]
        assert result.stderr.splitlines() == _live_key_still_works(
            project.backend, live, "this key still works"
        )
        assert working == ["acme"]
    else:
        assert lines[2:] == [already, f"Revoked {redact(live)} on the server."]
        assert result.stderr == ""
        assert working == [None]


def test_login_does_not_say_a_replaced_key_it_saw_rejected_is_still_valid(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    """Login asks the server about the key in force before signing in again: here it is
    rejected (so no --force is needed), and the new keys replace it."""
    project = logged_in(tmp_path, any_server)
    old = project.keys()
    sandbox, live = old[SANDBOX_VAR], old[LIVE_VAR]
    revoke_on_server(any_server, sandbox)

    result = project.atmn("login")

    assert result.returncode == 0, result.stderr
    already = f"Replaced {redact(sandbox)}: the server had already revoked it."
    warnings = [line for line in ours(result.stderr) if line.startswith("!")]
    if any_server.hosted:
        assert result.stdout.splitlines() == login_stdout(any_server, project, replaced=[already])
        assert warnings == _live_key_still_works(
            project.backend, live, "the keys this replaced still work"
        )
    else:  # kept as asked: said as such, with no claim that either still works
        kept = [
            f"Replaced {redact(key)}: kept, not revoked (pass --revoke-replaced to revoke "
            "replaced keys)."
            for key in (sandbox, live)
        ]
        assert result.stdout.splitlines() == login_stdout(any_server, project, replaced=kept)
        assert "still valid" not in result.stdout + result.stderr
        assert warnings == []
    working = slugs(any_server.url, KeyList([sandbox or "", live or ""]))
    assert working == [None, "acme"]
