"""`atmn run`: the real console script running real commands, against a real autumn-local
for the key check. Both ways of starting CMD are covered: exec (the default on POSIX) and
`--no-exec` (atmn stays the parent and forwards signals, as on Windows)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from dotenv import dotenv_values
from run_helpers import ATMN, STALE_SANDBOX, Keys, atmn, clean_env, mint_keys

from support.autumn_server import AutumnServer, free_port, revoke_key
from support.scripted_browser import browser_env

PYTHON_DIR = str(Path(sys.executable).parent)
LAST4 = 'import os; print(os.environ["AUTUMN_SECRET_KEY"][-4:])'
BOTH_LAST4 = (
    "import os; e = os.environ; "
    'print(e["AUTUMN_SECRET_KEY"][-4:], e.get("AUTUMN_PROD_SECRET_KEY", "-")[-4:])'
)
SHOW_KEY = "import os; print('KEY', os.environ['AUTUMN_SECRET_KEY'][-4:])"
MODES = {"exec": [], "no-exec": ["--no-exec"]}


def with_python(env: dict[str, str]) -> dict[str, str]:
    """`python` on PATH: the interpreter running the tests."""
    return {**env, "PATH": f"{PYTHON_DIR}{os.pathsep}{env['PATH']}"}


def online_project(server: AutumnServer, tmp_path: Path) -> tuple[Path, Keys, dict[str, str]]:
    keys = mint_keys(server)
    project = tmp_path / "shop"
    project.mkdir()
    (project / ".env").write_text(keys.dotenv())
    env = with_python(clean_env(tmp_path, ATMN_BACKEND_URL=server.url))
    return project, keys, env


def assert_no_key(result: subprocess.CompletedProcess[str], *keys: str) -> None:
    for key in keys:
        assert key not in result.stderr


# ---------------------------------------------------------------------------- the keys


def test_run_sets_the_sandbox_key_and_with_p_the_live_key(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    project, keys, env = online_project(autumn_server, tmp_path)

    sandbox = atmn(["run", "--", "python", "-c", LAST4], cwd=project, env=env)
    assert (sandbox.returncode, sandbox.stdout, sandbox.stderr) == (0, keys.sandbox[-4:] + "\n", "")

    for args in (["-p", "run"], ["run", "-p"]):
        live = atmn([*args, "--", "python", "-c", BOTH_LAST4], cwd=project, env=env)
        assert live.returncode == 0, live.stderr
        assert live.stdout == f"{keys.live[-4:]} {keys.live[-4:]}\n"  # both variables: live

    # the live key reaches a sandbox command only when asked for
    sandbox_only = atmn(["run", "--", "python", "-c", BOTH_LAST4], cwd=project, env=env)
    assert sandbox_only.stdout == f"{keys.sandbox[-4:]} -\n"
    both = atmn(["run", "--live-too", "--", "python", "-c", BOTH_LAST4], cwd=project, env=env)
    assert both.stdout == f"{keys.sandbox[-4:]} {keys.live[-4:]}\n"
    # no options: `atmn run python -c ...` works without `--` too
    bare = atmn(["run", "python", "-c", LAST4], cwd=project, env=env)
    assert bare.stdout == keys.sandbox[-4:] + "\n"


def test_run_sets_what_export_prints(project: Path, env: dict[str, str]) -> None:
    env = with_python(env)
    dump = (
        "import json, os; print(json.dumps({k: os.environ[k] for k in "
        '("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY") if k in os.environ}))'
    )
    for flags, run_flags in (([], ["--live-too"]), (["-p"], [])):
        ran = atmn(
            [*flags, "run", *run_flags, "--offline", "--", "python", "-c", dump],
            cwd=project,
            env=env,
        )
        exported = atmn([*flags, "env", "--export", "--format", "json"], cwd=project, env=env)
        assert ran.returncode == exported.returncode == 0
        assert json.loads(ran.stdout) == json.loads(exported.stdout)


@pytest.mark.parametrize("live_too", [False, True], ids=["sandbox", "--live-too"])
def test_a_key_variable_atmn_leaves_out_is_not_inherited_either(
    project: Path, env: dict[str, str], fake_keys: Keys, live_too: bool
) -> None:
    """The shell's live key, where atmn takes the keys from a file alone (--env-file) that
    has none: atmn says it is left out, and CMD must not get it from atmn's environment."""
    env = with_python({**env, "AUTUMN_PROD_SECRET_KEY": fake_keys.live})
    only_sandbox = project / "sandbox.env"
    only_sandbox.write_text(f"AUTUMN_SECRET_KEY={fake_keys.sandbox}\n")
    only_sandbox.chmod(0o600)
    flags = ["--live-too"] if live_too else []
    args = ["run", *flags, "--offline", "--env-file", str(only_sandbox)]
    ran = atmn([*args, "--", "python", "-c", BOTH_LAST4], cwd=project, env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"{fake_keys.sandbox[-4:]} -\n"
    assert ("left out" in ran.stderr) is live_too


def test_a_stale_shell_variable_is_reported(
    project: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    env = with_python({**env, "AUTUMN_SECRET_KEY": STALE_SANDBOX})
    used = atmn(["run", "--offline", "--", "python", "-c", LAST4], cwd=project, env=env)
    assert used.returncode == 0
    assert used.stdout == STALE_SANDBOX[-4:] + "\n"  # the rule: the process environment wins
    dotenv = project / ".env"
    assert used.stderr == (
        f"! Warning: using AUTUMN_SECRET_KEY from the process environment (am_sk_test_…"
        f"{STALE_SANDBOX[-4:]}), not the one in {dotenv} (am_sk_test_…{fake_keys.sandbox[-4:]}); "
        f"pass --env-file {dotenv} to use the file's, or run `unset AUTUMN_SECRET_KEY`.\n"
    )
    assert_no_key(used, STALE_SANDBOX, fake_keys.sandbox, fake_keys.live)

    picked = atmn(
        ["run", "--offline", "--env-file", ".env", "--", "python", "-c", LAST4],
        cwd=project,
        env=env,
    )
    assert (picked.returncode, picked.stdout, picked.stderr) == (
        0,
        fake_keys.sandbox[-4:] + "\n",
        "",
    )

    same = atmn(
        ["run", "--offline", "--", "python", "-c", LAST4],
        cwd=project,
        env={**env, "AUTUMN_SECRET_KEY": fake_keys.sandbox},
    )
    assert same.stderr == ""  # the two agree: nothing to say


def test_a_stale_rejected_shell_variable_stops_before_the_command(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    project, keys, env = online_project(autumn_server, tmp_path)
    stale = mint_keys(autumn_server).sandbox
    revoke_key(autumn_server.url, stale)
    marker = project / "started"
    touch = f"open({str(marker)!r}, 'w')"
    result = atmn(
        ["run", "--", "python", "-c", touch],
        cwd=project,
        env={**env, "AUTUMN_SECRET_KEY": stale},
    )
    assert result.returncode == 1
    assert not marker.exists()
    lines = result.stderr.splitlines()
    assert lines[0].startswith("! Warning: using AUTUMN_SECRET_KEY from the process environment")
    assert lines[1].startswith(
        f"atmn: error: the server rejected AUTUMN_SECRET_KEY (am_sk_test_…{stale[-4:]}) from "
        "the process environment (401); 'python' was not started; run `unset AUTUMN_SECRET_KEY`"
    )
    assert len(lines) == 2
    assert_no_key(result, stale, keys.sandbox, keys.live)

    fixed = atmn(
        ["run", "--env-file", ".env", "--", "python", "-c", LAST4],
        cwd=project,
        env={**env, "AUTUMN_SECRET_KEY": stale},
    )
    assert (fixed.returncode, fixed.stdout) == (0, keys.sandbox[-4:] + "\n")


# ---------------------------------------------------------------------------- the check


def test_a_rejected_key_without_a_terminal_exits_1_before_starting(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    project, keys, env = online_project(autumn_server, tmp_path)
    revoke_key(autumn_server.url, keys.sandbox)
    marker = project / "started"
    for mode in MODES.values():
        result = atmn(
            ["run", *mode, "--", "python", "-c", f"open({str(marker)!r}, 'w')"],
            cwd=project,
            env=env,
        )
        assert result.returncode == 1
        assert not marker.exists()
        assert result.stdout == ""
        assert result.stderr == (
            f"atmn: error: the server rejected AUTUMN_SECRET_KEY (am_sk_test_…"
            f"{keys.sandbox[-4:]}) from {project / '.env'} (401); 'python' was not started; "
            f"run `atmn login` to write new keys to {project / '.env'}\n"
        )
    # the live key still works
    live = atmn(["-p", "run", "--", "python", "-c", LAST4], cwd=project, env=env)
    assert (live.returncode, live.stdout) == (0, keys.live[-4:] + "\n")
    # --offline does not ask
    offline = atmn(["run", "--offline", "--", "python", "-c", LAST4], cwd=project, env=env)
    assert (offline.returncode, offline.stdout) == (0, keys.sandbox[-4:] + "\n")


def test_an_unreachable_server_stops_before_the_command(
    project: Path, env: dict[str, str], fake_keys: Keys
) -> None:
    env = with_python({**env, "ATMN_BACKEND_URL": f"http://127.0.0.1:{free_port()}"})
    result = atmn(["run", "--timeout", "2", "--", "python", "-c", LAST4], cwd=project, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("atmn: error: could not check AUTUMN_SECRET_KEY with http://")
    assert result.stderr.endswith("'python' was not started. Pass --offline to skip the check\n")
    assert len(result.stderr.splitlines()) == 1


def test_a_missing_key_is_the_next_step(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / ".env").write_text("OTHER=1\n")
    result = atmn(["run", "--offline", "--", "true"], cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr == (
        "atmn: error: AUTUMN_SECRET_KEY is not set in the process environment nor in "
        f"{tmp_path / '.env'}; 'true' was not started; run `atmn login` to write new keys "
        f"to {tmp_path / '.env'}\n"
    )


def test_on_a_terminal_a_rejected_key_gets_the_sign_in_of_atmn_env(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    project, keys, env = online_project(autumn_server, tmp_path)
    env.update(browser_env(autumn_server), TERM="xterm", COLUMNS="120", LINES="40")
    revoke_key(autumn_server.url, keys.sandbox)

    declined = pexpect.spawn(
        ATMN,
        ["run", "--no-exec", "--", "python", "-c", "print('STARTED')"],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )
    declined.expect("AUTUMN_SECRET_KEY was rejected. Sign in again now?")
    declined.send("n")
    declined.expect(pexpect.EOF)
    declined.close()
    assert declined.exitstatus == 1
    assert "STARTED" not in (declined.before or "")

    child = pexpect.spawn(
        ATMN,
        ["run", "--", "python", "-c", SHOW_KEY],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.expect("AUTUMN_SECRET_KEY was rejected. Sign in again now?")
    child.send("y")
    child.expect("Revoke the keys this replaced")
    child.send("n")
    child.expect(r"KEY (\w{4})\r\n")
    shown = child.match.group(1)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    new = dotenv_values(project / ".env")["AUTUMN_SECRET_KEY"]
    assert new is not None and new != keys.sandbox
    assert shown == new[-4:]


# ---------------------------------------------------------------------------- the command


def test_a_missing_command_is_127_before_asking_the_server(
    tmp_path: Path, env: dict[str, str], project: Path
) -> None:
    env = {**env, "ATMN_BACKEND_URL": f"http://127.0.0.1:{free_port()}"}  # nobody there
    result = atmn(["run", "--", "no-such-command-atmn", "x"], cwd=project, env=env)
    assert result.returncode == 127
    assert result.stderr == (
        "atmn: error: command not found: 'no-such-command-atmn' (looked in PATH)\n"
    )
    gone = atmn(["run", "--", "./nowhere/tool"], cwd=project, env=env)
    assert (gone.returncode, gone.stderr) == (127, "atmn: error: './nowhere/tool': no such file\n")

    plain = project / "plain.txt"
    plain.write_text("not a program\n")
    refused = atmn(["run", "--offline", "--", "./plain.txt"], cwd=project, env=env)
    assert (refused.returncode, refused.stderr) == (
        126,
        "atmn: error: './plain.txt' is not executable\n",
    )


def test_no_command_is_a_usage_error(project: Path, env: dict[str, str]) -> None:
    result = atmn(["run"], cwd=project, env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "atmn: error: no command to run: atmn run [-p] [-l] -- CMD [ARGS]\n"
        "Run 'atmn run --help' for usage.\n"
    )


@pytest.mark.parametrize("mode", MODES)
def test_exit_codes_pass_through(mode: str, project: Path, env: dict[str, str]) -> None:
    env = with_python(env)
    flags = ["run", "--offline", *MODES[mode], "--", "python", "-c"]
    assert atmn([*flags, "raise SystemExit(7)"], cwd=project, env=env).returncode == 7
    assert atmn([*flags, "pass"], cwd=project, env=env).returncode == 0

    suicide = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    # as a shell reports it: 128 + 15
    shell = subprocess.run(
        ["sh", "-c", '"$@"; echo "status=$?"', "sh", ATMN, *flags, suicide],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.stdout == "status=143\n"
    direct = atmn([*flags, suicide], cwd=project, env=env)
    # exec: atmn *is* the command, and dies of the same signal; --no-exec: exit 128+15
    assert direct.returncode == (-signal.SIGTERM if mode == "exec" else 143)


@pytest.mark.parametrize("mode", MODES)
def test_standard_streams_and_descriptors_pass_through(
    mode: str, project: Path, env: dict[str, str]
) -> None:
    read_fd, write_fd = os.pipe()
    try:
        child = (
            "import os, sys\n"
            "data = sys.stdin.read()\n"
            "sys.stdout.write(data.upper())\n"
            "sys.stderr.write('to stderr\\n')\n"
            f"os.write({write_fd}, b'via fd')\n"
        )
        result = atmn(
            ["run", "--offline", *MODES[mode], "--", "python", "-c", child],
            cwd=project,
            env=with_python(env),
            input="hello\n",
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        write_fd = -1
        assert (result.returncode, result.stdout, result.stderr) == (0, "HELLO\n", "to stderr\n")
        assert os.read(read_fd, 100) == b"via fd"
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


# ---------------------------------------------------------------------------- signals

CATCHER = """
import os, signal, sys, time

def caught(signum, frame):  # os.write: the signal may come while print() is busy
    os.write(1, f"child got {signal.Signals(signum).name}\\n".encode())
    os._exit(42)

for name in ("SIGINT", "SIGTERM", "SIGHUP"):
    signal.signal(getattr(signal, name), caught)
print("ready", os.getpid(), os.getppid(), flush=True)
# Short sleeps, not one long one: Python runs a handler between bytecodes, so a signal
# landing after the print and before a long sleep's system call would wait for it to end.
for _ in range(1200):
    time.sleep(0.05)
sys.exit(3)
"""


def _as_a_shell_starts_it() -> None:
    """In the child before exec: no signal blocked or ignored, as a shell starts a
    command. A signal mask or an ignored signal left in the pytest process by other
    tests would otherwise be inherited through exec and keep the signal from atmn."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def start_atmn(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ATMN, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_a_shell_starts_it,
    )


def finished(process: subprocess.Popen[str]) -> tuple[str, str]:
    """stdout and stderr once `process` ends; what it had said so far when it does not."""
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"atmn did not end within 30 s; stdout {out!r}, stderr {err!r}"
        ) from exc


@pytest.mark.parametrize(
    ("mode", "signum"),
    [
        ("exec", signal.SIGINT),
        ("exec", signal.SIGTERM),
        ("no-exec", signal.SIGINT),
        ("no-exec", signal.SIGTERM),
        ("no-exec", signal.SIGHUP),
    ],
    ids=lambda v: v if isinstance(v, str) else signal.Signals(v).name,
)
def test_a_signal_to_atmn_reaches_the_command(
    mode: str, signum: int, project: Path, env: dict[str, str]
) -> None:
    process = start_atmn(
        ["run", "--offline", *MODES[mode], "--", "python", "-c", CATCHER], project, with_python(env)
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[0] == "ready", ready
        pid, parent = int(ready[1]), int(ready[2])
        if mode == "exec":
            assert pid == process.pid  # atmn became the command
        else:
            assert (pid, parent) != (process.pid, process.pid) and parent == process.pid
        os.kill(process.pid, signum)
        out, err = finished(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out == f"child got {signal.Signals(signum).name}\n"
    assert err == ""
    assert process.returncode == 42


def test_a_command_killed_by_a_forwarded_sigint_gives_130(
    project: Path, env: dict[str, str]
) -> None:
    child = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    process = start_atmn(
        ["run", "--offline", "--no-exec", "--", "python", "-c", child], project, with_python(env)
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        os.kill(process.pid, signal.SIGINT)
        _, err = finished(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert err == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_no_exec_cmd_does_not_outlive_a_killed_atmn(project: Path, env: dict[str, str]) -> None:
    """SIGKILL cannot be forwarded: CMD (which holds the keys) dies with atmn all the same."""
    child = "import os, time\nprint(os.getpid(), flush=True)\nwhile True: time.sleep(0.05)\n"
    running = subprocess.Popen(
        [ATMN, "run", "--offline", "--no-exec", "--", "python", "-c", child],
        cwd=project,
        env=with_python(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.stdout is not None
        cmd = int(running.stdout.readline())
        assert Path(f"/proc/{cmd}").exists()
        running.kill()
        running.wait(timeout=30)
        for _ in range(600):  # up to 30 s for the kernel to deliver it
            if _gone(cmd):
                break
            time.sleep(0.05)
        assert _gone(cmd), "CMD kept running after atmn was killed"
    finally:
        running.kill()
        running.wait()


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie nobody has reaped yet."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status
