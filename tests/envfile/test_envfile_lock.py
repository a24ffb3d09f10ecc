"""One lock per project directory, shared by every user and process: writers from two
users (or `sudo`, or a container, each with its own cache directory) take turns, none
fails, and no lock file appears in the project.

Anyone who can open the directory can hold that lock (`flock` needs read access only):
a flow that signs in first then refuses at once, before any sign-in, naming the holder,
and a write that times out names it too."""

from __future__ import annotations

import ctypes
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles.lock import ensure_free, locked
from atmn_auth.envfiles.writer import update_env_file
from atmn_auth.errors import EnvFileError
from support.atmn_cli import clean_env, run_atmn
from support.autumn_server import AutumnServer
from support.dirs import reachable_dir
from support.scripted_browser import browser_env

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
    with reachable_dir("atmn-lock-", 0o755) as root:
        project = root / "project"
        project.mkdir()
        project.chmod(0o777)
        env = project / ".env"
        env.write_text("# shared by two users\nKEEP=me\n")
        env.chmod(0o666)  # the test is about the lock, not about modes
        yield project


def _write_as(uid: int, env: Path, name: str, cache: Path, go: int) -> int:
    """Forks a writer that runs as `uid` with its own cache directory and, once `go` is
    readable, sets `name` ROUNDS times. A fork, not a new interpreter: the interpreter
    lives where another uid cannot read it; everything the writer needs is imported."""

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


# ---------------------------------------------------------------------------- held by another


@contextmanager
def lock_held(
    directory: Path, uid: int, seconds: float | None = None, name: bytes | None = None
) -> Iterator[int]:
    """A process running as `uid` (and called `name`, where given) holds `flock` on
    `directory` (opened read-only, as anyone who can read it can) until the block ends,
    or for `seconds`; yields its pid."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns into pytest
        try:
            os.close(ready_r)
            os.close(done_w)  # so that the parent's close is an end of file here
            if name is not None:  # prctl(PR_SET_NAME): what /proc/PID/status says
                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)
            if uid != os.geteuid():
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(ready_w, b"x")
            if seconds is None:
                os.read(done_r, 1)
            else:
                time.sleep(seconds)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        assert os.read(ready_r, 1) == b"x", "the holder could not take the lock"
        yield pid
    finally:
        os.close(done_w)
        os.waitpid(pid, 0)
        os.close(ready_r)


@pytest.fixture
def readable() -> Iterator[Path]:
    """A project of yours (0755) that another user can open, as most projects are."""
    with reachable_dir("atmn-held-", 0o755) as root:
        yield root


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to hold the lock as another uid (CI runs as root)"
)


@needs_root
def test_login_refuses_before_any_sign_in_naming_who_holds_the_lock(
    readable: Path, autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """/tmp/review/lock_dos.sh: another user holds the project's lock. Before, login
    signed in and then failed 30 s later with "another atmn has been writing ...";
    now it stops before the browser opens, and says who holds it."""
    env_file = readable / ".env"
    env_file.write_text("KEEP=me\n")
    log = tmp_path / "browser.log"
    env = clean_env(
        tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server, log=str(log))
    )
    with lock_held(readable, OTHER) as holder:
        who = f"pid {holder} ({_name(holder)}, uid {OTHER})"
        started = time.monotonic()
        result = run_atmn(["login", "--org", "acme"], cwd=readable, env=env)
        took = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"atmn: error: cannot write {env_file} now: the lock on {readable}, which every atmn "
        f"writing there takes, is held by {who}; nothing was done. Try again once it is "
        "released, or write elsewhere with --env-file"
    )
    assert took < 15  # the 2 s check, not the 30 s lock timeout
    assert not log.exists()  # no browser was opened
    assert "authorize" not in result.stdout + result.stderr  # no sign-in URL either
    assert autumn_server.stats()["key_pairs_minted"] == 0
    assert env_file.read_text() == "KEEP=me\n"


def _name(pid: int) -> str:
    """The holder's name as the kernel shows it (a fork of this interpreter)."""
    return Path(f"/proc/{pid}/comm").read_text().strip()


@needs_root
def test_a_write_that_times_out_names_the_holder(readable: Path) -> None:
    target = readable / ".env"
    with lock_held(readable, OTHER) as holder, pytest.raises(EnvFileError) as caught:
        who = f"pid {holder} ({_name(holder)}, uid {OTHER})"
        with locked(target, timeout=1.0):
            pytest.fail("took a lock another process holds")
    assert caught.value.message == (
        f"{target} was not written: the lock on {readable}, which every atmn writing there "
        f"takes, has been held for 1s by {who}; try again once it is released"
    )


def test_a_holder_named_with_escape_sequences_cannot_drive_the_terminal(
    tmp_path: Path,
) -> None:
    """Anyone who can read the project can hold its lock, under a process name of their
    choosing: it reaches the person's terminal only through the printable filter."""
    target = tmp_path / ".env"
    hostile = b"\x1b]0;pwn\x07\x1b[2J"  # retitle the terminal, then clear it
    with (
        lock_held(tmp_path, os.geteuid(), name=hostile) as holder,
        pytest.raises(EnvFileError) as caught,
    ):
        assert Path(f"/proc/{holder}/status").read_bytes().count(b"\x1b") == 2
        ensure_free(target, wait=0.2)
    message = caught.value.message
    assert f"is held by pid {holder} (" in message
    assert "\x1b" not in message and "\x07" not in message
    assert "]0;pwn" in message  # the rest is shown, harmless


def test_the_check_before_a_sign_in_waits_out_a_quick_writer(tmp_path: Path) -> None:
    """A real writer holds the lock for milliseconds: the check waits for it, and says
    nothing; only a lock that stays held is refused."""
    target = tmp_path / ".env"
    with lock_held(tmp_path, os.geteuid(), seconds=0.3):
        started = time.monotonic()
        ensure_free(target)  # raises if the lock is still held after its 2 s
        assert time.monotonic() - started > 0.1
    with lock_held(tmp_path, os.geteuid()) as holder, pytest.raises(EnvFileError) as caught:
        ensure_free(target, wait=0.2)
    assert f"is held by pid {holder} (" in caught.value.message
    assert not target.exists()
