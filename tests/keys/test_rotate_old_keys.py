"""Which old keys `atmn keys rotate` revokes, against the real stand-in: not one this
project still holds somewhere else (another variable, `.env.local`, a farther `.env`,
the process environment), and never a key of another organization than the new pair's
(refused before anyone signs in)."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from support.autumn_server import AutumnServer

from .keys_helpers import Project, me_status, no_whole_key, one_error_line

SANDBOX, LIVE = "AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY"


def _in_the_env_file(project: Project, old: dict[str, str]) -> tuple[str, dict[str, str]]:
    with project.env_file.open("a") as env:
        env.write(f"BACKUP={old[SANDBOX]}\n")
    return SANDBOX, {}


def _in_env_local(project: Project, old: dict[str, str]) -> tuple[str, dict[str, str]]:
    local = project.dir / ".env.local"
    local.write_text(f"{SANDBOX}={old[SANDBOX]}\n")
    return SANDBOX, {}


def _in_a_farther_env_file(project: Project, old: dict[str, str]) -> tuple[str, dict[str, str]]:
    farther = project.dir.parent / ".env"
    farther.write_text(f"{LIVE}={old[LIVE]}\n")
    return LIVE, {}


def _in_the_environment(project: Project, old: dict[str, str]) -> tuple[str, dict[str, str]]:
    return SANDBOX, {"AUTUMN_KEY": old[SANDBOX]}  # a CI variable of another name


Place = Callable[[Project, dict[str, str]], tuple[str, dict[str, str]]]


@pytest.mark.parametrize(
    ("place", "where"),
    [
        (_in_the_env_file, "BACKUP in {dir}/.env"),
        (_in_env_local, "AUTUMN_SECRET_KEY in {dir}/.env.local"),
        (_in_a_farther_env_file, "AUTUMN_PROD_SECRET_KEY in {parent}/.env"),
        (_in_the_environment, "AUTUMN_KEY in the process environment"),
    ],
    ids=["another-variable", "env-local", "farther-env", "process-environment"],
)
def test_an_old_key_still_used_elsewhere_is_kept_and_said_where(
    server: AutumnServer, project: Project, place: Place, where: str
) -> None:
    old = {var: project.keys()[var] or "" for var in (SANDBOX, LIVE)}
    var, extra = place(project, old)
    result = project.atmn("keys", "rotate", **extra)

    assert result.returncode == 0, result.stderr
    new = project.keys()
    assert new[SANDBOX] != old[SANDBOX] and new[LIVE] != old[LIVE]
    kept, revoked = old[var], old[LIVE if var == SANDBOX else SANDBOX]
    assert me_status(server.url, kept) == 200  # still used there: not revoked
    assert me_status(server.url, revoked) == 401
    shown = f"{kept[:11]}…{kept[-4:]}"
    said = where.format(dir=project.dir, parent=project.dir.parent)
    warnings = [line for line in result.stderr.splitlines() if shown in line]
    assert len(warnings) == 1 and warnings[0].startswith("! Warning: "), result.stderr
    assert said in warnings[0]
    assert f"Revoked the old key {revoked[:11]}…{revoked[-4:]}." in result.stdout
    assert shown not in result.stdout
    assert no_whole_key(result.stdout, result.stderr)


def test_an_old_key_under_another_name_in_the_file_is_kept(
    server: AutumnServer, project: Project
) -> None:
    """`AUTUMN_SECRET_KEY=${OLD}`: the rotation replaces the variable; OLD keeps the key,
    which the app may read, so it is not revoked."""
    old = project.keys()[SANDBOX] or ""
    text = project.env_file.read_text().replace(f"{SANDBOX}={old}\n", f"OLD={old}\n")
    project.env_file.write_text(text + f"{SANDBOX}=${{OLD}}\n")

    result = project.atmn("keys", "rotate")

    assert result.returncode == 0, result.stderr
    assert project.keys()["OLD"] == old
    assert project.keys()[SANDBOX] != old
    assert me_status(server.url, old) == 200
    assert f"OLD in {project.env_file}" in result.stderr


def test_a_key_of_another_organization_in_the_other_variable_is_refused_first(
    server: AutumnServer, project: Project
) -> None:
    """`atmn -p keys rotate` mints the pair for the live key's organization: the sandbox key
    of another organization beside it would be replaced and revoked. Nothing happens."""
    globex = server.create_key(org="globex", name="Globex sandbox")["key"]
    live = project.keys()[LIVE] or ""
    text = project.env_file.read_text()
    project.env_file.write_text(text.replace(project.keys()[SANDBOX] or "", globex))
    before = project.env_file.read_bytes()
    minted = server.stats()["key_pairs_minted"]

    result = project.atmn("-p", "keys", "rotate")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"atmn: error: {one_error_line(result)}"]
    assert one_error_line(result) == (
        f"AUTUMN_SECRET_KEY in {project.env_file} (am_sk_test_…{globex[-4:]}) is a key of "
        f"Globex (globex), but AUTUMN_PROD_SECRET_KEY (am_sk_live_…{live[-4:]}) is of Acme "
        "(acme): a rotation mints keys for Acme (acme) only and would revoke the key of "
        "Globex (globex); nothing was changed. Keep each organization's keys in its own .env"
    )
    assert project.env_file.read_bytes() == before
    assert server.stats()["key_pairs_minted"] == minted  # refused before signing in
    assert me_status(server.url, globex) == me_status(server.url, live) == 200


def test_a_revoked_key_in_the_other_variable_does_not_stop_a_rotation(
    server: AutumnServer, project: Project
) -> None:
    """Only a key the server accepts for another organization stops it; a dead one is
    simply replaced."""
    dead = server.create_key(org="globex", name="Revoked")
    gone = httpx2.delete(
        server.url + "/cli/api-keys/current",
        headers={"Authorization": f"Bearer {dead['key']}"},
        timeout=10,
    )
    assert gone.status_code == 204
    text = project.env_file.read_text()
    project.env_file.write_text(text.replace(project.keys()[SANDBOX] or "", dead["key"]))

    result = project.atmn("-p", "keys", "rotate")

    assert result.returncode == 0, result.stderr
    assert project.keys()[SANDBOX] != dead["key"]
    assert f"The old key am_sk_test_…{dead['key'][-4:]} was already revoked." in result.stdout
