"""The answers given before click look like click's on a terminal too, and a Ctrl-C
while they are written ends as click's does."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ATMN = Path(sys.executable).with_name("atmn")


def on_a_terminal(args: list[str], cwd: Path) -> tuple[bytes, int]:
    """`atmn args` with stdin, stdout and stderr on a 60-column pseudo-terminal."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "LANG": "C.UTF-8", "TERM": "xterm"}
    process = subprocess.Popen(
        [str(ATMN), *args], cwd=cwd, stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other side is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return out, process.wait(timeout=60)


def test_an_error_on_a_terminal_is_marked_and_wrapped_as_click_does_it(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()  # an .env that cannot be read: one error line
    quick = on_a_terminal(["env", "--offline"], tmp_path)
    # `--timeout` is not answered before click: the same command, through click
    slow = on_a_terminal(["env", "--offline", "--timeout", "10"], tmp_path)
    assert quick == slow
    text, code = quick
    assert code == 1
    assert b"\x1b[" in text  # "error:" in colour, as on any terminal
    assert text.count(b"\r\n") >= 2  # wrapped at the terminal's 60 columns


@pytest.mark.parametrize("args", [["env", "--offline"], ["env", "--offline", "--timeout", "10"]])
def test_ctrl_c_while_the_answer_is_written_exits_130_with_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    """Standard output is a full pipe nobody reads: the answer blocks until Ctrl-C."""
    (tmp_path / ".env").write_text("AUTUMN_SECRET_KEY=am_sk_test_" + "a" * 42 + "\n")
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        while True:
            os.write(write_end, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    process = subprocess.Popen(
        [str(ATMN), *args],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(write_end)
    time.sleep(2.0)  # started, answered, and blocked writing
    process.send_signal(signal.SIGINT)
    os.set_blocking(read_end, False)
    try:
        while os.read(read_end, 65536):
            pass
    except BlockingIOError:
        pass
    assert process.stderr is not None
    err = process.stderr.read().decode()
    code = process.wait(timeout=30)
    os.close(read_end)
    assert code == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "atmn: interrupted; nothing was changed."
