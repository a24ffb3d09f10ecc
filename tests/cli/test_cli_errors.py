"""Every error is one `atmn: error: ...` line on stderr; usage errors (click's own too)
exit 2 with a hint; a mistyped command gets a "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.atmn_cli import clean_env, run_atmn


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--bogus"], "no option '--bogus'", "atmn --help"),
        (["login", "--forc"], "no option '--forc'; did you mean '--force'?", "atmn login --help"),
        (["env", "--no-such-flag"], "no option '--no-such-flag'", "atmn env --help"),
        (["logout", "--timeout"], "option '--timeout' requires an argument", "atmn logout --help"),
        (
            ["env", "--timeout", "0"],
            "invalid value for '--timeout': 0.0 is not in the range x>=0.1",
            "atmn env --help",
        ),
        (["completion"], "missing argument 'SHELL'", "atmn completion --help"),
        (
            ["version", "extra"],
            "unexpected argument (not repeated: it may be a key); keys are never given on the "
            "command line",
            "atmn version --help",
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_usage_errors_are_one_line_and_exit_2(
    args: list[str], message: str, hint: str, env: dict[str, str], tmp_path: Path
) -> None:
    result = run_atmn(args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"atmn: error: {message}"), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[1] == f"Run '{hint}' for usage."
    assert "Usage:" not in result.stderr and "Error:" not in result.stderr


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("logni", "login"), ("lgout", "logout"), ("stauts", "status"), ("envv", "env")],
)
def test_a_mistyped_command_is_suggested(
    typed: str, meant: str, env: dict[str, str], tmp_path: Path
) -> None:
    result = run_atmn([typed], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"atmn: error: no command '{typed}'; did you mean '{meant}'?",
        "Run 'atmn --help' for usage.",
    ]


def test_an_unknown_command_lists_the_commands(env: dict[str, str], tmp_path: Path) -> None:
    result = run_atmn(["-p", "frobnicate", "--x"], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "atmn: error: no command 'frobnicate' "
        "(commands: completion, env, keys, login, logout, run, status, version)"
    )


def test_a_completion_shell_that_click_does_not_know_is_a_usage_error(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run_atmn(["completion", "powershell"], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "atmn: error: invalid value for 'SHELL': 'powershell' is not one of "
    )


def test_errors_from_the_commands_keep_the_same_form(env: dict[str, str], tmp_path: Path) -> None:
    """An `AtmnError` (here: a plain-http backend that is not this machine) is one line."""
    result = run_atmn(["env"], cwd=tmp_path, env={**env, "ATMN_BACKEND_URL": "http://example.com"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("atmn: error: ")
    assert result.stderr.count("\n") == 1


def test_bare_atmn_still_shows_the_help(env: dict[str, str], tmp_path: Path) -> None:
    result = run_atmn([], cwd=tmp_path, env=env)
    assert result.returncode == 2  # as click does: a command is required
    assert result.stderr.startswith("Usage: atmn [OPTIONS] COMMAND")


def test_a_key_given_as_a_command_is_not_repeated(env: dict[str, str], tmp_path: Path) -> None:
    key = "am_sk_test_" + "k7" * 21
    result = run_atmn([key], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert key not in result.stdout + result.stderr
    assert "am_sk_test_…k7k7" in result.stderr and "--with-key" in result.stderr


KEY = "am_sk_test_" + "q9" * 21


@pytest.mark.parametrize(
    "args",
    [
        ["env", KEY],
        ["status", KEY],
        ["logout", KEY],
        ["version", KEY],
        ["env", "--export", "--format", KEY],
        ["completion", KEY],
        ["-p", "status", "--offline", KEY, "extra"],
        ["env", "--env-file", ".env", KEY[:-1]],  # one character short: still all but whole
    ],
    ids=lambda args: " ".join("KEY" if a.startswith("am_sk_") else a for a in args),
)
def test_a_key_in_any_usage_error_is_never_repeated(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    result = run_atmn(args, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    typed = next(a for a in args if a.startswith("am_sk_"))
    assert typed[11:] not in result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 2, result.stderr
