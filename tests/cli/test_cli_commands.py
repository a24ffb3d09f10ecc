"""`atmn status` (an alias of `env`), `atmn version`, `atmn completion SHELL`, and the
help page: full summaries, the aliases, and examples."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from atmn_auth.cli import COMMANDS, EXAMPLES
from support.atmn_cli import ATMN, clean_env, run_atmn

SANDBOX = "am_sk_test_" + "a1" * 21
LIVE = "am_sk_live_" + "b2" * 21


@pytest.fixture
def project(tmp_path: Path) -> Path:
    where = tmp_path / "project"
    where.mkdir()
    (where / ".env").write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n")
    return where


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize(
    "flags",
    [["--offline"], ["--offline", "--json"], ["-p", "--offline"], ["--offline", "-l"]],
    ids=" ".join,
)
def test_status_is_env(flags: list[str], project: Path, env: dict[str, str]) -> None:
    status = run_atmn(["status", *flags], cwd=project, env=env)
    same = run_atmn(["env", *flags], cwd=project, env=env)
    assert (status.returncode, status.stdout, status.stderr) == (
        same.returncode,
        same.stdout,
        same.stderr,
    )
    assert status.returncode == 0 and status.stdout


def test_status_fails_like_env(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / ".env").write_text("AUTUMN_SECRET_KEY=not-a-key\n")
    status = run_atmn(["status", "--offline"], cwd=tmp_path, env=env)
    same = run_atmn(["env", "--offline"], cwd=tmp_path, env=env)
    assert status.returncode == same.returncode == 1
    assert status.stdout == same.stdout


def test_status_help_is_envs(env: dict[str, str], tmp_path: Path) -> None:
    status = run_atmn(["status", "--help"], cwd=tmp_path, env=env)
    same = run_atmn(["env", "--help"], cwd=tmp_path, env=env)
    assert status.returncode == 0
    assert status.stdout.replace("atmn status", "atmn env") == same.stdout


def test_version_is_what_version_flag_prints(env: dict[str, str], tmp_path: Path) -> None:
    command = run_atmn(["version"], cwd=tmp_path, env=env)
    flag = run_atmn(["--version"], cwd=tmp_path, env=env)
    through_click = run_atmn(["-p", "--version"], cwd=tmp_path, env=env)
    assert command.returncode == flag.returncode == 0
    assert command.stdout == flag.stdout == through_click.stdout
    assert command.stdout.startswith("atmn, version ")
    assert command.stderr == ""


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_is_clicks_own_script(shell: str, env: dict[str, str], tmp_path: Path) -> None:
    command = run_atmn(["completion", shell], cwd=tmp_path, env=env)
    clicks = run_atmn([], cwd=tmp_path, env={**env, "_ATMN_COMPLETE": f"{shell}_source"})
    assert command.returncode == clicks.returncode == 0
    assert command.stdout == clicks.stdout
    assert command.stdout.strip()
    assert "_ATMN_COMPLETE" in command.stdout
    assert f"{shell}_complete" in command.stdout


def test_the_bash_script_parses(env: dict[str, str], tmp_path: Path) -> None:
    script = run_atmn(["completion", "bash"], cwd=tmp_path, env=env).stdout
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash")
    checked = subprocess.run([bash, "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    # and, loaded, it completes the command names through the real console script
    complete = f"{script}\nCOMP_WORDS=(atmn lo); COMP_CWORD=1; _atmn_completion atmn\n"
    complete += 'printf "%s\\n" "${COMPREPLY[@]}"'
    words = subprocess.run(
        [bash, "-c", complete],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**env, "PATH": f"{Path(ATMN).parent}:{env['PATH']}"},
    )
    assert words.stdout.split() == ["login", "logout"], words.stderr


def _commands_section(page: str) -> str:
    return page.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize("columns", ["40", "52", "80", "200"])
@pytest.mark.parametrize("cache", ["miss", "hit"])
def test_help_shows_every_summary_whole(
    columns: str, cache: str, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "COLUMNS": columns}
    if cache == "hit":
        run_atmn(["--help"], cwd=tmp_path, env=env)
    page = run_atmn(["--help"], cwd=tmp_path, env=env).stdout
    section = _commands_section(page)
    assert "..." not in section
    flat = " ".join(section.split())
    for name, lazy in COMMANDS.items():
        if lazy.alias_of is None:
            assert f"{name} {lazy.summary}" in flat
        else:
            assert f"{name} Alias of {lazy.alias_of}." in flat


def test_help_has_examples(env: dict[str, str], tmp_path: Path) -> None:
    page = run_atmn(["--help"], cwd=tmp_path, env={**env, "COLUMNS": "100"}).stdout
    examples = page.split("\nExamples:\n", 1)[1]
    for command, _ in EXAMPLES:
        assert re.search(rf"^  {re.escape(command)}  ", examples, re.MULTILINE), examples
    for wanted in ("atmn login", "atmn -l login", "atmn env", "atmn -p env --json", "atmn logout"):
        assert f"  {wanted}  " in examples


@pytest.mark.parametrize("command", ["login", "logout", "env", "status", "completion"])
def test_subcommand_help_is_not_shortened(
    command: str, env: dict[str, str], tmp_path: Path
) -> None:
    result = run_atmn([command, "--help"], cwd=tmp_path, env={**env, "COLUMNS": "60"})
    assert result.returncode == 0
    body = result.stdout.split("\n", 1)[1]  # after the usage line (`[ARGS]...` is fine)
    assert "..." not in body


def test_the_new_commands_do_not_load_the_network_stack(tmp_path: Path) -> None:
    """`version` and `completion` stay as light as `--version` and `--help`."""
    probe = (
        "import sys\nfrom atmn_auth.cli import main\nsys.argv = ['atmn', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'authlib', 'httpx2', "
        "'questionary'})\nprint('HEAVY', heavy, file=sys.stderr)\n"
    )
    for args in (["version"], ["completion", "bash"], ["status", "--offline"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(tmp_path),
        )
        assert "HEAVY []" in result.stderr, (args, result.stderr)
