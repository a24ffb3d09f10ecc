"""`atmn keys rotate` against the real stand-in: new keys in the `.env`, checked, and only
then the old ones revoked; every failure before that leaves the old keys in place and
working. A recording proxy in front of the stand-in makes the mint fail, or has the
server revoke a new key before the CLI checks it."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from security.hostile_backend import HostileBackend, Recorded, json_reply
from support.autumn_server import AutumnServer

from .keys_helpers import (
    KEYS,
    OTHER_LINES,
    Project,
    assert_rotation_undone,
    logged_in,
    me_status,
    minted_through,
    no_whole_key,
    one_error_line,
    server_keys,
)


def test_new_keys_replace_the_old_which_are_then_revoked(
    server: AutumnServer, project: Project
) -> None:
    old = project.keys()
    result = project.atmn("keys", "rotate")

    assert result.returncode == 0, result.stderr
    new = project.keys()
    text = project.env_file.read_bytes()
    assert text.startswith(OTHER_LINES)  # everything else byte for byte
    assert (
        text
        == OTHER_LINES
        + (
            f"AUTUMN_SECRET_KEY={new['AUTUMN_SECRET_KEY']}\n"
            f"AUTUMN_PROD_SECRET_KEY={new['AUTUMN_PROD_SECRET_KEY']}\n"
        ).encode()
    )
    for var in KEYS:
        assert new[var] != old[var]
        assert me_status(server.url, new[var] or "") == 200
        assert me_status(server.url, old[var] or "") == 401
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ Rotated the keys in {project.env_file} for Acme (acme)."
    assert (
        lines[1]
        == f"  AUTUMN_SECRET_KEY        am_sk_test_…{new['AUTUMN_SECRET_KEY'][-4:]}  (sandbox)"
    )  # type: ignore[index]
    assert (
        lines[3:]
        == [
            f"Revoked the old key am_sk_test_…{old['AUTUMN_SECRET_KEY'][-4:]}.",  # type: ignore[index]
            f"Revoked the old key am_sk_live_…{old['AUTUMN_PROD_SECRET_KEY'][-4:]}.",  # type: ignore[index]
        ]
    )
    assert no_whole_key(result.stdout, result.stderr)
    names = {
        k["name"] for k in server_keys(server) if k["key"].endswith(new["AUTUMN_SECRET_KEY"][-4:])
    }  # type: ignore[index]
    assert len(names) == 1 and names.pop().startswith("atmn: project on ")  # named as login does


def test_a_failed_mint_leaves_the_old_keys_working_and_the_file_byte_identical(
    server: AutumnServer, project: Project, proxy: HostileBackend
) -> None:
    before = project.env_file.read_bytes()
    old = project.keys()
    proxy.on("POST", "/cli/api-keys", json_reply(500, {"message": "database down"}))

    result = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)

    assert result.returncode == 1
    assert one_error_line(result) == (
        f"minting API keys failed: database down; nothing was changed: the keys in "
        f"{project.env_file} still work"
    )
    assert project.env_file.read_bytes() == before
    for var in KEYS:
        assert me_status(server.url, old[var] or "") == 200


@pytest.mark.parametrize("held", ["both keys", "the sandbox key only"])
def test_a_new_key_the_server_rejects_revokes_nothing_old(
    server: AutumnServer, project: Project, proxy: HostileBackend, held: str
) -> None:
    if held != "both keys":  # the live line goes: the rotation adds one, the undo removes it
        lines = project.env_file.read_bytes().splitlines(keepends=True)
        project.env_file.write_bytes(b"".join(lines[:-1]))
    before = project.env_file.read_bytes()
    old = project.keys()

    def mint_then_revoke(handler: object, request: Recorded) -> None:
        """Mints on the stand-in, then has it revoke the new sandbox key before the CLI
        can check it."""
        response = httpx2.post(
            server.url + "/cli/api-keys",
            headers={
                "Authorization": request.headers["authorization"],
                "Content-Type": "application/json",
            },
            content=request.body,
            timeout=10,
        )
        body = response.json()
        request.answer = response.content
        if response.status_code == 200:
            gone = httpx2.delete(
                server.url + "/cli/api-keys/current",
                headers={"Authorization": f"Bearer {body['sandbox_key']}"},
                timeout=10,
            )
            assert gone.status_code == 204
        json_reply(response.status_code, body)(handler, request)  # type: ignore[arg-type]

    proxy.on("POST", "/cli/api-keys", mint_then_revoke)
    result = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)

    assert result.returncode == 1
    sandbox, live = minted_through(proxy)
    assert one_error_line(result) == (
        f"the new keys did not pass the check (it rejected the new sandbox key "
        f"am_sk_test_…{sandbox[-4:]} (Invalid secret key)): the old keys are back in "
        f"{project.env_file} and still work; the new keys were revoked"
    )
    assert_rotation_undone(
        server.url, project, before, [old[var] for var in KEYS if old.get(var)], [sandbox, live]
    )
    assert no_whole_key(result.stdout, result.stderr)


def test_keys_approved_for_another_organization_change_nothing(
    server: AutumnServer, project: Project
) -> None:
    before = project.env_file.read_bytes()
    old = project.keys()
    result = project.atmn("keys", "rotate", SCRIPTED_BROWSER_ORG="globex")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"you approved Globex (globex) in the browser, but the keys in {project.env_file} are "
        "for Acme (acme); the new keys were revoked and nothing was changed. Run it again and "
        "choose Acme (acme) on the consent page"
    )
    assert project.env_file.read_bytes() == before
    for var in KEYS:
        assert me_status(server.url, old[var] or "") == 200
    globex = [k for k in server_keys(server) if k["org_slug"] == "globex"]
    assert globex and all(k["revoked"] for k in globex if k["name"].startswith("atmn: "))


def test_a_key_only_in_the_shell_has_no_file_to_rotate(
    server: AutumnServer, project: Project
) -> None:
    shell_key = server.create_key("acme", name="Shell")["key"]
    before = project.env_file.read_bytes()
    result = project.atmn("keys", "rotate", AUTUMN_SECRET_KEY=shell_key)
    assert result.returncode == 1
    assert one_error_line(result).startswith(
        "AUTUMN_SECRET_KEY comes from the process environment, not from a .env"
    )
    assert project.env_file.read_bytes() == before
    assert me_status(server.url, shell_key) == 200


def test_a_rejected_key_has_nothing_to_rotate(server: AutumnServer, project: Project) -> None:
    old = project.keys()["AUTUMN_SECRET_KEY"] or ""
    httpx2.delete(server.url + "/cli/api-keys/current", headers={"Authorization": f"Bearer {old}"})
    before_minted = server.stats()["key_pairs_minted"]
    result = project.atmn("keys", "rotate")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"the server rejected AUTUMN_SECRET_KEY (am_sk_test_…{old[-4:]}, from "
        f"{project.env_file}): there is no working key to rotate; `atmn login` writes new keys"
    )
    assert server.stats()["key_pairs_minted"] == before_minted


def test_a_server_without_section_7_says_so_in_one_line(
    without_keys: AutumnServer, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, without_keys)
    before = project.env_file.read_bytes()
    minted = without_keys.stats()["key_pairs_minted"]
    result = project.atmn("keys", "rotate")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"atmn: error: {without_keys.url} does not offer listing, naming or revoking keys "
        "from the command line (`atmn keys`); manage them in the Autumn dashboard: "
        "https://app.useautumn.com/sandbox/dev?tab=api_keys"
    ]
    assert project.env_file.read_bytes() == before
    assert without_keys.stats()["key_pairs_minted"] == minted


def test_a_shell_that_loaded_the_env_file_is_told_to_unset(
    server: AutumnServer, project: Project
) -> None:
    """`set -a; . ./.env` put the old key in the shell too: the file is rotated, and the
    shell's copy, which wins, is pointed out; the old key is kept, since what that shell
    runs still uses it."""
    old = project.keys()["AUTUMN_SECRET_KEY"] or ""
    result = project.atmn("keys", "rotate", AUTUMN_SECRET_KEY=old)
    assert result.returncode == 0, result.stderr
    assert project.keys()["AUTUMN_SECRET_KEY"] != old
    assert me_status(server.url, old) == 200
    assert (
        f"! Warning: AUTUMN_SECRET_KEY is also set in the process environment, which wins over "
        f"{project.env_file}: run `unset AUTUMN_SECRET_KEY` to use the new key."
    ) in result.stderr.splitlines()
    kept = [line for line in result.stderr.splitlines() if f"am_sk_test_…{old[-4:]}" in line]
    assert len(kept) == 1 and "AUTUMN_SECRET_KEY in the process environment" in kept[0]


def test_a_env_file_others_can_read_is_refused_before_signing_in(
    server: AutumnServer, project: Project
) -> None:
    """Login's policy: keys go only into a private `.env`."""
    project.env_file.chmod(0o644)
    before = project.env_file.read_bytes()
    old = project.keys()
    minted = server.stats()["key_pairs_minted"]
    result = project.atmn("keys", "rotate")
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"{project.env_file} is mode 0644: anyone can read it; refusing")
    assert line.endswith(f"Make it private first: chmod 600 {project.env_file}")
    assert project.env_file.read_bytes() == before
    assert server.stats()["key_pairs_minted"] == minted
    for var in KEYS:
        assert me_status(server.url, old[var] or "") == 200
