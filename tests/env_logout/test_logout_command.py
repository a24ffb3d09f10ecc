"""`atmn logout` against a real autumn-local: keys leave the file and stop working."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from env_logout_helpers import Minted, Output, me_status, settings_for, write_env

from atmn_auth.commands.invocation import Invocation
from atmn_auth.commands.logout import run_logout
from atmn_auth.term.console import Console
from support.autumn_server import AutumnServer


def logout(
    url: str,
    cwd: Path,
    *,
    environ: dict[str, str] | None = None,
    env_file: Path | None = None,
    keep_keys: bool = False,
) -> tuple[int, Output]:
    out = Output()  # results and warnings (marked `!`), in order
    inv = Invocation(
        settings_for(url),
        cwd=cwd,
        environ=environ or {},
        console=Console(out=out, info=out),
        timeout=5.0,
    )
    with inv:
        code = run_logout(inv, env_file=env_file, keep_keys=keep_keys)
    return code, out


def _short(key: str) -> str:
    return f"{key[:11]}…{key[-4:]}"


def test_logout_removes_and_revokes_both_keys_then_has_nothing_to_do(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    dotenv = write_env(
        tmp_path,
        f"# mine\nDATABASE_URL=postgres://x\nAUTUMN_SECRET_KEY={minted.sandbox}\n"
        f"export AUTUMN_PROD_SECRET_KEY={minted.live}\nDEBUG=1",
    )
    cwd = tmp_path / "sub"
    cwd.mkdir()
    code, out = logout(server.url, cwd)
    assert code == 0
    assert out.lines == [
        f"Removed AUTUMN_SECRET_KEY ({_short(minted.sandbox)}) from {dotenv}.",
        f"Removed AUTUMN_PROD_SECRET_KEY ({_short(minted.live)}) from {dotenv}.",
        f"Revoked {_short(minted.sandbox)} on the server.",
        f"Revoked {_short(minted.live)} on the server.",
    ]
    out.assert_no_secret(minted.sandbox, minted.live)
    assert dotenv.read_text() == "# mine\nDATABASE_URL=postgres://x\nDEBUG=1"
    assert me_status(server, minted.sandbox) == 401
    assert me_status(server, minted.live) == 401

    code, out = logout(server.url, cwd)
    assert (code, out.lines) == (
        0,
        [f"Nothing to do: {dotenv} has no AUTUMN_SECRET_KEY or AUTUMN_PROD_SECRET_KEY."],
    )


def test_keep_keys_removes_without_revoking(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = logout(server.url, tmp_path, keep_keys=True)
    assert code == 0
    assert f"Kept {_short(minted.sandbox)} active on the server (--keep-keys)." in out.lines
    assert me_status(server, minted.sandbox) == 200
    assert (tmp_path / ".env").read_text() == ""


def test_every_old_duplicate_is_revoked_and_already_revoked_ones_reported(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    from env_logout_helpers import mint_keys

    older = mint_keys(server)
    server.admin("keys", "revoke", "--last4", older.sandbox[-4:], check=True)
    dotenv = write_env(
        tmp_path, f"AUTUMN_SECRET_KEY={older.sandbox}\nA=1\nAUTUMN_SECRET_KEY={minted.sandbox}\n"
    )
    code, out = logout(server.url, tmp_path)
    assert code == 0
    assert out.lines == [
        f"Removed AUTUMN_SECRET_KEY ({_short(minted.sandbox)}) and 1 older definition "
        f"from {dotenv}.",
        f"{_short(older.sandbox)} was already invalid on the server.",
        f"Revoked {_short(minted.sandbox)} on the server.",
    ]
    assert me_status(server, minted.sandbox) == 401
    assert dotenv.read_text() == "A=1\n"


def test_warns_about_definitions_it_did_not_touch(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    """Logout cleans the `.env.local` that holds the keys and the `.env` beside it (both
    are read); the shell and farther files are said, never touched."""
    write_env(tmp_path, f"AUTUMN_PROD_SECRET_KEY={minted.live}\n")
    project = tmp_path / "project"
    write_env(project, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    (project / ".env.local").write_text(f"NAME=app\nAUTUMN_SECRET_KEY={minted.sandbox}\n")
    environ = {"AUTUMN_SECRET_KEY": minted.sandbox}
    code, out = logout(server.url, project, environ=environ, keep_keys=True)
    assert code == 0
    assert out.lines[:2] == [
        f"Removed AUTUMN_SECRET_KEY ({_short(minted.sandbox)}) from {project / '.env.local'}.",
        f"Removed AUTUMN_SECRET_KEY ({_short(minted.sandbox)}) from {project / '.env'}.",
    ]
    warnings = [line for line in out.lines if line.startswith("! Warning: ")]
    assert warnings == [
        f"! Warning: AUTUMN_SECRET_KEY is still set in the process environment "
        f"({_short(minted.sandbox)}), which wins over {project / '.env'}; atmn cannot change "
        "it: run `unset AUTUMN_SECRET_KEY`.",
        f"! Warning: {tmp_path / '.env'} still sets AUTUMN_PROD_SECRET_KEY "
        f"({_short(minted.live)}); "
        f"logout only edits {project / '.env'}: remove it there if you no longer want it.",
    ]
    assert (project / ".env.local").read_text() == "NAME=app\n"
    out.assert_no_secret(minted.sandbox, minted.live)


def test_unreachable_server_still_removes_and_says_the_key_may_work(
    minted: Minted, tmp_path: Path, closed_port: int
) -> None:
    dotenv = write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    code, out = logout(f"http://127.0.0.1:{closed_port}", tmp_path)
    assert code == 0
    assert dotenv.read_text() == ""
    assert out.lines[1].startswith(
        f"! Warning: could not revoke {_short(minted.sandbox)}: cannot reach"
    )
    assert "It may still work: delete it in the Autumn dashboard: " in out.lines[1]


def test_server_without_revocation(
    start_autumn_server: Callable[..., AutumnServer], tmp_path: Path
) -> None:
    from env_logout_helpers import mint_keys

    hosted_like = start_autumn_server(disable=["revoke-key"])
    keys = mint_keys(hosted_like)
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={keys.sandbox}\n")
    code, out = logout(hosted_like.url, tmp_path)
    assert code == 0
    assert out.lines[1:3] == [
        f"! Warning: {hosted_like.url} cannot revoke keys from the command line, so this key "
        "still works:",
        f"!   {_short(keys.sandbox)}: delete it in the Autumn dashboard: "
        "https://app.useautumn.com/sandbox/dev?tab=api_keys",
    ]
    assert me_status(hosted_like, keys.sandbox) == 200


def test_values_that_are_not_keys_are_not_sent(server: AutumnServer, tmp_path: Path) -> None:
    write_env(tmp_path, "AUTUMN_SECRET_KEY=sk_some_other_service_secret\n")
    code, out = logout(server.url, tmp_path)
    assert code == 0
    assert out.lines[1] == (
        "Not revoking sk_s…cret: it is not an Autumn secret key, so it was not sent anywhere."
    )


def test_explicit_env_file_and_missing_file(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    nearest = write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    other = tmp_path / "deploy.env"
    other.write_text(f"AUTUMN_PROD_SECRET_KEY={minted.live}\n")
    code, out = logout(server.url, tmp_path, env_file=other)
    assert code == 0
    assert out.lines[0] == f"Removed AUTUMN_PROD_SECRET_KEY ({_short(minted.live)}) from {other}."
    assert nearest.read_text() == f"AUTUMN_SECRET_KEY={minted.sandbox}\n"  # not touched
    assert me_status(server, minted.sandbox) == 200

    missing = tmp_path / "nowhere.env"
    code, out = logout(server.url, tmp_path, env_file=missing)
    assert (code, out.lines) == (
        0,
        [
            f"Nothing to do: there is no {missing}, so no AUTUMN_SECRET_KEY or "
            "AUTUMN_PROD_SECRET_KEY."
        ],
    )
    assert not missing.exists()
