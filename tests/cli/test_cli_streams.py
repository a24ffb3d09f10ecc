"""Results on stdout, warnings on stderr: login's report, logout's warnings; `atmn env`'s
report (the result itself) stays on stdout with its warnings marked."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from atmn_auth.commands.login import print_login_result
from atmn_auth.settings import load_settings
from atmn_auth.term.console import Console, terminal_console
from support.atmn_cli import ATMN, clean_env, run_atmn

SANDBOX = "am_sk_test_" + "S1" * 21
LIVE = "am_sk_live_" + "L2" * 21
OTHER = "am_sk_test_" + "o3" * 21


def fake_result(env_file: Path, **changes: object) -> SimpleNamespace:
    """Has what `print_login_result` reads of a `LoginResult`."""
    from atmn_auth.api.autumn import MintedKeys, Organization

    org = Organization(id="org_1", name="Acme", slug="acme")
    keys = MintedKeys(sandbox_key=SANDBOX, live_key=LIVE, org_id="org_1")
    fields = {
        "env_file": env_file,
        "organization": org,
        "keys": keys,
        "created_file": False,
        "replaced": {},
        "can_revoke": True,
    }
    return SimpleNamespace(**{**fields, **changes})


def report(result: SimpleNamespace, cwd: Path, environ: dict[str, str]) -> tuple[list[str], ...]:
    out: list[str] = []
    err: list[str] = []
    print_login_result(
        result,  # type: ignore[arg-type]
        load_settings(prod=False, local=False, environ=environ),
        cwd=cwd,
        environ=environ,
        console=Console(out=out.append, info=err.append),
    )
    return out, err


def test_a_clean_login_reports_on_stdout_only(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n")
    out, err = report(fake_result(dotenv, replaced={OTHER: "kept"}), tmp_path, {})
    assert out == [
        "✓ Signed in to Acme (acme).",
        f"Updated {dotenv}:",
        "  AUTUMN_SECRET_KEY        am_sk_test_…S1S1  (sandbox)",
        "  AUTUMN_PROD_SECRET_KEY   am_sk_live_…L2L2  (live)",
        "Replaced am_sk_test_…o3o3: kept, not revoked (pass --revoke-replaced to revoke "
        "replaced keys).",
        "Next: `atmn env` shows the key in force; your code reads AUTUMN_SECRET_KEY.",
    ]
    assert err == []


@pytest.mark.skipif(subprocess.run(["git", "--version"]).returncode != 0, reason="needs git")
def test_login_warnings_go_to_stderr(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # .env not ignored
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n")
    out, err = report(
        fake_result(dotenv, created_file=True, organization=None),
        tmp_path,
        {"AUTUMN_SECRET_KEY": OTHER},  # the shell shadows the new key
    )
    assert out[:2] == ["✓ Signed in.", f"Created {dotenv}:"]
    assert not any("Warning" in line for line in out)
    assert len(err) == 2
    assert all(line.startswith("! Warning: ") for line in err)
    assert "not ignored by git" in err[0]
    assert "AUTUMN_SECRET_KEY is also set in the process environment" in err[1]
    assert not any(SANDBOX in line or OTHER in line for line in out + err)


def test_the_terminal_console_writes_results_to_stdout_and_warnings_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = terminal_console()
    output.ok("Signed in.")
    output.result("Updated .env:")
    output.warn("Warning: careful")
    captured = capsys.readouterr()
    assert captured.out == "✓ Signed in.\nUpdated .env:\n"
    assert captured.err == "! Warning: careful\n"


def test_logout_warnings_go_to_stderr(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n")
    env = clean_env(tmp_path, AUTUMN_SECRET_KEY=OTHER)  # left in the shell: a warning
    result = run_atmn(["logout", "--keep-keys"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Removed AUTUMN_SECRET_KEY (am_sk_test_…S1S1) from {dotenv}.",
        f"Removed AUTUMN_PROD_SECRET_KEY (am_sk_live_…L2L2) from {dotenv}.",
        "Kept am_sk_test_…S1S1 active on the server (--keep-keys).",
        "Kept am_sk_live_…L2L2 active on the server (--keep-keys).",
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "! Warning: AUTUMN_SECRET_KEY is still set in the process environment"
    )


def test_env_keeps_its_warnings_in_the_report(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\n")
    env = clean_env(tmp_path, AUTUMN_SECRET_KEY=OTHER)
    result = run_atmn(["env", "--offline"], cwd=tmp_path, env=env)
    assert result.stderr == ""
    warnings = [line for line in result.stdout.splitlines() if "Warning" in line]
    assert warnings and all(line.startswith("! Warning: ") for line in warnings)


# --- the streams as click.echo treats them (the commands write through term.console) ------


def project_with_sandbox_key(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".env").write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\n")
    (root / ".env").chmod(0o600)
    return root


def test_an_ascii_standard_output_still_gets_the_redacted_key(tmp_path: Path) -> None:
    project = project_with_sandbox_key(tmp_path / "p")
    env = clean_env(tmp_path, PYTHONIOENCODING="ascii")
    result = subprocess.run(
        [ATMN, "env", "--offline"], cwd=project, env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "am_sk_test_…S1S1".encode() in result.stdout
    assert b"Traceback" not in result.stderr


def test_with_standard_error_closed_warnings_do_not_land_in_the_exported_lines(
    tmp_path: Path,
) -> None:
    project = project_with_sandbox_key(tmp_path / "p")  # no live key: a warning
    command = f"{shlex.quote(ATMN)} env --export --reveal 2>&-"
    result = subprocess.run(
        ["sh", "-c", command],
        cwd=project,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"export AUTUMN_SECRET_KEY='{SANDBOX}'"]


def test_escape_sequences_in_a_path_are_taken_out_of_piped_results(tmp_path: Path) -> None:
    project = project_with_sandbox_key(tmp_path / "q\x1b[31mred")
    result = run_atmn(
        ["env"], cwd=project, env=clean_env(tmp_path, ATMN_BACKEND_URL="http://127.0.0.1:9")
    )
    assert "\x1b" not in result.stdout
    assert f"From:         {tmp_path / 'qred' / '.env'}" in result.stdout
