"""The real `atmn env` / `atmn logout` commands in a subprocess: exit codes, flags, imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from env_logout_helpers import Minted, me_status, write_env

from support.autumn_server import AutumnServer

ATMN = Path(sys.executable).with_name("atmn")


def atmn(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTUMN_", "ATMN_"))}
    return subprocess.run(
        [str(ATMN), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_exit_codes_and_flags_on_either_side(
    server: AutumnServer, minted: Minted, tmp_path: Path
) -> None:
    write_env(
        tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\nAUTUMN_PROD_SECRET_KEY={minted.live}\n"
    )
    backend = {"ATMN_BACKEND_URL": server.url}

    ok = atmn("env", cwd=tmp_path, env=backend)
    assert ok.returncode == 0, ok.stderr
    assert "Server:       accepted: organization" in ok.stdout

    before = atmn("-p", "env", "--json", cwd=tmp_path, env=backend)
    after = atmn("env", "--json", "-p", cwd=tmp_path, env=backend)
    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert json.loads(after.stdout)["variable"] == "AUTUMN_PROD_SECRET_KEY"

    bad = atmn("env", "--no-such-flag", cwd=tmp_path, env=backend)
    assert bad.returncode == 2
    assert bad.stderr.startswith("atmn: error: no option '--no-such-flag'")

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".env").write_text("")
    missing = atmn("env", cwd=empty, env=backend)
    assert missing.returncode == 1
    assert "Next: run `atmn login` to write new keys to" in missing.stdout
    for result in (ok, before, after, missing):
        assert minted.sandbox not in result.stdout + result.stderr
        assert minted.live not in result.stdout + result.stderr


def test_offline_does_not_load_the_network_or_prompt_libraries(
    minted: Minted, tmp_path: Path
) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\n")
    probe = (
        "import sys\n"
        "from atmn_auth.cli import main\n"
        "sys.argv = ['atmn', 'env', '--offline']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "names = ('authlib', 'questionary', 'httpx2', 'flask')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print('EXIT', code, 'HEAVY', ','.join(heavy) or '-')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "EXIT 0 HEAVY -", result.stdout + result.stderr


def test_unreadable_nearest_env_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    result = atmn("env", "--offline", cwd=tmp_path)
    assert result.returncode == 1
    where = tmp_path / ".env"
    assert (
        result.stderr
        == f"atmn: error: {where} is a directory, not a regular file; leaving it alone\n"
    )
    assert "Traceback" not in result.stderr


def test_logout_command_end_to_end(server: AutumnServer, minted: Minted, tmp_path: Path) -> None:
    dotenv = write_env(tmp_path, f"AUTUMN_SECRET_KEY={minted.sandbox}\nKEEP=1\n")
    backend = {"ATMN_BACKEND_URL": server.url}
    first = atmn("logout", cwd=tmp_path, env=backend)
    assert first.returncode == 0, first.stderr
    assert f"Removed AUTUMN_SECRET_KEY (am_sk_test_…{minted.sandbox[-4:]}) from {dotenv}." in (
        first.stdout.splitlines()
    )
    assert minted.sandbox not in first.stdout
    assert dotenv.read_text() == "KEEP=1\n"
    assert me_status(server, minted.sandbox) == 401

    second = atmn("logout", cwd=tmp_path, env=backend)
    assert second.returncode == 0
    assert second.stdout.startswith("Nothing to do:")

    after = atmn("env", cwd=tmp_path, env=backend)
    assert after.returncode == 1
