"""`atmn env --export`: the variables for other tools, in every format, read back by the
tools themselves (sh, bash, dash, python-dotenv, json, the Actions runner's rules)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values
from run_helpers import ATMN, STALE_SANDBOX, Keys, atmn

from atmn_auth.commands.export import render_export

SHELLS = [s for s in ("sh", "bash", "dash") if shutil.which(s)]
PRINT_BOTH = 'printf "%s\\n%s\\n" "$AUTUMN_SECRET_KEY" "$AUTUMN_PROD_SECRET_KEY"'


@pytest.mark.parametrize("shell", SHELLS)
def test_eval_in_the_shells_gives_what_python_dotenv_reads(
    shell: str, tmp_path: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / ".env").write_text(
        "# the app's settings\n"
        f'export AUTUMN_SECRET_KEY="{fake_keys.sandbox}"\n'
        "OTHER='x y'\n"
        f"AUTUMN_PROD_SECRET_KEY = '{fake_keys.live}'\n"
    )
    script = f'eval "$("$ATMN" env --export)" && {PRINT_BOTH}'
    result = subprocess.run(
        [shell, "-c", script],
        cwd=project,
        env={**env, "ATMN": ATMN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    read = dotenv_values(project / ".env")
    assert result.stdout.splitlines() == [
        read["AUTUMN_SECRET_KEY"],
        read["AUTUMN_PROD_SECRET_KEY"],
    ]
    assert read["AUTUMN_SECRET_KEY"] == fake_keys.sandbox
    assert result.stderr == ""


TRICKY = {
    "A": "it's",
    "B": '$HOME `id` \\ "q" $(echo no)',
    "C": "two\nlines",
    "D": " lead and trail ",
    "E": "*",
    "F": "",
    "G": "'''",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_sh_quoting_keeps_every_character(shell: str, tmp_path: Path) -> None:
    lines, err = render_export(TRICKY, "sh")
    assert err == []
    names = sorted(TRICKY)
    dump = f"import json, os; print(json.dumps({{k: os.environ[k] for k in {names!r}}}))"
    script = "\n".join(lines) + '\nexec "$0" -c "$1"'
    result = subprocess.run(
        [shell, "-c", script, sys.executable, dump],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == TRICKY


def test_dotenv_format_reads_back_in_python_dotenv(
    project: Path, env: dict[str, str], fake_keys: Keys, tmp_path: Path
) -> None:
    result = atmn(["env", "--export", "--format", "dotenv"], cwd=project, env=env)
    assert result.returncode == 0
    assert result.stdout == (
        f"AUTUMN_SECRET_KEY={fake_keys.sandbox}\nAUTUMN_PROD_SECRET_KEY={fake_keys.live}\n"
    )
    lines, _ = render_export(TRICKY, "dotenv")
    written = tmp_path / "tricky.env"
    written.write_text("\n".join(lines) + "\n")
    assert dotenv_values(written) == TRICKY


def test_json_format(project: Path, env: dict[str, str], fake_keys: Keys) -> None:
    result = atmn(["env", "--export", "--format", "json"], cwd=project, env=env)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "AUTUMN_SECRET_KEY": fake_keys.sandbox,
        "AUTUMN_PROD_SECRET_KEY": fake_keys.live,
    }


def test_github_format_masks_first_and_fills_github_env(
    project: Path, env: dict[str, str], fake_keys: Keys, tmp_path: Path
) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("EARLIER=1\n")
    script = '"$ATMN" env --export --format github >> "$GITHUB_ENV"'
    result = subprocess.run(
        ["sh", "-c", script],
        cwd=project,
        env={**env, "ATMN": ATMN, "GITHUB_ENV": str(github_env)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    # the log (stderr) gets the masks; $GITHUB_ENV only NAME=value lines, as the runner
    # requires (a line without `=` or `<<` is an error there)
    assert result.stdout == ""
    assert result.stderr == (f"::add-mask::{fake_keys.sandbox}\n::add-mask::{fake_keys.live}\n")
    lines = github_env.read_text().splitlines()
    assert lines == [
        "EARLIER=1",
        f"AUTUMN_SECRET_KEY={fake_keys.sandbox}",
        f"AUTUMN_PROD_SECRET_KEY={fake_keys.live}",
    ]
    parsed = dict(line.split("=", 1) for line in lines)
    assert parsed["AUTUMN_SECRET_KEY"] == fake_keys.sandbox

    both = subprocess.run(
        [ATMN, "env", "--export", "--format", "github"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    # one stream: every mask line comes before any value
    assert both.stdout.splitlines()[:2] == [
        f"::add-mask::{fake_keys.sandbox}",
        f"::add-mask::{fake_keys.live}",
    ]


def test_p_exports_the_live_key_in_both(
    project: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    result = atmn(["-p", "env", "--export", "--format", "json"], cwd=project, env=env)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "AUTUMN_SECRET_KEY": fake_keys.live,
        "AUTUMN_PROD_SECRET_KEY": fake_keys.live,
    }
    assert fake_keys.sandbox not in result.stdout


def test_a_missing_live_key_is_left_out_and_said(
    tmp_path: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    (tmp_path / ".env").write_text(f"AUTUMN_SECRET_KEY={fake_keys.sandbox}\n")
    result = atmn(["env", "--export"], cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert result.stdout == f"export AUTUMN_SECRET_KEY='{fake_keys.sandbox}'\n"
    assert result.stderr == (
        "! AUTUMN_PROD_SECRET_KEY is not set in the process environment nor in "
        f"{tmp_path / '.env'}; left out (the sandbox key is set).\n"
    )
    live = atmn(["-p", "env", "--export"], cwd=tmp_path, env=env)
    assert live.returncode == 1
    assert live.stdout == ""
    assert live.stderr.startswith("atmn: error: AUTUMN_PROD_SECRET_KEY is not set")
    assert "nothing was exported; run `atmn login`" in live.stderr


def test_a_malformed_key_is_not_exported(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / ".env").write_text("AUTUMN_SECRET_KEY=not-a-key-at-all-really\n")
    result = atmn(["env", "--export"], cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "not-a-key-at-all-really" not in result.stderr


def test_stale_shell_variable_and_env_file(
    project: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    env = {**env, "AUTUMN_SECRET_KEY": STALE_SANDBOX}
    stale = atmn(["env", "--export", "--format", "json"], cwd=project, env=env)
    assert json.loads(stale.stdout)["AUTUMN_SECRET_KEY"] == STALE_SANDBOX
    assert stale.stderr.startswith(
        "! Warning: using AUTUMN_SECRET_KEY from the process environment"
    )
    assert STALE_SANDBOX not in stale.stderr and fake_keys.sandbox not in stale.stderr
    picked = atmn(
        ["env", "--export", "--format", "json", "--env-file", ".env"], cwd=project, env=env
    )
    assert json.loads(picked.stdout)["AUTUMN_SECRET_KEY"] == fake_keys.sandbox
    assert picked.stderr == ""


def on_a_terminal(
    args: list[str], *, cwd: Path, env: dict[str, str], stream: str, other: Any
) -> tuple[int, str, Any]:
    """Runs `atmn ARGS` with `stream` ("stdout" or "stderr") on a new pseudo-terminal and
    the other stream to `other`; returns the exit code, what the terminal showed, and
    what `other` got (text, for a pipe)."""
    controller, terminal = os.openpty()
    try:
        streams = {"stdout": other, "stderr": other, stream: terminal}
        process = subprocess.run(
            [ATMN, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=streams["stdout"],
            stderr=streams["stderr"],
            text=True,
            timeout=60,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: nothing more
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    piped = process.stderr if stream == "stdout" else process.stdout
    return process.returncode, shown.decode(), piped


def test_on_a_terminal_it_refuses_without_reveal(
    project: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    def on_terminal(args: list[str]) -> tuple[int, str, str]:
        code, shown, err = on_a_terminal(
            args, cwd=project, env=env, stream="stdout", other=subprocess.PIPE
        )
        return code, shown, str(err)

    code, shown, err = on_terminal(["env", "--export"])
    assert code == 2
    assert fake_keys.sandbox not in shown + err and fake_keys.live not in shown + err
    assert err == (
        "atmn: error: --export prints whole keys and standard output is a terminal; "
        'redirect or capture it (eval "$(atmn env --export)"), or add --reveal to show '
        "them here\n"
    )
    for fmt in ("sh", "dotenv", "json", "github"):
        assert on_terminal(["env", "--export", "--format", fmt])[0] == 2

    code, shown, err = on_terminal(["env", "--export", "--reveal"])
    assert code == 0
    assert fake_keys.sandbox in shown and err == ""


def test_github_masks_are_not_shown_on_a_terminal_without_reveal(
    project: Path, env: dict[str, str], fake_keys: Keys, tmp_path: Path
) -> None:
    """`> file` takes standard output off the terminal, but the `::add-mask::` lines (the
    whole keys) go to standard error, which may still be one."""
    out = tmp_path / "github-env"

    def with_stderr_on_a_terminal(args: list[str]) -> tuple[int, str]:
        with out.open("w") as sink:
            code, shown, _ = on_a_terminal(args, cwd=project, env=env, stream="stderr", other=sink)
        return code, shown

    code, shown = with_stderr_on_a_terminal(["env", "--export", "--format", "github"])
    assert code == 2
    assert fake_keys.sandbox not in shown and fake_keys.live not in shown
    flat = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", shown).split())  # wrapped, styled
    assert "--format github prints `::add-mask::` lines with the whole keys" in flat
    assert out.read_text() == ""

    code, shown = with_stderr_on_a_terminal(["env", "--export", "--format", "github", "--reveal"])
    assert code == 0
    assert f"::add-mask::{fake_keys.sandbox}" in shown
    assert f"AUTUMN_SECRET_KEY={fake_keys.sandbox}" in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "json"], "--format goes with --export: atmn env --export --format"),
        (["--reveal"], "--reveal goes with --export: atmn env --export --reveal"),
        (
            ["--export", "--json"],
            "--json and --export do not combine; for JSON: atmn env --export --format json",
        ),
        (["--export", "--format", "yaml"], "invalid value for '--format'"),
    ],
    ids=" ".join,
)
def test_usage_errors(args: list[str], message: str, project: Path, env: dict[str, str]) -> None:
    result = atmn(["env", *args], cwd=project, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"atmn: error: {message}")
    assert result.stdout == ""


def test_export_loads_no_network_or_prompt_library(project: Path) -> None:
    probe = (
        "import sys\nfrom atmn_auth.cli import main\n"
        "sys.argv = ['atmn', 'env', '--export']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'authlib', 'httpx2', 'questionary'})\n"
        "print('EXIT', code, 'HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": str(project), "LANG": "C.UTF-8"},
    )
    assert result.stderr.splitlines()[-1] == "EXIT 0 HEAVY []", result.stderr
