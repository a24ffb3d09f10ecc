"""`atmn logout` on both profiles: the keys leave the `.env`; the full profile revokes them,
and hosted Autumn, which cannot, gets no DELETE and the person is told the keys still work
and where to delete them."""

from __future__ import annotations

from pathlib import Path

from support.autumn_server import AutumnServer

from .helpers import OTHER_LINES, RecordingProxy, logged_in, redact, slugs, still_work_block


def test_logout_removes_the_keys_and_says_truly_whether_they_were_revoked(
    any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, any_server)
    sandbox, live = project.keys().values()

    result = project.atmn("logout", ATMN_BACKEND_URL=proxy.url)

    assert result.returncode == 0, result.stderr
    assert project.env_file.read_bytes() == OTHER_LINES
    removed = [
        f"Removed AUTUMN_SECRET_KEY ({redact(sandbox)}) from {project.env_file}.",
        f"Removed AUTUMN_PROD_SECRET_KEY ({redact(live)}) from {project.env_file}.",
    ]
    deletes = proxy.seen("DELETE", "/cli/api-keys/current")
    if any_server.hosted:
        assert result.stdout.splitlines() == removed
        assert result.stderr.splitlines() == still_work_block(
            proxy.url, [sandbox, live], "these keys"
        )
        assert [r.path for r in proxy.requests if r.method == "DELETE"] == []
        assert proxy.cli_routes_but_mint() == []
        still = slugs(any_server.url, [sandbox, live])
        assert still == ["acme", "acme"]
    else:
        assert result.stdout.splitlines() == [
            *removed,
            f"Revoked {redact(sandbox)} on the server.",
            f"Revoked {redact(live)} on the server.",
        ]
        assert result.stderr == ""
        assert [proxy.status(r) for r in deletes] == [204, 204]
        still = slugs(any_server.url, [sandbox, live])
        assert still == [None, None]
    assert proxy.failed(proxy.requests) == [], proxy.summary()
