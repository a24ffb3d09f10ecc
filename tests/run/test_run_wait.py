"""`atmn run --no-exec` waiting for CMD: a signal that lands while atmn is already asleep
in its wait is still passed on.

Python runs a signal's handler in the main thread between bytecodes. A signal that lands
just before the blocking wait, after the last check, is only acted on when the wait
returns, which is when CMD exits, which it waits for the signal to do: under load, one
`atmn run --no-exec` in a few hundred hung that way. That moment cannot be hit on demand
from outside, so this test produces the same state in-process: the signal is delivered
to another thread (as the kernel may do in any process with threads), so the C-level
handler notes it while the main thread stays asleep in the wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from run_helpers import ATMN

from atmn_auth.commands.run import Prepared, start

CHILD = """
import os, signal, sys, time

out = int(sys.argv[1])

def caught(signum, frame):
    os.write(out, f"got {signal.Signals(signum).name}\\n".encode())
    os._exit(42)

for name in ("SIGINT", "SIGTERM", "SIGHUP"):
    signal.signal(getattr(signal, name), caught)
os.write(out, f"ready {os.getpid()}\\n".encode())
for _ in range(1200):  # short sleeps: a signal before a long one would wait for its end
    time.sleep(0.05)
os._exit(3)
"""


@pytest.mark.skipif(os.name != "posix", reason="signals are forwarded this way on POSIX only")
@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name
)
def test_a_signal_noted_while_atmn_sleeps_in_its_wait_reaches_the_command(
    signum: signal.Signals,
) -> None:
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    prepared = Prepared(
        sys.executable, [sys.executable, "-c", CHILD, str(write_fd)], dict(os.environ)
    )
    said: list[bytes] = []
    killed: list[bool] = []

    def sender() -> None:
        ready = _line(read_fd)  # the child runs, atmn is in (or near) its wait
        said.append(ready.split()[0])
        time.sleep(0.3)  # asleep in it by now
        signal.pthread_kill(threading.get_ident(), signum)  # noted here, not in main
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = _line(read_fd, timeout=0.1)
            if line:
                said.append(line)
                return
        # never passed on: end the child so the test fails instead of hanging
        killed.append(True)
        os.kill(int(ready.split()[1]), signal.SIGKILL)

    thread = threading.Thread(target=sender, daemon=True)
    try:
        thread.start()
        status = start(prepared, replace=False)
    finally:
        thread.join(15)
        os.close(write_fd)
        os.close(read_fd)
    name = signal.Signals(signum).name
    assert not killed, "the signal never reached the command: atmn slept through it"
    assert said == [b"ready", f"got {name}\n".encode()]
    assert status == 42


def _line(fd: int, timeout: float | None = None) -> bytes:
    import select

    if timeout is not None and not select.select([fd], [], [], timeout)[0]:
        return b""
    return os.read(fd, 100)


def _with_sigchld_blocked() -> None:
    """In the child before exec: SIGCHLD blocked, as a parent that collects its children
    with sigwait or a signalfd leaves it; the mask survives exec."""
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])


def _with_stdout_closed() -> None:
    os.close(1)


@pytest.mark.skipif(os.name != "posix", reason="signal masks and closed descriptors: POSIX")
@pytest.mark.parametrize(
    ("setup", "status"),
    [(_with_sigchld_blocked, 7), (_with_stdout_closed, 5)],
    ids=["sigchld-blocked", "stdout-closed"],
)
def test_atmn_exits_with_cmds_status_however_it_was_started(
    setup: Callable[[], None], status: int, project: Path, env: dict[str, str]
) -> None:
    """Started with SIGCHLD blocked, atmn is not told by a signal that CMD has exited and
    must see it anyway; started with stdout closed, it has nothing to flush there."""
    process = subprocess.Popen(
        [ATMN, "run", "--offline", "--no-exec", "--", "sh", "-c", f"exit {status}"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=setup,
    )
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"atmn did not end within 30 s after `sh -c 'exit {status}'` did")
    assert process.returncode == status, err
    assert "Traceback" not in err


@pytest.mark.skipif(os.name != "posix", reason="signal masks: POSIX")
@pytest.mark.timeout(30, method="signal")  # a hang fails the test (SIGALRM wakes the wait)
def test_without_pidfds_a_blocked_sigchld_does_not_keep_atmn_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where there are no pidfds (macOS, Linux before 5.3) a blocked SIGCHLD leaves only
    the wait's own time limit to notice CMD's exit: it is noticed, not waited on forever."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    prepared = Prepared("/bin/sh", ["sh", "-c", "exit 7"], dict(os.environ))
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    try:
        assert start(prepared, replace=False) == 7
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
