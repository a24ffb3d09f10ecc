"""`atmn --help` from the cache is byte for byte what click prints, and the cache is
rendered again whenever anything the page depends on changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from startup_helpers import run

import atmn_auth
from atmn_auth.cli import cli

SRC = Path(atmn_auth.__file__).resolve().parent


def clicks_page(columns: int) -> bytes:
    """What click's help option prints (`echo(ctx.get_help())`), rendered here afresh."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        ctx = click.Context(cli, info_name="atmn", **cli.context_settings)
        return (ctx.get_help() + "\n").encode()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "COLUMNS": "80",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    where = tmp_path / "work"
    where.mkdir()
    return where


def cache_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "atmn" / "help.txt"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_the_cached_page_is_clicks(flag: str, env: dict[str, str], cwd: Path) -> None:
    code, first, err, loaded = run([flag], cwd, env)
    assert (code, err, loaded) == (0, b"", True)  # a miss: click printed it
    assert cache_file(env).exists()
    assert cache_file(env).stat().st_mode & 0o777 == 0o600
    code, second, err, loaded = run([flag], cwd, env)
    assert (code, err, loaded) == (0, b"", False)  # a hit: click was not imported
    assert first == second == clicks_page(80)
    _, through_click, _, _ = run(["-p", "--help"], cwd, env)  # never cached
    assert second == through_click


def test_a_different_width_gives_a_different_layout(env: dict[str, str], cwd: Path) -> None:
    run(["--help"], cwd, env)
    _, wide, _, _ = run(["--help"], cwd, env)
    narrow_env = {**env, "COLUMNS": "52"}
    code, narrow, _, loaded = run(["--help"], cwd, narrow_env)
    assert (code, loaded) == (0, True)
    assert narrow != wide
    assert narrow == clicks_page(52)
    assert run(["--help"], cwd, narrow_env)[1:] == (narrow, b"", False)


def test_locale_variables_are_part_of_the_key(env: dict[str, str], cwd: Path) -> None:
    run(["--help"], cwd, env)
    assert run(["--help"], cwd, {**env, "LANGUAGE": "fr"})[3] is True


@pytest.fixture
def copied(tmp_path: Path, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A copy of atmn_auth, first on sys.path, that the test may edit."""
    root = tmp_path / "copy"
    shutil.copytree(SRC, root / "atmn_auth", ignore=shutil.ignore_patterns("__pycache__"))
    return root / "atmn_auth", {**env, "PYTHONPATH": str(root)}


def test_editing_a_stamped_file_renders_again(
    copied: tuple[Path, dict[str, str]], cwd: Path
) -> None:
    package, env = copied
    run(["--help"], cwd, env)
    assert str(package) in cache_file(env).read_text()  # the copy was the one stamped
    _, before, _, loaded = run(["--help"], cwd, env)
    assert not loaded

    init = package / "cli" / "__init__.py"
    text = init.read_text()
    init.write_text(
        text.replace("Sign in to Autumn and keep", "Sign in to Autumn (edited) and keep")
    )
    code, after, _, loaded = run(["--help"], cwd, env)
    assert (code, loaded) == (0, True)
    assert b"(edited)" in after and b"(edited)" not in before
    assert run(["--help"], cwd, env)[1:] == (after, b"", False)

    stat = init.stat()  # a touch alone (same size, new mtime) also renders again
    os.utime(init, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert run(["--help"], cwd, env)[1:] == (after, b"", True)


def test_an_unwritable_cache_still_prints_the_help(
    env: dict[str, str], cwd: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {**env, "XDG_CACHE_HOME": str(blocker)}
    for _ in range(2):
        code, out, err, loaded = run(["--help"], cwd, env)
        assert (code, out, err, loaded) == (0, clicks_page(80), b"", True)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"\xff\xfe garbage",
        lambda data: b"",
        lambda data: data[:-10],
        lambda data: data.replace(b"END ", b"END x"),
        lambda data: data + b"\x1b[31m",
    ],
    ids=["garbage", "empty", "truncated", "bad-end", "escape"],
)
def test_a_corrupt_cache_file_is_ignored(damage, env: dict[str, str], cwd: Path) -> None:  # type: ignore[no-untyped-def]
    run(["--help"], cwd, env)
    path = cache_file(env)
    path.write_bytes(damage(path.read_bytes()))
    code, out, err, loaded = run(["--help"], cwd, env)
    assert (code, out, err, loaded) == (0, clicks_page(80), b"", True)
    assert run(["--help"], cwd, env)[3] is False  # and it was rendered again


def test_shell_completion_skips_the_cache(env: dict[str, str], cwd: Path) -> None:
    run(["--help"], cwd, env)
    assert run(["--help"], cwd, {**env, "_ATMN_COMPLETE": "bash_source"})[3] is True


@pytest.mark.parametrize("warm", [False, True], ids=["miss", "hit"])
def test_a_closed_pipe_exits_1_quietly(warm: bool, env: dict[str, str], cwd: Path) -> None:
    if warm:
        run(["--help"], cwd, env)
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "atmn_auth", "--help"],
            cwd=cwd,
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (1, b"")
