"""Running a command in a private network namespace that has addresses besides loopback.

Every test client is 127.0.0.1 on this machine; a server bound with `--host` is reached from
other addresses only over a network. A new network namespace (a user namespace too, so no
root is needed where unprivileged ones are allowed) with extra addresses on its `lo` gives a
real TCP connection from a non-loopback source address, and changes nothing outside it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

#: TEST-NET-1 (RFC 5737): documentation addresses, never routed anywhere.
TEST_NET = "192.0.2"


def unshare_command() -> list[str]:
    """`unshare` with a new network and user namespace; the test is skipped where none can
    be made (no `unshare` or `ip`, or namespaces not allowed)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        pytest.skip("needs unshare(1) and ip(8) for a private network namespace")
    command = [unshare, "--net", "--map-root-user"]
    probe = subprocess.run([*command, ip, "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()
        pytest.skip(f"cannot make a private network namespace: {reason}")
    return command


def run_with_addresses(
    argv: Sequence[str],
    addresses: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Runs `argv` in a new network namespace whose `lo` is up and also has `addresses`
    (each a /32)."""
    ip = shutil.which("ip") or "ip"
    setup = [f"{shlex.quote(ip)} link set lo up"]
    setup += [f"{shlex.quote(ip)} addr add {address}/32 dev lo" for address in addresses]
    script = " && ".join(setup) + ' && exec "$@"'
    return subprocess.run(
        [*unshare_command(), "sh", "-c", script, "sh", *argv],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_scenario(
    script: str, data_dir: Path, addresses: Sequence[str], *, timeout: float
) -> dict[str, Any]:
    """Runs the test module `script` as a program (its `__main__` runs a scenario in
    `data_dir` and prints what it saw as one JSON line) in a namespace with `addresses`,
    with the tests' support modules importable; returns what it saw."""
    tests = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(tests))
    done = run_with_addresses(
        [sys.executable, script, str(data_dir)], addresses, env=env, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen
