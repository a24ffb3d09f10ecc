"""`atmn env` answered before click (`atmn_auth.__main__`) is the click command's answer:
the same flags, the same output bytes, the same exit code, offline and online."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from startup_helpers import run

from atmn_auth.__main__ import ENV_FLAGS, GROUP_FLAGS, env_flags
from atmn_auth.cli import cli
from atmn_auth.cli.env import env as env_command
from support.autumn_server import AutumnServer

SANDBOX = "am_sk_test_" + "a1" * 21
LIVE = "am_sk_live_" + "b2" * 21


def flag_params(command: click.Command) -> dict[str, click.Parameter]:
    found: dict[str, click.Parameter] = {}
    for param in command.params:
        for opt in (*param.opts, *param.secondary_opts):
            found[opt] = param
    return found


@pytest.mark.parametrize(
    ("command", "accepted"), [(cli, GROUP_FLAGS), (env_command, ENV_FLAGS)], ids=["atmn", "env"]
)
def test_the_quick_flags_are_clicks(command: click.Command, accepted: dict[str, str]) -> None:
    params = flag_params(command)
    for flag, name in accepted.items():
        param = params[flag]
        assert isinstance(param, click.Option)
        assert param.name == name and param.is_flag and not param.secondary_opts
        assert param.envvar is None and param.callback is None
        args = [flag, "env"] if command is cli else [flag]
        with command.make_context("atmn", args, resilient_parsing=True) as ctx:
            assert ctx.params[name] is True
            assert all(
                v is False for k, v in ctx.params.items() if k != name and k in accepted.values()
            )
    with command.make_context(
        "atmn", ["env"] if command is cli else [], resilient_parsing=True
    ) as ctx:
        assert all(ctx.params[name] is False for name in accepted.values())
    # the options that are not accepted are exactly the ones that change the answer
    left = {p.name for p in command.params if p.name not in accepted.values()}
    expected = (
        {"headless", "version"}
        if command is cli
        else {"sub_headless", "env_file", "timeout", "export", "export_format", "reveal"}
    )
    assert left == expected


@pytest.mark.parametrize(
    "args",
    [
        ["env", "--offline", "--env-file", ".env"],
        ["env", "--timeout", "1"],
        ["env", "--offline", "--timeout", "1"],
        ["--headless", "env", "--offline"],
        ["env", "--offline", "--headless"],
        ["-pl", "env", "--offline"],
        ["env", "--offline", "--"],
        ["env", "--offline", "--help"],
        ["login", "env", "--offline"],
        ["env", "env", "--offline"],
        ["--offline", "env"],
    ],
    ids=" ".join,
)
def test_other_command_lines_go_to_click(args: list[str]) -> None:
    assert env_flags(args) is None


Setup = Callable[[Path, dict[str, str]], None]


def both_keys(root: Path, env: dict[str, str]) -> None:
    (root / ".env").write_text(
        f"# app\nAUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n"
    )


def in_git(root: Path, env: dict[str, str]) -> None:
    both_keys(root, env)
    (root / ".gitignore").write_text(".env\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def not_ignored(root: Path, env: dict[str, str]) -> None:
    both_keys(root, env)
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def nothing(root: Path, env: dict[str, str]) -> None:
    pass


def malformed(root: Path, env: dict[str, str]) -> None:
    (root / ".env").write_text("AUTUMN_SECRET_KEY=not-a-key\nAUTUMN_PROD_SECRET_KEY=\n")


def wrong_kind(root: Path, env: dict[str, str]) -> None:
    (root / ".env").write_text(f"AUTUMN_SECRET_KEY={LIVE}\nAUTUMN_PROD_SECRET_KEY={SANDBOX}\n")


def shadowed(root: Path, env: dict[str, str]) -> None:
    both_keys(root, env)
    (root / ".env.local").write_text(f"AUTUMN_SECRET_KEY={LIVE}\n")
    env["AUTUMN_PROD_SECRET_KEY"] = SANDBOX
    env["AUTUMN_SECRET_KEY"] = ""


def quoted(root: Path, env: dict[str, str]) -> None:
    (root / ".env").write_text(f'AUTUMN_SECRET_KEY="{SANDBOX}" # quoted\nexport X=$HOME\n')


def directory(root: Path, env: dict[str, str]) -> None:
    (root / ".env").mkdir()


def bad_backend(root: Path, env: dict[str, str]) -> None:
    both_keys(root, env)
    env["ATMN_BACKEND_URL"] = "http://example.com"


def escape(root: Path, env: dict[str, str]) -> None:
    (root / ".env").write_text("AUTUMN_SECRET_KEY=\x1b[31mred-and-long-enough\n")


def unicode(root: Path, env: dict[str, str]) -> None:
    (root / ".env").write_text("AUTUMN_SECRET_KEY=clé-é-ü-∑-not-a-key\n")


SETUPS: list[Setup] = [
    in_git,
    not_ignored,
    nothing,
    malformed,
    wrong_kind,
    shadowed,
    quoted,
    directory,
    bad_backend,
    escape,
    unicode,
]
ARGS = [
    ["env", "--offline"],
    ["-p", "env", "--offline", "--json"],
    ["-l", "env", "--json", "--offline", "-p"],
    ["--local", "env", "--offline", "--prod", "--offline"],
]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("args", ARGS, ids=" ".join)
@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s.__name__)
def test_both_paths_answer_alike(setup: Setup, args: list[str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    setup(project, env)
    quick = run(args, project, env, mode="main")
    slow = run(args, project, env, mode="click")
    assert quick[:3] == slow[:3]
    assert slow[3] is True
    # the quick path answered without click: a key holding an escape sequence is shown
    # redacted with `?` for it, so no escape sequence is left for click to strip
    assert quick[3] is False
    assert quick[1] or quick[2]


ONLINE_ARGS = [["env"], ["env", "--json"], ["-p", "env"], ["env", "-l", "--json"]]


@pytest.mark.parametrize("args", ONLINE_ARGS, ids=" ".join)
@pytest.mark.parametrize("case", ["accepted", "rejected", "unset", "unreachable"])
def test_online_both_paths_answer_alike(
    autumn_server: AutumnServer, case: str, args: list[str], tmp_path: Path
) -> None:
    """Without a person at a terminal (how scripts and CI run it), `atmn env` asks the
    server without click, and says exactly what the click command says."""
    project = tmp_path / "project"
    project.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["ATMN_BACKEND_URL"] = "http://127.0.0.1:9" if case == "unreachable" else autumn_server.url
    kind = "live" if "-p" in args else "sandbox"
    if case in ("accepted", "unreachable"):
        key = autumn_server.create_key(env=kind, name="ci")["key"]
    else:
        key = ("am_sk_live_" if kind == "live" else "am_sk_test_") + "Zz9" * 14
    if case != "unset":
        var = "AUTUMN_PROD_SECRET_KEY" if kind == "live" else "AUTUMN_SECRET_KEY"
        (project / ".env").write_text(f"{var}={key}\n")
    quick = run(args, project, env, mode="main")
    slow = run(args, project, env, mode="click")
    assert quick[:3] == slow[:3]
    assert quick[3] is False and slow[3] is True
    assert quick[0] == (0 if case == "accepted" else 1)
