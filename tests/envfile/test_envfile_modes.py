"""Modes: keys go only into a private `.env` (login refuses, or on a terminal offers
`chmod 600`), and a temporary file is 0600 until it becomes the file."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
from pathlib import Path

import pexpect
import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles.writer import update_env_file
from support.atmn_cli import ATMN, clean_env

SK = "am_sk_test_" + "Ab3" * 14
OLD = "am_sk_test_" + "Zz9" * 14


def with_key(project: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATMN, "login", "--with-key", "--offline", *extra],
        cwd=project,
        env=clean_env(home),
        input=SK + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        (0o644, "anyone can read it"),
        (0o664, "its group can change it and anyone can read it"),
        (0o620, "its group can change it"),
        (0o666, "anyone can change it and anyone can read it"),
    ],
)
def test_login_without_a_terminal_refuses_a_file_others_can_read_or_write(
    tmp_path: Path, mode: int, why: str
) -> None:
    env = tmp_path / ".env"
    env.write_text(f"A=1\nAUTUMN_SECRET_KEY={OLD}\n")
    env.chmod(mode)
    result = with_key(tmp_path, tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"atmn: error: {env} is mode {mode:04o}: {why}; refusing to write keys into it. "
        f"Make it private first: chmod 600 {env}\n"
    )
    assert env.read_text() == f"A=1\nAUTUMN_SECRET_KEY={OLD}\n" and mode_of(env) == mode


def test_a_private_or_group_readable_file_is_written(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    for mode in (0o600, 0o640):
        env.write_text("A=1\n")
        env.chmod(mode)
        result = with_key(tmp_path, tmp_path)
        assert result.returncode == 0, result.stderr
        assert dotenv_values(env)["AUTUMN_SECRET_KEY"] == SK and mode_of(env) == mode


def test_a_new_file_is_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        result = with_key(tmp_path, tmp_path)
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert mode_of(tmp_path / ".env") == 0o600


def _spawn(project: Path, home: Path) -> pexpect.spawn:
    env = dict(clean_env(home), TERM="xterm", COLUMNS="200")
    child = pexpect.spawn(
        ATMN,
        ["login", "--with-key", "--offline"],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    child.expect("input hidden")
    child.sendline(SK)
    child.expect("anyone can read it, so keys written there would not be private")
    child.expect(r"Make it private \(chmod 600\)\?")
    return child


def test_on_a_terminal_login_offers_chmod_600_and_then_writes(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    env.chmod(0o644)
    child = _spawn(tmp_path, tmp_path)
    child.send("y")
    child.expect("is now 0600")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert mode_of(env) == 0o600
    assert dotenv_values(env) == {"A": "1", "AUTUMN_SECRET_KEY": SK}


def test_on_a_terminal_no_leaves_the_file_alone(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    env.chmod(0o644)
    child = _spawn(tmp_path, tmp_path)
    child.send("n")
    child.expect(pexpect.EOF)
    child.close()
    said = " ".join(str(child.before).split())  # the terminal wraps the line
    assert f"nothing was written. Make it private first: chmod 600 {env}" in said
    assert child.exitstatus == 1
    assert mode_of(env) == 0o644 and env.read_text() == "A=1\n"


def test_a_writer_killed_while_writing_leaves_a_private_temporary_file(tmp_path: Path) -> None:
    """The file is 0644 (someone chose so); the writer is killed by the kernel (SIGXFSZ)
    halfway through its temporary file, which holds the keys: only its owner can read it,
    and the next write deletes it."""
    env = tmp_path / ".env"
    env.write_text("# padding\n" + "X=" + "x" * 200_000 + "\n")
    env.chmod(0o644)
    before = env.read_bytes()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies in the write
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it by default
            resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
            update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXFSZ
    left = [p for p in tmp_path.iterdir() if p.name != ".env"]
    assert len(left) == 1 and left[0].name.startswith("..env.")
    assert mode_of(left[0]) == 0o600 and left[0].stat().st_size == 100_000
    assert env.read_bytes() == before and mode_of(env) == 0o644

    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert [p.name for p in tmp_path.iterdir()] == [".env"]
    assert mode_of(env) == 0o644  # the file keeps its own mode
