""".env files other users control are not trusted (git's safe.directory, CVE-2022-24765):
the search skips them with a warning naming them, and no key is written into them, unless
their directory is listed in ATMN_SAFE_DIRECTORIES (a project another uid owns on purpose:
a bind mount in a root container, a shared checkout).

Another user is uid 12345: the tests chown files to it, which needs root (CI runs as
root); without root they cannot be set up and are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.atmn_cli import ATMN, clean_env
from support.dirs import reachable_dir

OTHER = 12345
SK_PLANTED = "am_sk_test_" + "P1" * 21
SK_MINE = "am_sk_test_" + "M2" * 21

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to chown files to another uid (CI runs as root)"
)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A shared sticky directory like /tmp (root's, 1777), outside pytest's tmp_path."""
    with reachable_dir("atmn-shared-", 0o1777) as path:
        yield path


def atmn(
    args: list[str], cwd: Path, home: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATMN, *args],
        cwd=cwd,
        env=clean_env(home, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def plant(directory: Path, *, uid: int = OTHER, mode: int = 0o644) -> Path:
    planted = directory / ".env"
    planted.write_text(f"AUTUMN_SECRET_KEY={SK_PLANTED}\n")
    planted.chmod(mode)
    os.chown(planted, uid, uid)
    return planted


def test_a_env_planted_above_by_another_user_is_skipped_and_named(
    shared: Path, tmp_path: Path
) -> None:
    planted = plant(shared)
    project = shared / "project"
    project.mkdir()
    result = atmn(["env", "--offline"], project, tmp_path)
    assert result.returncode == 1, result.stdout
    # the report is atmn env's result: its warnings are in it, on stdout
    assert f"! Warning: skipped {planted}: it belongs to uid {OTHER}" in result.stdout
    assert result.stderr == ""
    assert "is not set in the process environment nor in" in result.stdout
    assert SK_PLANTED[-4:] not in result.stdout  # the planted key is not the one in force
    # a sticky /tmp-like directory: trusting it would trust whoever plants a file there
    assert "ATMN_SAFE_DIRECTORIES" not in result.stdout
    # the project's own .env is where login writes, and it would: that is the next step
    assert result.stdout.splitlines()[-1] == (
        f"Next: run `atmn login` to write new keys to {project / '.env'}"
    )

    # a .env of your own beside it is used; the planted one is no definition, a warning
    (project / ".env").write_text(f"AUTUMN_SECRET_KEY={SK_MINE}\n")
    result = atmn(["env", "--offline", "--json"], project, tmp_path)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert [d["path"] for d in report["definitions"]] == [str(project / ".env")]
    assert [w for w in report["warnings"] if str(planted) in w] == [
        f"skipped {planted}: it belongs to uid {OTHER}, not to you or root, so its keys are "
        "not trusted and none are written to it; remove it or take it over (chown) if it "
        "is yours."
    ]


def test_a_env_in_a_directory_another_user_owns_is_skipped(shared: Path, tmp_path: Path) -> None:
    theirs = shared / "theirs"
    theirs.mkdir()
    os.chown(theirs, OTHER, OTHER)
    mine = plant(theirs, uid=0, mode=0o600)  # your own file, but they can swap it at will
    project = theirs / "project"
    project.mkdir()
    result = atmn(["env", "--offline"], project, tmp_path)
    assert result.returncode == 1
    assert f"skipped {mine}: its directory {theirs} belongs to uid {OTHER}" in result.stdout


def test_login_writes_no_key_into_another_users_world_writable_directory(
    shared: Path, tmp_path: Path
) -> None:
    """Their directory, their 0666 `.env`: the key would be readable by anyone."""
    theirs = shared / "theirs"
    theirs.mkdir()
    theirs.chmod(0o777)
    os.chown(theirs, OTHER, OTHER)
    planted = plant(theirs, mode=0o666)
    before = planted.read_bytes()
    result = atmn(["login", "--with-key", "--offline"], theirs, tmp_path, stdin=SK_MINE + "\n")
    assert result.returncode == 1
    assert result.stderr.startswith(f"! Warning: skipped {planted}")
    assert result.stderr.splitlines()[-1] == (
        f"atmn: error: {theirs} belongs to uid {OTHER}, not to you: whoever owns a directory "
        f"can replace the files in it, so no keys are written to {planted}; use a directory "
        "of your own (or --env-file)"
    )  # anyone may write there: trusting it (ATMN_SAFE_DIRECTORIES) is not suggested
    assert planted.read_bytes() == before
    assert sorted(p.name for p in theirs.iterdir()) == [".env"]


def test_login_writes_no_key_into_a_file_another_user_owns(shared: Path, tmp_path: Path) -> None:
    project = shared / "project"
    project.mkdir()
    theirs = plant(project, mode=0o600)
    result = atmn(
        ["login", "--with-key", "--offline", "--env-file", str(theirs)],
        project,
        tmp_path,
        stdin=SK_MINE + "\n",
    )
    assert result.returncode == 1
    assert f"{theirs} belongs to uid {OTHER}, not to you" in result.stderr
    assert theirs.read_text() == f"AUTUMN_SECRET_KEY={SK_PLANTED}\n"


def test_under_sudo_the_invoking_users_files_are_trusted(shared: Path, tmp_path: Path) -> None:
    planted = plant(shared, mode=0o600)
    project = shared / "project"
    project.mkdir()
    env = clean_env(tmp_path, SUDO_UID=str(OTHER))
    result = subprocess.run(
        [ATMN, "env", "--offline"], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert f"From:         {planted}" in result.stdout


# ---------------------------------------------------------------------------- on purpose


@pytest.fixture
def theirs(shared: Path) -> Path:
    """A project another uid owns on purpose, as a bind mount in a root container (files
    of uid 1000, `atmn` run as root): their directory (0755) and their private `.env`."""
    project = shared / "workspace"
    project.mkdir()
    os.chown(project, OTHER, OTHER)
    plant(project, mode=0o600)
    return project


def test_env_says_the_nearest_env_was_skipped_and_how_to_trust_it(
    theirs: Path, tmp_path: Path
) -> None:
    """Not `run atmn login to write new keys to …/.env`: login refuses that file."""
    env_file = theirs / ".env"
    result = atmn(["env", "--offline"], theirs, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"Next: {env_file} was skipped: its directory {theirs} belongs to uid {OTHER}; "
        f"if you trust it: export ATMN_SAFE_DIRECTORIES={theirs}"
    )
    assert "atmn login" not in result.stdout

    report = json.loads(atmn(["env", "--offline", "--json"], theirs, tmp_path).stdout)
    assert report["next_step"] == result.stdout.splitlines()[-1].removeprefix("Next: ")
    assert report["warnings"] == [
        f"skipped {env_file}: its directory {theirs} belongs to uid {OTHER}, not to you or "
        "root, so its keys are not trusted and none are written to it; if you trust it: "
        f"export ATMN_SAFE_DIRECTORIES={theirs}; else remove it or take it over (chown) if "
        "it is yours."
    ]

    # login refuses it, saying how to trust it; the file is left as it was
    result = atmn(["login", "--with-key", "--offline"], theirs, tmp_path, stdin=SK_MINE + "\n")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"atmn: error: {theirs} belongs to uid {OTHER}, not to you: whoever owns a directory "
        f"can replace the files in it, so no keys are written to {env_file}; if you trust "
        f"it: export ATMN_SAFE_DIRECTORIES={theirs}; else use a directory of your own (or "
        "--env-file)"
    )
    assert env_file.read_text() == f"AUTUMN_SECRET_KEY={SK_PLANTED}\n"


def test_following_the_advice_reads_and_writes_that_env_and_it_stays_theirs(
    theirs: Path, tmp_path: Path
) -> None:
    env_file = theirs / ".env"
    elsewhere = tmp_path / "mine"
    trusted = {"ATMN_SAFE_DIRECTORIES": f"{elsewhere}{os.pathsep}{theirs}/"}
    result = atmn(["env", "--offline"], theirs, tmp_path, **trusted)
    assert result.returncode == 0, result.stdout
    assert f"From:         {env_file}" in result.stdout
    assert result.stderr == "" and "Warning" not in result.stdout

    result = atmn(
        ["login", "--with-key", "--offline"], theirs, tmp_path, stdin=SK_MINE + "\n", **trusted
    )
    assert result.returncode == 0, result.stderr
    assert env_file.read_text() == f"AUTUMN_SECRET_KEY={SK_MINE}\n"
    st = env_file.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (OTHER, 0o600)  # still theirs, still private


def test_a_safe_directory_is_that_directory_only_and_star_is_every_one(
    theirs: Path, tmp_path: Path
) -> None:
    below = theirs / "app"
    below.mkdir()
    os.chown(below, OTHER, OTHER)
    planted = plant(below, mode=0o600)
    listed = {"ATMN_SAFE_DIRECTORIES": str(theirs)}
    result = atmn(["env", "--offline", "--json"], below, tmp_path, **listed)
    report = json.loads(result.stdout)
    assert report["path"] == str(theirs / ".env")  # the listed one; not the one below it
    assert report["warnings"][0].startswith(f"skipped {planted}: its directory {below}")
    assert report["next_step"] is None

    result = atmn(["env", "--offline", "--json"], below, tmp_path, ATMN_SAFE_DIRECTORIES="*")
    report = json.loads(result.stdout)
    assert (report["path"], report["warnings"]) == (str(planted), [])


def test_env_in_another_users_project_without_a_env_sends_nobody_to_login(
    shared: Path, tmp_path: Path
) -> None:
    project = shared / "checkout"
    project.mkdir()
    os.chown(project, OTHER, OTHER)
    result = atmn(["env", "--offline"], project, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"Next: {project} belongs to uid {OTHER}, not to you, so `atmn login` writes no keys "
        f"there; if you trust it: export ATMN_SAFE_DIRECTORIES={project}"
    )


def test_a_skipped_env_nearer_than_the_one_login_writes_is_named_in_the_next_step(
    theirs: Path, tmp_path: Path
) -> None:
    """Login would write the farther `.env` (yours): the next step says so, and how to
    trust the nearer one instead."""
    mine = theirs.parent / ".env"  # the shared directory is root's: yours here
    mine.write_text("OTHER=1\n")
    result = atmn(["env", "--offline"], theirs, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"Next: run `atmn login` to write new keys to {mine}; or, if you trust "
        f"{theirs / '.env'} (its directory {theirs} belongs to uid {OTHER}): "
        f"export ATMN_SAFE_DIRECTORIES={theirs}"
    )
