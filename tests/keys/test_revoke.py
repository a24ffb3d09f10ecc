"""`atmn keys revoke` against the real stand-in: by id, name or last 4; an ambiguous
selector changes nothing; a key this project uses needs a yes (or `--yes`)."""

from __future__ import annotations

from pathlib import Path

from support.autumn_server import AutumnServer

from .keys_helpers import Project, logged_in, me_status, no_whole_key, one_error_line


def test_by_name_id_or_last_four(server: AutumnServer, project: Project) -> None:
    by_name = server.create_key("acme", name="Old laptop")
    by_id = server.create_key("acme", name="Staging")
    by_last4 = server.create_key("acme", name="Preview")

    for selector, key in (
        ("Old laptop", by_name),
        (by_id["id"], by_id),
        (by_last4["key"][-4:], by_last4),
    ):
        assert me_status(server.url, key["key"]) == 200
        result = project.atmn("keys", "revoke", selector)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("✓ Revoked ")
        assert f"am_sk_test_…{key['key'][-4:]}, {key['id']})." in result.stdout
        assert me_status(server.url, key["key"]) == 401
        assert no_whole_key(result.stdout, result.stderr)

    for var in ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY"):  # the project's keys still work
        assert me_status(server.url, project.keys()[var] or "") == 200


def test_an_ambiguous_selector_lists_the_candidates_and_revokes_nothing(
    server: AutumnServer, project: Project
) -> None:
    first = server.create_key("acme", name="Shared name")
    second = server.create_key("acme", name="Shared name")
    before = project.env_file.read_bytes()

    result = project.atmn("keys", "revoke", "shared name")

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    for created in (first, second):
        assert any(
            line.startswith(f"! {created['id']}  Shared name (sandbox)  …{created['key'][-4:]}")
            for line in lines[:2]
        ), result.stderr
    assert lines[2].startswith(
        "atmn: error: 'shared name' matches 2 keys (listed above); nothing was revoked: name one "
        "by its id, e.g. `atmn keys revoke key_"
    )
    assert me_status(server.url, first["key"]) == me_status(server.url, second["key"]) == 200
    assert project.env_file.read_bytes() == before


def test_no_match_is_one_line(server: AutumnServer, project: Project) -> None:
    result = project.atmn("keys", "revoke", "no such key")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "atmn: error: no sandbox key matches 'no such key'; nothing was revoked. "
        "`atmn keys list` shows them (live keys: atmn -p keys list)"
    ]


def test_the_key_in_force_is_refused_without_yes_off_a_terminal(
    server: AutumnServer, project: Project
) -> None:
    mine = project.keys()["AUTUMN_SECRET_KEY"] or ""
    result = project.atmn("keys", "revoke", mine[-4:])
    assert result.returncode == 2
    assert result.stdout == ""
    warning, error = result.stderr.splitlines()
    assert warning.startswith("! Warning: ")
    assert f"is AUTUMN_SECRET_KEY in {project.env_file}: revoking it breaks this project" in (
        warning
    )
    assert error == (
        f"atmn: error: refusing to revoke am_sk_test_…{mine[-4:]}, which this project uses, "
        "without --yes; nothing was revoked"
    )
    assert me_status(server.url, mine) == 200

    forced = project.atmn("keys", "revoke", mine[-4:], "--yes")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith('✓ Revoked "atmn: project on ')
    assert forced.stderr.splitlines() == [
        f"! Warning: AUTUMN_SECRET_KEY in {project.env_file} no longer works: `atmn login` "
        "writes new keys."
    ]
    assert me_status(server.url, mine) == 401


def test_the_live_key_of_the_env_file_counts_too(server: AutumnServer, project: Project) -> None:
    live = project.keys()["AUTUMN_PROD_SECRET_KEY"] or ""
    result = project.atmn("-p", "keys", "revoke", live[-4:])
    assert result.returncode == 2
    assert "refusing to revoke am_sk_live_…" in result.stderr
    assert me_status(server.url, live) == 200


def test_a_whole_key_is_refused_and_not_repeated(server: AutumnServer, project: Project) -> None:
    other = server.create_key("acme", name="Pasted")
    result = project.atmn("keys", "revoke", other["key"])
    assert result.returncode == 2
    assert other["key"] not in result.stderr and other["key"][:-4] not in result.stderr
    assert one_error_line(result).startswith("that is a whole key (not repeated)")
    assert me_status(server.url, other["key"]) == 200


def test_a_server_without_section_7_says_so_in_one_line(
    without_keys: AutumnServer, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, without_keys)
    key = project.keys()["AUTUMN_SECRET_KEY"] or ""
    result = project.atmn("keys", "revoke", key[-4:], "--yes")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"atmn: error: {without_keys.url} does not offer listing, naming or revoking keys "
        "from the command line (`atmn keys`); manage them in the Autumn dashboard: "
        "https://app.useautumn.com/sandbox/dev?tab=api_keys"
    ]
    assert me_status(without_keys.url, key) == 200


def test_a_prefix_of_the_other_environment_matches_none_of_these_keys(
    server: AutumnServer, project: Project
) -> None:
    """Under -p the listed keys are live ones: `am_sk_test_…Ab12` names a sandbox key, so it
    never revokes the live key that happens to end in Ab12."""
    live = server.create_key("acme", env="live", name="Live one")
    sandbox = server.create_key("acme", name="Sandbox one")
    wrong = f"am_sk_test_…{live['key'][-4:]}"

    result = project.atmn("-p", "keys", "revoke", wrong, "--yes")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"atmn: error: {wrong} is a sandbox key and -p revokes live keys; nothing was "
        f"revoked: `atmn keys revoke {wrong}` revokes it"
    ]
    assert me_status(server.url, live["key"]) == 200

    other = f"am_sk_live_…{sandbox['key'][-4:]}"
    result = project.atmn("keys", "revoke", other, "--yes")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"{other} is a live key and `atmn keys revoke` revokes sandbox keys; nothing was "
        f"revoked: `atmn -p keys revoke {other}` revokes it"
    )
    assert me_status(server.url, sandbox["key"]) == 200

    right = f"am_sk_live_…{live['key'][-4:]}"
    result = project.atmn("-p", "keys", "revoke", right, "--yes")
    assert result.returncode == 0, result.stderr
    assert me_status(server.url, live["key"]) == 401


def test_a_key_in_env_local_counts_as_one_this_project_uses(
    server: AutumnServer, project: Project
) -> None:
    """Next.js and Vite load `.env.local` over `.env`: a key there is in use, so revoking it
    needs a yes, as for one in `.env`."""
    local_key = server.create_key("acme", name="Local override")
    local = project.dir / ".env.local"
    local.write_text(f"AUTUMN_SECRET_KEY={local_key['key']}\n")

    result = project.atmn("keys", "revoke", "Local override")

    assert result.returncode == 2
    warning, error = result.stderr.splitlines()
    assert warning == (
        f'! Warning: "Local override (sandbox)" (am_sk_test_…{local_key["key"][-4:]}) is '
        f"AUTUMN_SECRET_KEY in {local}: revoking it breaks this project until `atmn login` "
        "writes new keys."
    )
    assert error.startswith("atmn: error: refusing to revoke am_sk_test_…")
    assert me_status(server.url, local_key["key"]) == 200

    forced = project.atmn("keys", "revoke", "Local override", "--yes")
    assert forced.returncode == 0, forced.stderr
    assert forced.stderr.splitlines() == [
        f"! Warning: AUTUMN_SECRET_KEY in {local} no longer works: `atmn login` writes new keys."
    ]
    assert me_status(server.url, local_key["key"]) == 401
