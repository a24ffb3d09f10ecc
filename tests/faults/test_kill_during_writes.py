"""SIGKILL at random moments while `.env` is being rewritten: afterwards the file is always
either as it was or fully updated, and the next update cleans up after the dead writer."""

from __future__ import annotations

import os
import random
import select
import signal
import time
from pathlib import Path

from atmn_auth.envfiles.reader import read_env
from atmn_auth.envfiles.writer import render_update, update_env_file

BEFORE = (
    "# settings\r\nexport DATABASE_URL=postgres://db/app\r\n"
    "AUTUMN_SECRET_KEY=am_sk_test_" + "o" * 42 + "\r\n"
    'MULTI="line one\nline two"\r\n' + "PADDING=" + "p" * 20_000 + "\r\n"
)
VERSIONS = [
    {"AUTUMN_SECRET_KEY": "am_sk_test_" + c * 42, "AUTUMN_PROD_SECRET_KEY": "am_sk_live_" + c * 42}
    for c in "AB"
]
KILLS = 60


def legal_contents() -> set[bytes]:
    """The file as it was, and each complete result a writer could leave."""
    legal = {BEFORE.encode()}
    for version in VERSIONS:
        text, _ = render_update(BEFORE, version, ())
        legal.add(text.encode())
        for other in VERSIONS:  # B written over A, and A over B
            again, _ = render_update(text, other, ())
            legal.add(again.encode())
    return legal


def writer(path: Path, ready: int) -> None:
    """The child: announce itself, then rewrite the file for ever, alternating versions."""
    os.write(ready, b"r")
    i = 0
    while True:
        update_env_file(path, set_values=VERSIONS[i % 2])
        i += 1


def test_a_killed_writer_never_leaves_a_partial_env(tmp_path: Path) -> None:
    update_env_file(tmp_path / "warm-up", set_values={"X": "1"})  # children start writing at once
    (tmp_path / "warm-up").unlink()
    env_file = tmp_path / ".env"
    env_file.write_bytes(BEFORE.encode())
    env_file.chmod(0o640)
    legal = legal_contents()
    rng = random.Random(1234)
    seen: set[bytes] = set()
    mid_write = 0
    for _ in range(KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns to pytest
            try:
                os.close(read_fd)
                writer(env_file, write_fd)
            finally:
                os._exit(1)
        os.close(write_fd)
        assert select.select([read_fd], [], [], 10)[0], "the writer did not start"
        os.close(read_fd)
        time.sleep(rng.uniform(0.002, 0.04))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        content = env_file.read_bytes()
        assert content in legal, "a SIGKILL left a partial .env"
        seen.add(content)
        mid_write += any(p.name.startswith("..env.") for p in tmp_path.iterdir())
    # the kills did land while writers were busy, some in the middle of writing a file
    assert len(seen) >= 2 and mid_write >= 1
    assert os.stat(env_file).st_mode & 0o777 == 0o640  # the file's own mode survived too

    # The next update still gets the lock and clears what the dead writers left (a temporary
    # file holds whole keys, and git does not ignore it as it ignores `.env`).
    update_env_file(env_file, set_values=VERSIONS[0])
    assert read_env(env_file)["AUTUMN_SECRET_KEY"] == VERSIONS[0]["AUTUMN_SECRET_KEY"]
    assert read_env(env_file)["DATABASE_URL"] == "postgres://db/app"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == [".env"]
