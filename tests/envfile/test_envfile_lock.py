"""One lock per project directory, shared by every user and process: writers from two
users (or `sudo`, or a container, each with its own cache directory) take turns, none
fails, and no lock file appears in the project."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles.writer import update_env_file

OTHER = 12345
ROUNDS = 25

_WRITER = """
import os, sys
from pathlib import Path
uid = int(sys.argv[4])
if uid != os.geteuid():
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
from atmn_auth.envfiles.writer import update_env_file
path, name, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # start together
failed = 0
for i in range(rounds):
    try:
        update_env_file(path, set_values={name: f"v{i}"})
    except Exception as exc:
        failed += 1
        print(exc, file=sys.stderr)
sys.exit(1 if failed else 0)
"""


@pytest.fixture
def project() -> Iterator[Path]:
    """A project directory two users can write (outside pytest's root-only tmp_path)."""
    root = Path(tempfile.mkdtemp(prefix="atmn-lock-"))
    root.chmod(0o755)
    project = root / "project"
    project.mkdir()
    project.chmod(0o777)
    env = project / ".env"
    env.write_text("# shared by two users\nKEEP=me\n")
    env.chmod(0o666)  # the test is about the lock, not about modes
    try:
        yield project
    finally:
        shutil.rmtree(root)


def _write_as(uid: int, env: Path, name: str, cache: Path, go: int) -> int:
    """Forks a writer that runs as `uid` with its own cache directory and, once `go` is
    readable, sets `name` ROUNDS times. A fork, not a new interpreter: the interpreter
    lives where another uid cannot read it; everything the writer needs is imported."""
    import tempfile  # noqa: F401  (the writer imports it lazily)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns into pytest
        code = 1
        try:
            if uid != os.geteuid():
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            os.environ["XDG_CACHE_HOME"] = str(cache)
            os.read(go, 1)
            failed = 0
            for i in range(ROUNDS):
                try:
                    update_env_file(env, set_values={name: f"v{i}"})
                except Exception as exc:
                    failed += 1
                    os.write(2, f"{exc}\n".encode())
            code = 1 if failed else 0
        finally:
            os._exit(code)
    return pid


@pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to run writers as another uid (CI runs as root)"
)
def test_writers_of_two_users_take_turns_and_none_fails(project: Path) -> None:
    uids = [0, OTHER, 0, OTHER]
    go_read, go_write = os.pipe()
    pids = []
    for n, uid in enumerate(uids):
        cache = project.parent / f"cache-{n}"  # each its own cache dir: no lock shared there
        cache.mkdir()
        os.chown(cache, uid, uid)
        pids.append(_write_as(uid, project / ".env", f"VAR_{n}", cache, go_read))
    os.write(go_write, b"x" * len(uids))  # start together
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    os.close(go_read)
    os.close(go_write)
    assert codes == [0] * len(uids)
    values = dotenv_values(project / ".env")
    assert values == {"KEEP": "me", **{f"VAR_{n}": f"v{ROUNDS - 1}" for n in range(len(uids))}}
    assert sorted(p.name for p in project.iterdir()) == [".env"]


def test_a_writer_waits_for_the_lock_on_the_project_directory(tmp_path: Path) -> None:
    """Another process (any user, any cache directory) holding the directory's lock keeps
    the writer waiting; the writer goes on once it is released."""
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(env), "B", "1", str(os.geteuid())],
            stdin=subprocess.PIPE,
            text=True,
            env={"PATH": os.environ["PATH"], "XDG_CACHE_HOME": str(tmp_path / "elsewhere")},
        )
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
        time.sleep(1.0)
        assert writer.poll() is None and env.read_text() == "A=1\n"
    finally:
        os.close(fd)  # releases it
    assert writer.wait(timeout=30) == 0
    assert env.read_text() == "A=1\nB=v0\n"


def test_no_lock_file_is_left_anywhere_in_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    before = set(tmp_path.rglob("*"))
    update_env_file(project / ".env", set_values={"A": "1"})
    update_env_file(project / ".env", remove=["A"])
    assert set(tmp_path.rglob("*")) - before == {project / ".env"}
