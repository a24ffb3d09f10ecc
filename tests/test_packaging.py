"""The wheel works for a user, outside this repository: built, installed into a fresh venv.

Without extras it gives a working `atmn` and no Flask, and `autumn-local serve` says in one
line how to get the server; with the `local` extra the server starts. pip installs the
dependencies from the package index: when that cannot be reached the test fails (it never
skips), since then it has checked nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
#: The one place the version is written; the wheel's metadata takes it from there.
VERSION = re.search(r'__version__ = "([^"]+)"', (REPO / "src/atmn_auth/_version.py").read_text())[1]  # type: ignore[index]
COMMANDS = ("login", "env", "logout")
INSTALL_HINT = (
    "autumn-local: error: the local server needs Flask: pip install 'atmn-auth[local]' "
    "(or: pipx inject atmn-auth flask / uv tool install 'atmn-auth[local]')"
)
PIP = ("-m", "pip", "--disable-pip-version-check", "--quiet")


def user_env() -> dict[str, str]:
    """This environment (proxy and pip index settings included) minus any Python or venv."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PYTHON") and name != "VIRTUAL_ENV"
    }


def run(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=user_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def must(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = run(args, cwd, timeout)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}",
            pytrace=False,
        )
    return result


def pip(python: Path, *args: str, cwd: Path) -> None:
    """pip in `python`'s environment; installs reach the package index, so allow minutes."""
    must([str(python), *PIP, *args], cwd, timeout=600)


def build_wheel(out: Path) -> Path:
    out.mkdir()
    pip(Path(sys.executable), "wheel", "--no-deps", "-w", str(out), str(REPO), cwd=out)
    wheels = sorted(out.glob("atmn_auth-*.whl"))
    assert len(wheels) == 1, wheels
    assert wheels[0].name.startswith(f"atmn_auth-{VERSION}-"), wheels[0].name
    return wheels[0]


def wait_for_line(path: Path, process: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text()
        if "\n" in text:
            return text.splitlines()[0]
        if process.poll() is not None:
            break
        time.sleep(0.1)
    return path.read_text()


def test_the_wheel_gives_atmn_without_flask_and_the_server_with_the_local_extra(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path / "dist")
    home = tmp_path / "user"  # cwd for every command: nowhere near the repository
    home.mkdir()
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"

    # 1. A plain install: the CLI and its dependencies, no extras.
    pip(python, "install", str(wheel), cwd=home)
    where = must([str(python), "-c", "import atmn_auth; print(atmn_auth.__file__)"], home)
    assert where.stdout.strip().startswith(str(env_dir)), where.stdout  # the wheel, not src/

    version = must([str(bin_dir / "atmn"), "--version"], home)
    assert VERSION in version.stdout

    help_text = must([str(bin_dir / "atmn"), "--help"], home).stdout
    listed = help_text.split("Commands:", 1)[-1].split()
    assert "Commands:" in help_text and all(name in listed for name in COMMANDS), help_text

    no_flask = run([str(python), "-c", "import flask"], home)
    assert no_flask.returncode != 0 and "No module named 'flask'" in no_flask.stderr

    data = tmp_path / "data"
    serve = run([str(bin_dir / "autumn-local"), "serve", "--port", "0", "--data", str(data)], home)
    assert serve.returncode == 1, serve.stdout + serve.stderr
    assert serve.stderr.splitlines() == [INSTALL_HINT], serve.stderr
    assert "Traceback" not in serve.stderr + serve.stdout
    assert serve.stdout == ""

    # The admin commands need no Flask.
    demo = must([str(bin_dir / "autumn-local"), "demo-user", "--json", "--data", str(data)], home)
    assert '"email"' in demo.stdout

    # 2. The `local` extra, into the same venv: the server is there and starts.
    pip(python, "install", f"{wheel}[local]", cwd=home)
    server_help = must([str(bin_dir / "autumn-local"), "--help"], home).stdout
    assert "serve" in server_help.split("Commands:", 1)[-1].split()
    must([str(python), "-c", "import flask"], home)

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(bin_dir / "autumn-local"), "serve", "--port", "0", "--data", str(data)],
            cwd=home,
            env=user_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            first = wait_for_line(log, server, timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert first.startswith("autumn-local serving http://localhost:"), log.read_text()
