"""`atmn env` on a terminal offers to replace a rejected key, through the real login flow."""

from __future__ import annotations

from pathlib import Path

import pexpect
from dotenv import dotenv_values

from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

from .helpers import clean_env, organization_of, run_atmn
from .test_login_terminal import _spawn


def test_env_signs_in_again_when_the_key_is_rejected(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    assert run_atmn(["login", "--org", "acme"], cwd=tmp_path, env=env).returncode == 0
    old = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    old_live = dotenv_values(tmp_path / ".env")["AUTUMN_PROD_SECRET_KEY"]
    assert old is not None and old_live is not None
    autumn_server.admin("keys", "revoke", "--last4", old[-4:], check=True)

    child = _spawn(["env"], cwd=tmp_path, env=env)
    child.expect("AUTUMN_SECRET_KEY was rejected. Sign in again now?")
    child.send("y")  # the consent page preselects the last organization used: Acme
    child.expect("Revoke the keys this replaced")
    child.send("y")
    child.expect(r"accepted: organization Acme \(acme\)")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    new = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert new is not None and new != old
    assert organization_of(autumn_server.url, new).status_code == 200
    assert organization_of(autumn_server.url, old).status_code == 401
    assert organization_of(autumn_server.url, old_live).status_code == 401  # revoked too


def test_env_without_a_terminal_only_reports(autumn_server: AutumnServer, tmp_path: Path) -> None:
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    assert run_atmn(["login", "--org", "acme"], cwd=tmp_path, env=env).returncode == 0
    old = dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"]
    assert old is not None
    autumn_server.admin("keys", "revoke", "--last4", old[-4:], check=True)

    result = run_atmn(["env"], cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "rejected" in result.stdout
    assert dotenv_values(tmp_path / ".env")["AUTUMN_SECRET_KEY"] == old
    assert autumn_server.stats()["key_pairs_minted"] == 1
