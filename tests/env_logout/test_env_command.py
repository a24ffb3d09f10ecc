"""`atmn env` against a real autumn-local: every outcome a user can meet."""

from __future__ import annotations

import json
import os
from pathlib import Path

from env_logout_helpers import Minted, Output, mint_keys, org_of, settings_for, write_env

from atmn_auth.commands.env import run_env
from atmn_auth.commands.invocation import Invocation
from atmn_auth.term.console import Console
from support.autumn_server import AutumnServer


def env(
    url: str,
    cwd: Path,
    *,
    environ: dict[str, str] | None = None,
    prod: bool = False,
    as_json: bool = False,
    offline: bool = False,
    timeout: float = 10.0,
    env_file: Path | None = None,
) -> tuple[int, Output]:
    out = Output()
    inv = Invocation(
        settings_for(url, prod=prod),
        cwd=cwd,
        environ=environ or {},
        console=Console(out=out),
        offline=offline,
        timeout=timeout,
    )
    with inv:
        code = run_env(inv, as_json=as_json, env_file=env_file)
    return code, out


def test_valid_key_shows_organization_and_source(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    dotenv = write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    sub = tmp_path / "src" / "app"
    sub.mkdir(parents=True)
    code, out = env(server.url, sub)  # found by walking up
    assert code == 0
    org = org_of(server, minted.sandbox)
    assert f"Server:       accepted: organization {org['name']} ({org['slug']})" in out.lines
    assert f"From:         {dotenv}" in out.lines
    assert f"Key:          am_sk_test_…{minted.sandbox[-4:]}" in out.lines
    assert "Format:       ok: sandbox key" in out.lines
    assert not any(line.startswith(("! Warning", "Next")) for line in out.lines)
    out.assert_no_secret(minted.sandbox)


def test_prod_flag_reads_the_live_variable(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    write_env(
        tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\nAUTUMN_PROD_SECRET_KEY={minted.live}\n"
    )
    code, out = env(server.url, tmp_path, prod=True, as_json=True)
    data = json.loads(out.text)
    assert code == 0
    assert (data["variable"], data["environment"]) == ("AUTUMN_PROD_SECRET_KEY", "live")
    assert data["key"] == f"am_sk_live_…{minted.live[-4:]}"
    assert data["organization"]["env"] == "live"


def test_rejected_key_says_so_and_what_to_do(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    server.admin("keys", "revoke", "--last4", minted.sandbox[-4:], check=True)
    code, out = env(server.url, tmp_path)
    assert code == 1
    assert (
        "Server:       rejected (401): the server rejected the key: Invalid secret key" in out.lines
    )
    assert f"Next: run `atmn login` to write new keys to {tmp_path / '.env'}" in out.lines
    out.assert_no_secret(minted.sandbox)


def test_unreachable_server(minted: Minted, tmp_path: Path, closed_port: int) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    url = f"http://127.0.0.1:{closed_port}"
    code, out = env(url, tmp_path, as_json=True)
    data = json.loads(out.text)
    assert code == 1
    assert data["server"] == "unreachable" and data["usable"] is False
    assert "cannot reach" in data["server_message"]
    assert url in data["next_step"]


def test_server_that_never_answers_times_out(
    minted: Minted, tmp_path: Path, silent_server: str
) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = env(silent_server, tmp_path, timeout=0.3)
    assert code == 1
    server_line = next(line for line in out.lines if line.startswith("Server:"))
    assert server_line.startswith("Server:       timed out: ")
    assert "did not answer in time" in server_line


def test_missing_key(server: AutumnServer, tmp_path: Path) -> None:
    write_env(tmp_path, "OTHER=1\n")
    code, out = env(server.url, tmp_path, as_json=True)
    data = json.loads(out.text)
    assert code == 1
    assert (data["format"], data["key"], data["source"], data["server"]) == (
        "missing",
        None,
        None,
        "not_checked",
    )
    assert data["next_step"] == f"run `atmn login` to write new keys to {tmp_path / '.env'}"


def test_live_key_in_sandbox_variable_is_an_error(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.live}\n")
    code, out = env(server.url, tmp_path)
    assert code == 1
    assert (
        "Format:       error: AUTUMN_SECRET_KEY holds a live key; "
        "it should hold a sandbox key (am_sk_test_…)"
    ) in out.lines
    assert "Server:       not asked: there is no well-formed key to send" in out.lines
    out.assert_no_secret(minted.live)


def test_sandbox_key_in_live_variable_and_malformed_values(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    write_env(tmp_path, f"AUTUMN_PROD_SECRET_KEY={minted.sandbox}\nAUTUMN_SECRET_KEY=sk_123\n")
    code, out = env(server.url, tmp_path, prod=True, as_json=True)
    assert (code, json.loads(out.text)["format"]) == (1, "wrong_kind")
    code, out = env(server.url, tmp_path, as_json=True)
    assert (code, json.loads(out.text)["format"]) == (1, "malformed")


def test_environment_variable_shadows_the_dotenv_key(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    stale = mint_keys(server)
    server.admin("keys", "revoke", "--last4", stale.sandbox[-4:], check=True)
    dotenv = write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = env(server.url, tmp_path, environ={"AUTUMN_SECRET_KEY": stale.sandbox})
    assert code == 1  # the stale key in the shell is the one in force, and it is rejected
    assert "From:         the process environment" in out.lines
    assert (
        "! Warning: AUTUMN_SECRET_KEY is also set in the process environment "
        f"(am_sk_test_…{stale.sandbox[-4:]}), which wins over {dotenv}: "
        "run `unset AUTUMN_SECRET_KEY`."
    ) in out.lines
    assert out.lines[-1].startswith("Next: run `unset AUTUMN_SECRET_KEY`")
    out.assert_no_secret(stale.sandbox, minted.sandbox)


def test_env_local_wins_over_the_env_beside_it_and_a_farther_env_is_listed(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    """As the official CLI, Next.js and Vite read them: `.env.local` before the `.env`
    beside it; a farther `.env` is listed, never read."""
    other, third = mint_keys(server), mint_keys(server)
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={other.sandbox}\n")
    project = tmp_path / "project"
    dotenv = write_env(project, f"AUTUMN_SECRET_KEY={third.sandbox}\n")
    local = project / ".env.local"
    local.write_text(f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = env(server.url, project, as_json=True)
    data = json.loads(out.text)
    assert code == 0
    assert data["path"] == str(local)
    assert data["key"] == f"am_sk_test_…{minted.sandbox[-4:]}"
    assert [(d["source"], d["path"], d["in_use"]) for d in data["definitions"]] == [
        ("env.local", str(local), True),
        ("dotenv", str(dotenv), False),
        ("dotenv", str(tmp_path / ".env"), False),
    ]
    warnings = data["warnings"]
    assert any(
        w.startswith(f"{local} also sets AUTUMN_SECRET_KEY") and "is read before" in w
        for w in warnings
    )
    assert (
        f"{tmp_path / '.env'} also sets AUTUMN_SECRET_KEY (am_sk_test_…{other.sandbox[-4:]}) "
        f"but is not read: {dotenv} is nearer." in warnings
    )


def test_an_env_local_of_another_user_is_listed_but_never_used(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    other = mint_keys(server)
    project = tmp_path / "project"
    dotenv = write_env(project, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    local = project / ".env.local"
    local.write_text(f"AUTUMN_SECRET_KEY={other.sandbox}\n")
    os.chown(local, 12345, 12345)
    code, out = env(server.url, project, as_json=True)
    data = json.loads(out.text)
    assert code == 0
    assert data["path"] == str(dotenv)
    assert ("env.local", str(local), False) in [
        (d["source"], d["path"], d["in_use"]) for d in data["definitions"]
    ]


def test_json_fields_for_an_accepted_key(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    dotenv = write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = env(server.url, tmp_path, as_json=True)
    data = json.loads(out.text)
    org = org_of(server, minted.sandbox)
    redacted = f"am_sk_test_…{minted.sandbox[-4:]}"
    assert code == 0
    details = data.pop("key_details")  # contract §7: what the server says of this key
    assert details["created_via"] == "oauth"
    assert details["label"].endswith(" (sandbox)")
    assert data == {
        "environment": "sandbox",
        "backend_url": server.url,
        "variable": "AUTUMN_SECRET_KEY",
        "key": redacted,
        "source": "dotenv",
        "path": str(dotenv),
        "env_file": str(dotenv),
        "format": "ok",
        "format_message": "sandbox key",
        "server": "accepted",
        "server_message": None,
        "organization": {
            "id": minted.org_id,
            "name": org["name"],
            "slug": org["slug"],
            "env": "sandbox",
        },
        "user": {"email": server.email, "name": data["user"]["name"]},
        "definitions": [{"source": "dotenv", "path": str(dotenv), "key": redacted, "in_use": True}],
        "warnings": [],
        "next_step": None,
        "usable": True,
    }
    out.assert_no_secret(minted.sandbox)


def test_json_fields_for_a_rejected_key_from_the_environment(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    server.admin("keys", "revoke", "--last4", minted.sandbox[-4:], check=True)
    code, out = env(
        server.url, tmp_path, environ={"AUTUMN_SECRET_KEY": minted.sandbox}, as_json=True
    )
    data = json.loads(out.text)
    assert code == 1
    assert data["source"] == "environment" and data["path"] is None
    assert data["env_file"] == str(tmp_path / ".env")
    assert data["server"] == "rejected" and data["organization"] is None
    assert data["server_message"] == "the server rejected the key: Invalid secret key"
    assert data["usable"] is False
    assert data["next_step"].startswith("run `unset AUTUMN_SECRET_KEY`")
    assert data["definitions"] == [
        {
            "source": "environment",
            "path": None,
            "key": f"am_sk_test_…{minted.sandbox[-4:]}",
            "in_use": True,
        }
    ]


def test_offline_checks_only_the_format(minted: Minted, tmp_path: Path, closed_port: int) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = env(f"http://127.0.0.1:{closed_port}", tmp_path, offline=True, as_json=True)
    data = json.loads(out.text)
    assert (code, data["server"], data["usable"]) == (0, "not_checked", True)


def test_explicit_env_file(server: AutumnServer, minted: Minted, tmp_path: Path) -> None:
    write_env(tmp_path, "AUTUMN_SECRET_KEY=\n")
    other = tmp_path / "config" / "prod.env"
    other.parent.mkdir()
    other.write_text(f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = env(server.url, tmp_path, env_file=other, as_json=True)
    data = json.loads(out.text)
    assert (code, data["path"], data["env_file"]) == (0, str(other), str(other))
