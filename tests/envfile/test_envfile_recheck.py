"""The file written is the file checked. In a project directory other users can write
(0777, or 2775 with a shared group), another user may replace `.env` while the person is
in the browser: with their own world-readable file, or a symlink to one. The writer looks
again under its lock (`envfiles.privacy.recheck`) and writes no key there.

Another user is uid 12345: the tests chown files to it, which needs root (CI runs as
root); without root they cannot be set up and are skipped, saying so.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles import trust
from atmn_auth.envfiles.privacy import snapshot
from atmn_auth.envfiles.writer import update_env_file
from atmn_auth.errors import EnvFileError
from support.atmn_cli import clean_env, run_atmn
from support.autumn_server import AutumnServer
from support.dirs import reachable_dir
from support.scripted_browser import browser_env

OTHER = 12345
KEY = "am_sk_test_" + "R7" * 21
THEIRS = "THEIRS=1\n"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to chown files to another uid (CI runs as root)"
)


@pytest.fixture
def project() -> Iterator[Path]:
    """A project of yours that anyone may write into (0777, no sticky bit)."""
    with reachable_dir("atmn-open-", 0o777) as path:
        yield path


@pytest.fixture
def attacker() -> Iterator[Path]:
    """A directory of the other user's, for the file they point a symlink at."""
    with reachable_dir("atmn-theirs-", 0o755) as path:
        os.chown(path, OTHER, OTHER)
        yield path


def theirs(path: Path) -> Path:
    """A world-readable and -writable file of the other user's at `path`."""
    path.write_text(THEIRS)
    path.chmod(0o666)
    os.chown(path, OTHER, OTHER)
    return path


def mine(path: Path, mode: int = 0o600) -> Path:
    path.write_text("APP=1\n")
    path.chmod(mode)
    return path


def write_key(env_file: Path, checked: object) -> None:
    update_env_file(env_file, set_values={"AUTUMN_SECRET_KEY": KEY}, checked=checked)  # type: ignore[arg-type]


def test_a_file_swapped_in_by_another_user_gets_no_key(project: Path) -> None:
    env_file = mine(project / ".env")
    checked = snapshot(env_file, trust.policy({}))
    env_file.unlink()
    theirs(env_file)  # what they can do: the directory is 0777
    with pytest.raises(EnvFileError, match=r"uid 12345.*; no keys were written to it"):
        write_key(env_file, checked)
    assert env_file.read_text() == THEIRS
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o666  # left as it is, keyless


def test_a_symlink_swapped_in_gets_no_key(project: Path, attacker: Path) -> None:
    env_file = mine(project / ".env")
    checked = snapshot(env_file, trust.policy({}))
    target = theirs(attacker / "collect")
    env_file.unlink()
    env_file.symlink_to(target)
    with pytest.raises(EnvFileError, match="no keys were written to it"):
        write_key(env_file, checked)
    assert target.read_text() == THEIRS
    assert not any(p.name.endswith(".tmp") for p in attacker.iterdir())


def test_a_file_planted_where_there_was_none_gets_no_key(project: Path) -> None:
    env_file = project / ".env"
    checked = snapshot(env_file, trust.policy({}))
    theirs(env_file)
    with pytest.raises(EnvFileError, match="was created by"):
        write_key(env_file, checked)
    assert env_file.read_text() == THEIRS


def test_a_file_your_own_atmn_rewrote_meanwhile_is_still_written(project: Path) -> None:
    """Another atmn of yours replaced it atomically (a new inode, yours, private)."""
    env_file = mine(project / ".env")
    checked = snapshot(env_file, trust.policy({}))
    update_env_file(env_file, set_values={"OTHER": "1"})  # a new file, renamed over it
    write_key(env_file, checked)
    assert dotenv_values(env_file) == {"APP": "1", "OTHER": "1", "AUTUMN_SECRET_KEY": KEY}


def test_the_mode_is_never_wider_than_the_checked_one(project: Path) -> None:
    env_file = mine(project / ".env", 0o600)
    checked = snapshot(env_file, trust.policy({}))
    env_file.chmod(0o640)  # group-readable: allowed, but wider than what was checked
    write_key(env_file, checked)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_a_file_made_readable_by_anyone_meanwhile_gets_no_key(project: Path) -> None:
    env_file = mine(project / ".env")
    checked = snapshot(env_file, trust.policy({}))
    env_file.chmod(0o644)
    with pytest.raises(EnvFileError, match="anyone can read it"):
        write_key(env_file, checked)
    assert "AUTUMN_SECRET_KEY" not in env_file.read_text()


SWAP = """\
import os, subprocess, sys
env_file = os.environ["SWAP_ENV_FILE"]
os.unlink(env_file)
with open(env_file, "w") as planted:
    planted.write("THEIRS=1\\n")
os.chmod(env_file, 0o666)
os.chown(env_file, 12345, 12345)
sys.exit(subprocess.call([sys.executable, os.environ["SCRIPTED_BROWSER"], sys.argv[1]]))
"""


def test_login_writes_no_key_into_a_env_swapped_while_in_the_browser(
    project: Path, autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """End to end: the browser step is where the minutes go; the swap happens there."""
    env_file = mine(project / ".env")
    swapper = tmp_path / "swap_then_browse.py"
    swapper.write_text(SWAP)
    browser = browser_env(autumn_server)
    scripted = browser["BROWSER"].split(" ", 1)[1].rsplit(" ", 1)[0].strip("'")
    env = clean_env(
        tmp_path,
        ATMN_BACKEND_URL=autumn_server.url,
        **{**browser, "BROWSER": f"{sys.executable} {swapper} %s"},
        SWAP_ENV_FILE=str(env_file),
        SCRIPTED_BROWSER=scripted,
    )
    result = run_atmn(["login", "--org", "acme"], cwd=project, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{project} can be written by anyone" in result.stderr  # said before the sign-in
    error = result.stderr.strip().splitlines()[-1]
    assert "no keys were written to it" in error and "were revoked" in error, error
    assert env_file.read_text() == THEIRS
    assert autumn_server.stats()["key_pairs_minted"] == 1
