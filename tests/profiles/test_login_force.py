"""`atmn login --force` over working keys: the new keys are written, and the person is told
truly what became of the ones they replaced. Hosted Autumn cannot revoke keys from the
command line: one warning block with where to delete each, and they still work. The full
profile keeps them unless --revoke-replaced, which revokes them."""

from __future__ import annotations

from pathlib import Path

from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_VAR,
    SANDBOX_VAR,
    KeyMap,
    Project,
    RecordingProxy,
    logged_in,
    login_stdout,
    ours,
    redact,
    slugs,
    still_work_block,
)


def _warnings(stderr: str) -> list[str]:
    return [line for line in ours(stderr) if line.startswith("!")]


def _differ(old: KeyMap, new: KeyMap) -> list[bool]:
    return [old[var] != new[var] for var in (SANDBOX_VAR, LIVE_VAR)]


def _working(server: AutumnServer, keys: KeyMap) -> list[str | None]:
    return slugs(server.url, keys.values())


def _force(project: Project, *flags: str) -> tuple[KeyMap, list[str], list[str]]:
    """`atmn login --force FLAGS`: the keys it replaced, its stdout and its warnings."""
    old = project.keys()
    result = project.atmn("login", "--force", *flags)
    assert result.returncode == 0, result.stderr
    changed = _differ(old, project.keys())
    assert changed == [True, True]
    return old, result.stdout.splitlines(), _warnings(result.stderr)


def test_login_force_again_says_the_replaced_keys_still_work(
    any_server: AutumnServer, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, any_server)

    old, stdout, warnings = _force(project)

    if any_server.hosted:
        assert stdout == login_stdout(any_server, project)
        assert warnings == still_work_block(project.backend, old.values(), "the keys this replaced")
    else:
        assert stdout == login_stdout(
            any_server,
            project,
            replaced=[
                f"Replaced {redact(key)}: kept, not revoked (pass --revoke-replaced to revoke "
                "replaced keys)."
                for key in old.values()
            ],
        )
        assert warnings == []
    still = _working(any_server, old)
    assert still == ["acme", "acme"]
    still = _working(any_server, project.keys())
    assert still == ["acme", "acme"]


def test_login_force_revoke_replaced_revokes_where_the_server_can(
    any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, any_server, backend_url=proxy.url)

    old, stdout, warnings = _force(project, "--revoke-replaced")

    if any_server.hosted:  # asked to revoke, but it cannot: never "revoked"
        assert stdout == login_stdout(any_server, project)
        assert warnings == still_work_block(project.backend, old.values(), "the keys this replaced")
        still = _working(any_server, old)
        assert still == ["acme", "acme"]
        assert [r.path for r in proxy.requests if r.method == "DELETE"] == []
        assert proxy.cli_routes_but_mint() == []
    else:
        assert stdout == login_stdout(
            any_server,
            project,
            replaced=[f"Replaced {redact(key)}: revoked it on the server." for key in old.values()],
        )
        assert warnings == []
        still = _working(any_server, old)
        assert still == [None, None]
        deletes = proxy.seen("DELETE", "/cli/api-keys/current")
        assert [proxy.status(r) for r in deletes] == [204, 204]
    still = _working(any_server, project.keys())
    assert still == ["acme", "acme"]
    # the second login's callback: nothing after it failed
    requests = proxy.requests
    second = max(i for i, r in enumerate(requests) if r.path == "/api/auth/oauth2/token")
    assert proxy.failed(requests[second:]) == [], proxy.summary()
