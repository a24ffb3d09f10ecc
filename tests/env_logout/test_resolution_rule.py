"""The key-resolution rule on real directory trees, and the git-ignore check on a real repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from env_logout_helpers import settings_for, write_env

from atmn_auth.commands.env import run_env
from atmn_auth.commands.invocation import Invocation
from atmn_auth.envfiles.gitignore import is_git_ignored
from atmn_auth.envfiles.resolution import Definition, resolve_key
from atmn_auth.envfiles.trust import Skipped
from atmn_auth.term.console import Console

SK_A = "am_sk_test_" + "A" * 42
SK_B = "am_sk_test_" + "B" * 42
VAR = "AUTUMN_SECRET_KEY"


def test_environment_wins_even_when_empty(tmp_path: Path) -> None:
    dotenv = write_env(tmp_path, f"{VAR}={SK_A}\n")
    res = resolve_key(VAR, cwd=tmp_path, environ={VAR: ""})
    assert res.winner == Definition("environment", None, "")
    assert res.value == ""
    assert res.definitions == [res.winner, Definition("dotenv", dotenv, SK_A)]


def test_only_the_nearest_env_is_read(tmp_path: Path) -> None:
    write_env(tmp_path, f"{VAR}={SK_A}\n")
    project = tmp_path / "project"
    nearest = write_env(project, "OTHER=1\n")
    res = resolve_key(VAR, cwd=project, environ={})
    assert res.winner is None and res.value is None
    assert res.definitions == [Definition("dotenv", tmp_path / ".env", SK_A)]
    assert res.env_file == nearest


def test_env_local_wins_over_the_env_beside_it(tmp_path: Path) -> None:
    """The official CLI (and Next.js, Vite) read `.env.local` before `.env`."""
    dotenv = write_env(tmp_path, f"{VAR}={SK_A}\n")
    (tmp_path / ".env.local").write_text(f"{VAR}={SK_B}\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    res = resolve_key(VAR, cwd=sub, environ={})
    assert res.winner == Definition("env.local", tmp_path / ".env.local", SK_B)
    assert res.definitions == [res.winner, Definition("dotenv", dotenv, SK_A)]
    assert res.env_file == dotenv


def test_the_process_environment_wins_over_env_local(tmp_path: Path) -> None:
    write_env(tmp_path, f"{VAR}={SK_A}\n")
    (tmp_path / ".env.local").write_text(f"{VAR}={SK_B}\n")
    res = resolve_key(VAR, cwd=tmp_path, environ={VAR: SK_A})
    assert res.winner == Definition("environment", None, SK_A)


def test_an_env_local_without_the_variable_leaves_the_env(tmp_path: Path) -> None:
    dotenv = write_env(tmp_path, f"{VAR}={SK_A}\n")
    (tmp_path / ".env.local").write_text("OTHER=1\n")
    res = resolve_key(VAR, cwd=tmp_path, environ={})
    assert res.winner == Definition("dotenv", dotenv, SK_A)


def test_no_env_anywhere_writes_beside_cwd(tmp_path: Path) -> None:
    outside = [d for d in tmp_path.parents if (d / ".env").exists()]
    res = resolve_key(VAR, cwd=tmp_path, environ={})
    assert res.env_file == (outside[0] / ".env" if outside else tmp_path / ".env")


def test_repr_never_shows_a_key(tmp_path: Path) -> None:
    write_env(tmp_path, f"{VAR}={SK_A}\n")
    res = resolve_key(VAR, cwd=tmp_path, environ={VAR: SK_B})
    assert SK_A not in repr(res) and SK_B not in repr(res)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_ignore_check_and_env_warning(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    dotenv = write_env(repo, f"{VAR}={SK_A}\n")
    assert is_git_ignored(dotenv) is False

    out: list[str] = []
    offline = Invocation(
        settings_for("http://127.0.0.1:9"),
        cwd=repo,
        environ={},
        console=Console(out=out.append),
        offline=True,
    )
    code = run_env(offline, as_json=True)
    warnings = json.loads("\n".join(out))["warnings"]
    assert code == 0
    assert warnings == [
        f"{dotenv} is not ignored by git: add `.env` to .gitignore so the key is never committed."
    ]

    (repo / ".gitignore").write_text(".env\n")
    assert is_git_ignored(dotenv) is True
    out.clear()
    run_env(offline)
    assert not any("Warning" in line for line in out)


def test_git_ignore_check_outside_a_repo_or_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    if shutil.which("git"):
        assert is_git_ignored(plain / ".env") is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert is_git_ignored(plain / ".env") is None


# ---------------------------------------------------------------------------- whose .env


@pytest.fixture
def warnings_said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the search warns about, one line each (by default they go to stderr)."""
    from atmn_auth.envfiles import trust

    said: list[str] = []
    monkeypatch.setattr(trust, "warn", said.append)
    monkeypatch.setattr(trust, "_warned", set())
    return said


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another uid (CI is root)")
def test_a_env_another_user_owns_is_skipped_by_the_rule(
    tmp_path: Path, warnings_said: list[str]
) -> None:
    planted = write_env(tmp_path, f"{VAR}={SK_A}\n")
    os.chown(planted, 12345, 12345)
    project = tmp_path / "project"
    project.mkdir()

    res = resolve_key(VAR, cwd=project, environ={})
    assert res.winner is None and res.definitions == []  # not even listed as "farther"
    assert res.env_file == project / ".env"  # where login would write: not the plant
    assert res.skipped == (Skipped(planted, "it belongs to uid 12345"),)
    assert warnings_said == [
        f"skipped {planted}: it belongs to uid 12345, not to you or root, so its keys are "
        "not trusted and none are written to it; if you trust it: export "
        f"ATMN_SAFE_DIRECTORIES={tmp_path}; else remove it or take it over (chown) if it "
        "is yours."
    ]
    resolve_key(VAR, cwd=project, environ={})
    assert len(warnings_said) == 1  # once per process

    # AutumnClient resolves its key by the same rule
    from atmn_auth.client import resolve_key_source
    from atmn_auth.errors import MissingKeyError

    with pytest.raises(MissingKeyError):
        resolve_key_source(settings_for("http://127.0.0.1:9"), cwd=project, environ={})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another uid (CI is root)")
