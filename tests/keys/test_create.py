"""`atmn keys create` against the real stand-in: one named key on standard output (and
nothing else), its pair's other key revoked, no file written."""

from __future__ import annotations

from pathlib import Path

import httpx2

from support.autumn_server import AutumnServer

from .keys_helpers import (
    OTHER_LINES,
    WHOLE_KEY,
    logged_in,
    me_status,
    new_project,
    no_whole_key,
    one_error_line,
    server_keys,
)
from .test_keys_terminal import screen, spawn


def named(server: AutumnServer, name: str) -> dict[str, bool]:
    """env -> revoked, for the keys the stand-in holds under `name`."""
    return {k["env"]: k["revoked"] for k in server_keys(server) if k["name"] == name}


def test_piped_it_prints_exactly_one_key_line(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server)
    result = project.atmn("keys", "create", "--name", "CI deploy")

    assert result.returncode == 0, result.stderr
    assert WHOLE_KEY.fullmatch(result.stdout.rstrip("\n"))
    assert result.stdout.count("\n") == 1 and result.stdout.endswith("\n")
    key = result.stdout.strip()
    assert key.startswith("am_sk_test_")
    assert me_status(server.url, key) == 200
    assert named(server, "CI deploy") == {"sandbox": False, "live": True}
    assert f'✓ Created "CI deploy (sandbox)" (am_sk_test_…{key[-4:]}) for Acme (acme).' in (
        result.stderr
    )
    assert "The other key minted with it (am_sk_live_…" in result.stderr
    assert no_whole_key(result.stderr)
    assert project.env_file.read_bytes() == OTHER_LINES  # no file written
    assert sorted(p.name for p in project.dir.iterdir()) == [".env"]


def test_env_live_or_p_keeps_the_live_key(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server)
    for args, name in (
        (["keys", "create", "--env", "live"], "Live A"),
        (["-p", "keys", "create"], "Live B"),
    ):
        result = project.atmn(*args, "--name", name)
        assert result.returncode == 0, result.stderr
        key = result.stdout.strip()
        assert key.startswith("am_sk_live_") and result.stdout.count("\n") == 1
        assert me_status(server.url, key) == 200
        assert named(server, name) == {"sandbox": True, "live": False}


def test_p_with_env_sandbox_is_a_usage_error(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server)
    before = server.stats()["key_pairs_minted"]
    result = project.atmn("-p", "keys", "create", "--name", "x", "--env", "sandbox")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "atmn: error: -p asks for the live key, --env sandbox for the other"
    )
    assert server.stats()["key_pairs_minted"] == before


def test_on_a_terminal_it_needs_reveal(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server)
    before = server.stats()["key_pairs_minted"]
    child = spawn(project, "keys", "create", "--name", "Shown")
    seen = screen(child)
    assert child.exitstatus == 2
    assert "atmn: error: keys create prints the whole key and standard output is a terminal" in (
        " ".join(seen.split())
    )
    assert server.stats()["key_pairs_minted"] == before  # refused before signing in

    child = spawn(project, "keys", "create", "--name", "Shown", "--reveal")
    seen = screen(child)
    assert child.exitstatus == 0
    (key,) = WHOLE_KEY.findall(seen)
    assert me_status(server.url, key) == 200


def test_a_bad_name_is_refused_before_signing_in(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server)
    before = server.stats()["key_pairs_minted"]
    for name, message in (
        ("   ", "--name must not be empty"),
        ("two\nlines", "--name must be one line without control characters or extra spaces"),
        ("x" * 101, "--name is 101 characters long; at most 100"),
    ):
        result = project.atmn("keys", "create", "--name", name)
        assert result.returncode == 2
        assert one_error_line(result) == message
    assert server.stats()["key_pairs_minted"] == before


def test_a_server_without_section_7_says_so_in_one_line(
    without_keys: AutumnServer, tmp_path: Path
) -> None:
    """Told from the server's metadata (§X) before anyone signs in, with or without a key
    in force: nothing is minted."""
    for project in (
        logged_in(tmp_path / "with-key", without_keys),
        new_project(tmp_path / "no-key", without_keys),
    ):
        before = without_keys.stats()["key_pairs_minted"]
        result = project.atmn("keys", "create", "--name", "CI")
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"atmn: error: {without_keys.url} does not offer listing, naming or revoking keys "
            "from the command line (`atmn keys`); manage them in the Autumn dashboard: "
            "https://app.useautumn.com/sandbox/dev?tab=api_keys"
        ]
        assert without_keys.stats()["key_pairs_minted"] == before


def test_org_chooses_the_organization(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server, org="globex")
    result = project.atmn("keys", "create", "--name", "Globex CI", "--org", "globex")
    assert result.returncode == 0, result.stderr
    assert "for Globex (globex)." in result.stderr
    key = result.stdout.strip()
    me = httpx2.get(
        server.url + "/v1/organization/me", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert me["slug"] == "globex"
