"""Real processes: concurrent writers, other .env readers, and a user who cannot write."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles.writer import update_env_file
from atmn_auth.errors import EnvFileError
from support.dirs import reachable_dir

SK = "am_sk_test_" + "Ab3" * 14
PK = "am_sk_live_" + "Zy9" * 14
NODE_DIR = Path(__file__).resolve().parents[1] / "node"

_WRITER = """
import sys
from pathlib import Path
from atmn_auth.envfiles.writer import update_env_file
path, name, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # start together
for i in range(rounds):
    update_env_file(path, set_values={name: f"value_{name}_{i}"})
"""


def test_concurrent_writers_all_land(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# shared by many writers\nKEEP=me\n")
    writers = 8
    rounds = 5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(env), f"VAR_{n}", str(rounds)],
            stdin=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    assert [proc.wait(timeout=60) for proc in procs] == [0] * writers
    values = dotenv_values(env)
    expected = {"KEEP": "me", **{f"VAR_{n}": f"value_VAR_{n}_{rounds - 1}" for n in range(writers)}}
    assert values == expected
    assert env.read_text().startswith("# shared by many writers\nKEEP=me\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def _written(tmp_path: Path) -> Path:
    env = tmp_path / ".env"
    env.write_text(
        "# app settings\nexport DATABASE_URL='postgres://u@h/db'\n"
        'AUTUMN_SECRET_KEY=old_value\nGREETING="hi there"\n'
    )
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK})
    return env


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_dotenv_reads_the_same_values(tmp_path: Path) -> None:
    if not (NODE_DIR / "node_modules" / "dotenv").is_dir():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            check=True,
            capture_output=True,
        )
    env = _written(tmp_path)
    out = subprocess.run(
        ["node", str(NODE_DIR / "read-env.js"), str(env)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    node_values = json.loads(out)
    python_values = dotenv_values(env)
    assert node_values["AUTUMN_SECRET_KEY"] == python_values["AUTUMN_SECRET_KEY"] == SK
    assert node_values["AUTUMN_PROD_SECRET_KEY"] == python_values["AUTUMN_PROD_SECRET_KEY"] == PK


def test_posix_shell_reads_the_same_values(tmp_path: Path) -> None:
    env = _written(tmp_path)
    out = subprocess.run(
        ["sh", "-c", '. ./.env; printf "%s\\n%s" "$AUTUMN_SECRET_KEY" "$AUTUMN_PROD_SECRET_KEY"'],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    python_values = dotenv_values(env)
    assert out.split("\n") == [
        python_values["AUTUMN_SECRET_KEY"],
        python_values["AUTUMN_PROD_SECRET_KEY"],
    ]
    assert out.split("\n") == [SK, PK]


# A user who genuinely cannot write. Tests run as root, which ignores file modes, so the
# writer runs in a forked child that drops to an unprivileged uid first.

_UNPRIVILEGED = 65534


def _write_as_unprivileged(env: Path, cache: Path) -> tuple[int, str]:
    """Forks, drops to uid 65534 and calls update_env_file: (exit code, error printed).

    A fork rather than a new interpreter: the interpreter lives under /root, which the
    unprivileged user cannot read. Everything the call needs is imported beforehand.
    """
    import dotenv.parser  # noqa: F401
    import filelock  # noqa: F401
    import platformdirs  # noqa: F401

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(_UNPRIVILEGED)
            os.setuid(_UNPRIVILEGED)
            os.environ["XDG_CACHE_HOME"] = str(cache)
            try:
                update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
                code = 0
            except EnvFileError as exc:
                os.write(write_fd, str(exc).encode())
                code = 3
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), message


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's tmp_path is root-only)."""
    if os.geteuid() != 0:
        pytest.skip("dropping to another uid needs root; as non-root, modes are enforced anyway")
    with reachable_dir("atmn-perm-", 0o755) as path:
        yield path


def _user_cache(world_dir: Path) -> Path:
    cache = world_dir / "cache"
    cache.mkdir()
    os.chown(cache, _UNPRIVILEGED, _UNPRIVILEGED)
    return cache


def test_read_only_file_is_refused_and_untouched(world_dir: Path) -> None:
    project = world_dir / "project"
    project.mkdir()
    os.chown(project, _UNPRIVILEGED, _UNPRIVILEGED)  # the directory is writable...
    env = project / ".env"
    env.write_text("A=1\n")
    env.chmod(0o444)  # ...but the file is not
    os.chown(env, _UNPRIVILEGED, _UNPRIVILEGED)
    code, message = _write_as_unprivileged(env, _user_cache(world_dir))
    assert (code, message) == (3, f"{env} is read-only; leaving it alone")
    assert env.read_text() == "A=1\n"
    assert sorted(p.name for p in project.iterdir()) == [".env"]


def test_unwritable_directory_is_refused_and_untouched(world_dir: Path) -> None:
    project = world_dir / "project"
    project.mkdir()
    project.chmod(0o755)  # owned by root: the unprivileged user cannot add a file here
    env = project / ".env"
    env.write_text("A=1\n")
    env.chmod(0o666)  # even though the file itself is writable
    code, message = _write_as_unprivileged(env, _user_cache(world_dir))
    assert code == 3
    assert message.startswith(f"cannot write {env}: its directory {project} is not writable")
    assert env.read_text() == "A=1\n"
    assert sorted(p.name for p in project.iterdir()) == [".env"]


def test_unreadable_file_is_refused(world_dir: Path) -> None:
    env = world_dir / ".env"
    env.write_text("A=1\n")
    env.chmod(0o600)  # root's file
    code, message = _write_as_unprivileged(env, _user_cache(world_dir))
    assert (code, message) == (3, f"cannot read {env}: permission denied")
    assert env.read_text() == "A=1\n" and stat.S_IMODE(env.stat().st_mode) == 0o600


def test_failed_rename_leaves_the_file_and_no_temp_file(tmp_path: Path) -> None:
    # A real rename failure: the target is a non-empty directory reached through a
    # symlink, so os.replace() cannot put a file over it.
    real = tmp_path / "real"
    real.mkdir()
    (real / "keep").write_text("x")
    env = tmp_path / ".env"
    env.symlink_to(real)
    with pytest.raises(EnvFileError):
        update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert (real / "keep").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "real"]
