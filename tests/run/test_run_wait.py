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
import sys
import threading
import time

import pytest

from atmn_auth.flows.run import Prepared, start

CHILD = """
import os, signal, sys, time

out = int(sys.argv[1])

def caught(signum, frame):
    os.write(out, f"got {signal.Signals(signum).name}\\n".encode())
    os._exit(42)

for name in ("SIGINT", "SIGTERM", "SIGHUP"):
    signal.signal(getattr(signal, name), caught)
os.write(out, f"ready {os.getpid()}\\n".encode())
time.sleep(60)
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