def test_who_is_trusted_comes_from_the_environ_passed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_said: list[str]
) -> None:
    """`ATMN_SAFE_DIRECTORIES` and `SUDO_UID` are read from the `environ` given to the rule
    (the CLI's, or `AutumnClient(environ=...)`'s), not from this process's own."""
    planted = write_env(tmp_path, f"{VAR}={SK_A}\n")
    os.chown(planted, 12345, 12345)
    monkeypatch.setenv("ATMN_SAFE_DIRECTORIES", "*")
    monkeypatch.setenv("SUDO_UID", "12345")
    assert resolve_key(VAR, cwd=tmp_path, environ={}).winner is None

    for environ in ({"ATMN_SAFE_DIRECTORIES": str(tmp_path)}, {"SUDO_UID": "12345"}):
        res = resolve_key(VAR, cwd=tmp_path, environ=environ)
        assert (res.winner, res.skipped) == (Definition("dotenv", planted, SK_A), ())

    # AutumnClient resolves its key by the same rule, with its own environ
    from atmn_auth.client import resolve_key_source

    settings = settings_for("http://127.0.0.1:9")
    trusting = {"ATMN_SAFE_DIRECTORIES": f"relative/dir{os.pathsep}{tmp_path}"}
    source = resolve_key_source(settings, cwd=tmp_path, environ=trusting)
    assert (source.key, source.path) == (SK_A, planted)
    assert warnings_said == [  # once each: the plant, the entry that cannot count
        f"skipped {planted}: it belongs to uid 12345, not to you or root, so its keys are "
        "not trusted and none are written to it; if you trust it: export "
        f"ATMN_SAFE_DIRECTORIES={tmp_path}; else remove it or take it over (chown) if it "
        "is yours.",
        "ATMN_SAFE_DIRECTORIES: ignored 'relative/dir', not an absolute path.",
    ]


def test_the_rule_reads_only_the_keys_and_as_python_dotenv_does(tmp_path: Path) -> None:
    """A quoted value spanning lines hides a key-like line; the real one comes after."""
    dotenv = write_env(
        tmp_path,
        f'NOTE="copy this:\n{VAR}={SK_B}\n"\n# it\'s here:\nexport {VAR} = "{SK_A}" # ok\n',
    )
    res = resolve_key(VAR, cwd=tmp_path, environ={})
    assert res.winner == Definition("dotenv", dotenv, SK_A)
    assert dotenv_values(dotenv)[VAR] == SK_A
