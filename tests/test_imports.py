"""The quick commands stay quick: they never load the network, OAuth or prompt libraries.

Each command runs in a fresh interpreter through the console script's entry point
(`atmn_auth.__main__:main`); the names in `sys.modules` afterwards are checked (module
names, not the clock: timings live in bench/).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from atmn_auth import __version__
from atmn_auth.cli import COMMANDS, cli

HEAVY = ("authlib", "questionary", "httpx2")
SANDBOX = "am_sk_test_" + "a1" * 21
LIVE = "am_sk_live_" + "b2" * 21

PROBE = """
import json, sys
out_path, args = sys.argv[1], sys.argv[2:]
sys.argv = ["atmn", *args]
code = 0
try:
    from atmn_auth.__main__ import main
    main()
except SystemExit as exc:
    code = exc.code
with open(out_path, "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def run_atmn(args: list[str], cwd: Path) -> tuple[int, set[str], str]:
    """Exit code, top-level names of every module loaded, and stdout."""
    out = cwd.parent / f"modules-{cwd.name}.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"},
    )
    assert out.exists(), result.stderr
    data = json.loads(out.read_text())
    return data["code"], {name.split(".")[0] for name in data["modules"]}, result.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    where = tmp_path / "project"
    where.mkdir()
    (where / ".env").write_text(f"AUTUMN_SECRET_KEY={SANDBOX}\nAUTUMN_PROD_SECRET_KEY={LIVE}\n")
    return where


@pytest.mark.parametrize(
    "args",
    [["--version"], ["-V"], ["--help"], ["env", "--offline"], ["-p", "env", "--offline"]],
    ids=" ".join,
)
def test_quick_commands_do_not_load_heavy_libraries(args: list[str], project: Path) -> None:
    code, loaded, _ = run_atmn(args, project)
    assert code in (0, None)
    assert sorted(loaded & set(HEAVY)) == []


def test_version_is_answered_without_click(project: Path) -> None:
    code, loaded, stdout = run_atmn(["--version"], project)
    assert code in (0, None)
    assert stdout == f"atmn, version {__version__}\n"
    assert "click" not in loaded
    assert "typing" not in loaded


def test_version_matches_what_click_prints(project: Path) -> None:
    """The quick answer and click's (`atmn -p --version` goes through click) agree."""
    _, _, fast_out = run_atmn(["--version"], project)
    _, _, click_out = run_atmn(["-p", "--version"], project)
    assert fast_out == click_out


@pytest.mark.parametrize("cache", ["miss", "hit"])
def test_help_lists_every_command_without_importing_them(cache: str, project: Path) -> None:
    if cache == "hit":
        run_atmn(["--help"], project)  # fills the help cache (under $HOME/.cache)
    code, loaded, stdout = run_atmn(["--help"], project)
    assert code == 0
    probe = project.parent / f"modules-{project.name}.json"
    modules = set(json.loads(probe.read_text())["modules"])
    commands = {m for m in modules if m.startswith("atmn_auth.cli.")}
    assert not commands  # the cache (atmn_auth.helpcache) answers, not a command
    assert ("click" in loaded) is (cache == "miss")  # a hit is answered without click
    for name in ("env", "login", "logout"):
        assert f"\n  {name} " in stdout


def test_env_offline_is_answered_without_click(project: Path) -> None:
    code, loaded, stdout = run_atmn(["env", "--offline"], project)
    assert code == 0
    assert "click" not in loaded
    assert "dataclasses" not in loaded and "dotenv" not in loaded
    assert "Format:       ok: sandbox key" in stdout


def test_help_summaries_match_the_commands() -> None:
    """The summaries kept for --help are the commands' own first help paragraphs."""
    ctx = click.Context(cli, info_name="atmn")
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.help is not None
        first_paragraph = " ".join(command.help.split("\n\n")[0].split())
        assert COMMANDS[name].summary == first_paragraph
