""".env files other users control are not trusted (git's safe.directory, CVE-2022-24765):
the search skips them with a warning naming them, and no key is written into them.

Another user is uid 12345: the tests chown files to it, which needs root (CI runs as
root); without root they cannot be set up and are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.atmn_cli import ATMN, clean_env

OTHER = 12345
SK_PLANTED = "am_sk_test_" + "P1" * 21
SK_MINE = "am_sk_test_" + "M2" * 21

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to chown files to another uid (CI runs as root)"
)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A shared sticky directory like /tmp (root's, 1777), outside pytest's tmp_path."""
    path = Path(tempfile.mkdtemp(prefix="atmn-shared-"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def atmn(
    args: list[str], cwd: Path, home: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATMN, *args],
        cwd=cwd,
        env=clean_env(home),
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
    assert f"skipped {planted}: it belongs to uid {OTHER}" in result.stderr
    assert "is not set in the process environment nor in" in result.stdout
    assert SK_PLANTED[-4:] not in result.stdout  # the planted key is not the one in force

    # a .env of your own beside it is used, and the planted one is not listed at all
    (project / ".env").write_text(f"AUTUMN_SECRET_KEY={SK_MINE}\n")
    result = atmn(["env", "--offline", "--json"], project, tmp_path)
    assert result.returncode == 0
    assert str(planted) not in result.stdout and str(planted) in result.stderr


def test_a_env_in_a_directory_another_user_owns_is_skipped(shared: Path, tmp_path: Path) -> None:
    theirs = shared / "theirs"
    theirs.mkdir()
    os.chown(theirs, OTHER, OTHER)
    mine = plant(theirs, uid=0, mode=0o600)  # your own file, but they can swap it at will
    project = theirs / "project"
    project.mkdir()
    result = atmn(["env", "--offline"], project, tmp_path)
    assert result.returncode == 1
    assert f"skipped {mine}: its directory {theirs} belongs to uid {OTHER}" in result.stderr


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
        f"can replace the files in it; refusing to write keys to {planted} (use a directory "
        "of your own, or --env-file)"
    )
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
