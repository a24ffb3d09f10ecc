"""`atmn keys` as a command line: its help, mistyped subcommands, and a key pasted onto
the command line, which is refused without being repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.atmn_cli import clean_env, run_atmn

KEY = "am_sk_test_" + "Zq9" * 14


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "list", KEY],
        ["keys", "rotate", KEY],
        ["keys", "create", "--name", "ci", KEY],
        ["keys", "revoke", "ci", KEY],
    ],
    ids=lambda args: args[1],
)
def test_a_key_on_the_command_line_is_not_repeated(args: list[str], tmp_path: Path) -> None:
    result = run_atmn(args, cwd=tmp_path, env=clean_env(tmp_path))
    assert result.returncode == 2
    assert KEY[:-4] not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "atmn: error: unexpected argument (not repeated: it may be a key); keys are never "
        "given on the command line",
        f"Run 'atmn keys {args[1]} --help' for usage.",
    ]


def test_a_mistyped_subcommand_is_suggested(tmp_path: Path) -> None:
    result = run_atmn(["keys", "rotat"], cwd=tmp_path, env=clean_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "atmn: error: no command 'rotat'; did you mean 'rotate'?",
        "Run 'atmn keys --help' for usage.",
    ]


def test_the_help_lists_each_subcommand_whole(tmp_path: Path) -> None:
    env = clean_env(tmp_path, COLUMNS="60")
    page = run_atmn(["keys", "--help"], cwd=tmp_path, env=env).stdout
    assert "..." not in page.split("\n", 1)[1]  # after the usage line (`[ARGS]...`)
    flat = " ".join(page.split("\nCommands:\n", 1)[1].split())
    assert "revoke Revoke one key, named by its id, its name or its last 4 characters." in flat
    top = run_atmn(["--help"], cwd=tmp_path, env=env).stdout
    assert "keys List, create, revoke and rotate your organization's API keys." in " ".join(
        top.split()
    )
