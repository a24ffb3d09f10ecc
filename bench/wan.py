"""WAN benchmark: `atmn env` and the machine side of `atmn login` over a 50 ms round trip.

    .venv/bin/python bench/wan.py                       # 10 runs each; writes the WAN section
    .venv/bin/python bench/wan.py --runs 3 --no-write   # a quick look, RESULTS.md untouched
    .venv/bin/python bench/wan.py --no-npm              # without the published CLI

The link: two network namespaces made for the run (`atmn-wan-cli-PID`, `atmn-wan-srv-PID`),
each with a TUN device (10.77.0.1/30 and 10.77.0.2/30), and a relay process in between that
copies every packet from one TUN device to the other 25 ms late (a heap keyed by due time),
so any round trip, the TCP and TLS handshakes included, takes 50 ms. Nothing leaves the
machine: the namespaces have no other route. In the server namespace run `autumn-local
serve` and, for TLS, a TLS 1.3 terminating front on port 8443 with a test CA (trustme)
that keeps client connections alive (one stand-in connection per client connection). The
client namespace resolves `autumn.wan` to the server through /etc/netns/NAME/hosts, which
`ip netns exec` mounts over /etc/hosts.

What is measured, each `--runs` times after one warm-up run:
- `atmn env` (the server checks the key), process start to exit, in a project whose `.env`
  holds a key a login minted;
- `atmn login --force --keep-replaced`, from the moment the browser sends the
  redirect to the CLI's loopback callback (tests/support/scripted_browser.py, opened
  through `BROWSER`, writes the time to SCRIPTED_BROWSER_CALLBACK_TIME_FILE) to the CLI's
  exit; the scripted browser runs in the client namespace, so it crosses the link too;
- the same with the published CLI (npm `atmn@1.1`, installed into /tmp/atmn-npm, which opens
  the browser with `xdg-open`: a stand-in `xdg-open` on PATH runs the scripted browser);
- requests, TCP connections and answers of 400 or more per run, from autumn-local's request
  log (`conn=N` numbers; each line is stamped with the time this harness read it) and, for
  TLS, the connections the front accepted.

Each link is measured twice: against autumn-local's full profile (every extension of the
contract's §X) and against `autumn-local serve --hosted` (hosted Autumn's answers, §H).

Every child has a time limit; the relay and the front stop by themselves when this process
goes away or after --lifetime seconds. Needs root (network namespaces, /dev/net/tun): without
it, prints one line saying the benchmark was skipped and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import heapq
import itertools
import json
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import write_section

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
THIS = Path(__file__).resolve()
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
ATMN = str(VENV_BIN / "atmn")
AUTUMN_LOCAL = str(VENV_BIN / "autumn-local")
SCRIPTED_BROWSER = REPO / "tests" / "support" / "scripted_browser.py"
RESULTS = BENCH / "RESULTS.md"
COMMAND = ".venv/bin/python bench/wan.py"

NPM_DIR = Path("/tmp/atmn-npm")
NPM_SPEC = "atmn@1.1"
NPM_CLI = NPM_DIR / "node_modules" / "atmn" / "dist" / "cli.js"

HOST = "autumn.wan"
CLI_ADDR, SRV_ADDR, PREFIX_LEN = "10.77.0.1", "10.77.0.2", 30
HTTP_PORT, TLS_PORT = 8080, 8443
NS_PREFIX = "atmn-wan-"
ORG = "acme"

ENV_TIMEOUT = 30.0  # one `atmn env`
LOGIN_TIMEOUT = 60.0  # one `atmn login`, browser included
START_TIMEOUT = 20.0  # a service printing that it is ready
IP_TIMEOUT = 10.0  # one `ip` command
NPM_INSTALL_TIMEOUT = 300.0

# Paths the CLI calls (the rest of autumn-local's log is the browser's pages).
CLI_PATHS = re.compile(r"^/(\.well-known/|cli/|v1/|api/auth/oauth2/(token|revoke|device)$)")
LOG_LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>/\S*) (?P<status>\d{3}) [0-9.]+ms conn=(?P<conn>\d+)$"
)
BANNER = re.compile(r"sign in as (?P<email>\S+) with password (?P<password>\S+)")
FRONT_ACCEPT = re.compile(r"^accept (?P<n>\d+) (?P<ns>\d+)$")


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


class Skipped(Exception):
    """The machine does not allow what the benchmark needs (root, namespaces, TUN)."""


# --- processes ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when this process dies, whatever the cause."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def run_ip(*args: str) -> None:
    """One `ip` command (in the root namespace, or `-n NS ...`); raises on failure."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def in_ns(ns: str, args: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


def stop_process(process: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout)


@dataclass
class Line:
    at_ns: int  # time.time_ns() when this process read it
    text: str


class Tail:
    """A child's output, line by line, each stamped with the time it was read."""

    def __init__(self, stream: IO[bytes], copy_to: Path) -> None:
        self.lines: list[Line] = []
        self._cond = threading.Condition()
        self._copy = copy_to.open("a", encoding="utf-8")
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = Line(time.time_ns(), raw.decode(errors="replace").rstrip("\n"))
            self._copy.write(line.text + "\n")
            self._copy.flush()
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if match := pattern.search(line.text):
                        return match
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    tail = "\n".join(line.text for line in self.lines[-10:])
                    raise RuntimeError(f"no line matching {pattern.pattern!r}:\n{tail}")
                self._cond.wait(left)

    def between(self, start_ns: int, end_ns: int) -> list[Line]:
        with self._cond:
            return [line for line in self.lines if start_ns <= line.at_ns <= end_ns]

    def close(self) -> None:
        self._thread.join(2)
        self._copy.close()


@dataclass
class Service:
    """A long-running child in a namespace, with its output tailed."""

    name: str
    process: subprocess.Popen[bytes]
    tail: Tail

    def stop(self) -> None:
        stop_process(self.process)
        self.tail.close()


def start_service(
    name: str,
    args: Sequence[str],
    log_path: Path,
    ready: re.Pattern[str],
    extra_env: dict[str, str] | None = None,
) -> Service:
    process = subprocess.Popen(
        list(args),
        stdin=subprocess.PIPE,  # never written: end-of-file when this harness dies
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})},
        preexec_fn=_die_with_parent,
    )
    assert process.stdout is not None
    service = Service(name, process, Tail(process.stdout, log_path))
    try:
        service.tail.wait_for(ready, START_TIMEOUT)
    except BaseException:
        service.stop()
        raise
    return service


# --- the relay: two TUN devices, every packet 25 ms late ---------------------------------

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name: str) -> int:
    """Creates TUN device `name` (in this namespace) and returns its file descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def relay(fd_a: int, fd_b: int, delay: float, lifetime: float, control: int = 0) -> None:
    """Copies each packet read from one TUN fd to the other `delay` seconds later.

    Stops when `control` (stdin: a pipe from the harness) reaches end-of-file, that is when
    the harness has gone, or after `lifetime` seconds.
    """
    for fd in (fd_a, fd_b):
        os.set_blocking(fd, False)
    other = {fd_a: fd_b, fd_b: fd_a}
    due: list[tuple[float, int, int, bytes]] = []  # (when, order, to fd, packet)
    order = itertools.count()
    poller = select.poll()
    for fd in (fd_a, fd_b, control):
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + lifetime
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, out, packet = heapq.heappop(due)
            with contextlib.suppress(OSError):  # a device going away at teardown
                os.write(out, packet)
        if now >= deadline:
            return
        wait = min(due[0][0] - now if due else 1.0, deadline - now)
        # Whole milliseconds, rounded down: the last fraction is spent polling without
        # sleeping, so that packets leave on time rather than up to 1 ms late.
        for fd, _ in poller.poll(max(int(wait * 1000), 0)):
            if fd == control:
                if not os.read(control, 4096):
                    return
                continue
            arrived = time.monotonic()
            while True:
                try:
                    packet = os.read(fd, 65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    return
                heapq.heappush(due, (arrived + delay, next(order), other[fd], packet))


# --- namespaces --------------------------------------------------------------------------


@dataclass
class Network:
    """The two namespaces, joined by the relay."""

    cli: str
    srv: str
    hosts_dir: Path
    relay: subprocess.Popen[bytes] | None = None

    def client(self, args: Sequence[str]) -> list[str]:
        return in_ns(self.cli, args)

    def server(self, args: Sequence[str]) -> list[str]:
        return in_ns(self.srv, args)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces() -> None:
    """Namespaces (and hosts files) an earlier run left behind when it was killed."""
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=IP_TIMEOUT
    ).stdout
    for name in re.findall(rf"^({re.escape(NS_PREFIX)}(?:cli|srv)-(\d+))\b", listed, re.M):
        if not _pid_alive(int(name[1])):
            with contextlib.suppress(RuntimeError):
                run_ip("netns", "delete", name[0])
            shutil.rmtree(Path("/etc/netns") / name[0], ignore_errors=True)


@contextlib.contextmanager
def wan_link(delay_ms: float, lifetime: float, workdir: Path) -> Iterator[Network]:
    """Makes the namespaces, TUN devices, hosts file and relay; removes them all on exit."""
    if os.geteuid() != 0:
        raise Skipped("needs root for network namespaces and /dev/net/tun")
    if shutil.which("ip") is None:
        raise Skipped("the `ip` command (iproute2) is missing")
    remove_stale_namespaces()
    pid = os.getpid()
    cli, srv = f"{NS_PREFIX}cli-{pid}", f"{NS_PREFIX}srv-{pid}"
    net = Network(cli, srv, Path("/etc/netns") / cli)
    created_etc_netns = not Path("/etc/netns").exists()
    with contextlib.ExitStack() as cleanup:
        for ns in (net.cli, net.srv):
            try:
                run_ip("netns", "add", ns)
            except RuntimeError as exc:
                raise Skipped(f"cannot create a network namespace ({exc})") from None
            cleanup.callback(run_ip, "netns", "delete", ns)
        fds: list[int] = []
        cleanup.callback(_close_all, fds)  # ours until the relay has them
        for ns, tun, address in (
            (net.cli, f"awc{pid}", CLI_ADDR),
            (net.srv, f"aws{pid}", SRV_ADDR),
        ):
            try:
                fds.append(open_tun(tun))
            except OSError as exc:
                raise Skipped(f"cannot create a TUN device ({exc.strerror})") from None
            run_ip("link", "set", tun, "netns", ns)  # the fd stays valid in the move
            run_ip("-n", ns, "link", "set", "lo", "up")
            run_ip("-n", ns, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", tun)
            run_ip("-n", ns, "link", "set", tun, "up")

        net.hosts_dir.mkdir(parents=True, exist_ok=True)
        cleanup.callback(_remove_hosts, net.hosts_dir, created_etc_netns)
        (net.hosts_dir / "hosts").write_text(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{CLI_ADDR}\tatmn-wan-client\n{SRV_ADDR}\t{HOST}\n"
        )

        relay_log = (workdir / "relay.log").open("wb")
        cleanup.callback(relay_log.close)
        net.relay = subprocess.Popen(
            [
                PYTHON,
                str(THIS),
                "relay",
                "--fds",
                f"{fds[0]},{fds[1]}",
                "--delay-ms",
                str(delay_ms / 2),
                "--lifetime",
                str(lifetime),
            ],
            stdin=subprocess.PIPE,
            stdout=relay_log,
            stderr=subprocess.STDOUT,
            pass_fds=fds,
            preexec_fn=_die_with_parent,
        )
        _close_all(fds)  # the relay holds them now; they close (and the devices go) with it
        cleanup.callback(stop_process, net.relay)
        yield net


def _close_all(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())


def _remove_hosts(hosts_dir: Path, remove_parent: bool) -> None:
    shutil.rmtree(hosts_dir, ignore_errors=True)
    if remove_parent:
        with contextlib.suppress(OSError):
            hosts_dir.parent.rmdir()


# --- the server side: autumn-local, and a TLS front ---------------------------------------


@dataclass
class Backend:
    """What a client is pointed at, and the services behind it."""

    name: str  # "http" or "https", then " hosted" for the hosted profile
    url: str
    standin: Service
    email: str
    password: str
    front: Service | None = None
    ca_file: Path | None = None


def start_standin(
    net: Network, data: Path, logs: Path, host: str, issuer: str, hosted: bool
) -> Service:
    args = [
        AUTUMN_LOCAL,
        "serve",
        "--host",
        host,
        "--port",
        str(HTTP_PORT),
        "--data",
        str(data),
        "--issuer",
        issuer,
        *(["--hosted"] if hosted else []),
    ]
    # authlib refuses OAuth over plain http unless the host is loopback: here the requests
    # come over plain http from 10.77.0.1, or from the TLS front (which terminates https).
    insecure_ok = {"AUTHLIB_INSECURE_TRANSPORT": "1"}
    return start_service("autumn-local", net.server(args), logs, BANNER, insecure_ok)


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A test CA (trustme) and a certificate for HOST: (CA file, server cert+key file)."""
    try:
        import trustme
    except ImportError:
        raise RuntimeError("TLS runs need trustme: .venv/bin/pip install trustme") from None
    ca = trustme.CA()
    ca_file, server_file = directory / "ca.pem", directory / "server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(server_file))
    return ca_file, server_file


def start_backend(net: Network, kind: str, workdir: Path, lifetime: float) -> Backend:
    """autumn-local with the issuer the CLI expects; for "https" behind the TLS front; with
    " hosted", its hosted profile."""
    hosted = kind.endswith(" hosted")
    slug = kind.replace(" ", "-")
    data = workdir / f"data-{slug}"
    if not kind.startswith("https"):
        url = f"http://{HOST}:{HTTP_PORT}"
        log_file = workdir / f"autumn-local-{slug}.log"
        standin = start_standin(net, data, log_file, SRV_ADDR, url, hosted)
        banner = standin.tail.wait_for(BANNER, 0)
        return Backend(kind, url, standin, banner["email"], banner["password"])
    url = f"https://{HOST}:{TLS_PORT}"
    ca_file, server_file = make_certificates(workdir)
    log_file = workdir / f"autumn-local-{slug}.log"
    standin = start_standin(net, data, log_file, "127.0.0.1", url, hosted)
    banner = standin.tail.wait_for(BANNER, 0)
    backend = Backend(kind, url, standin, banner["email"], banner["password"], ca_file=ca_file)
    try:
        front_args = [PYTHON, str(THIS), "front", "--listen", SRV_ADDR, "--port", str(TLS_PORT)]
        front_args += ["--backend", f"127.0.0.1:{HTTP_PORT}", "--cert", str(server_file)]
        front_args += ["--lifetime", str(lifetime)]
        backend.front = start_service(
            "tls-front", net.server(front_args), workdir / "front.log", re.compile("^ready$")
        )
    except BaseException:
        standin.stop()
        raise
    return backend


def stop_backend(backend: Backend) -> None:
    if backend.front is not None:
        backend.front.stop()
    backend.standin.stop()


async def _front(listen: str, port: int, backend: str, cert: str, lifetime: float) -> None:
    import asyncio
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert)
    back_host, back_port = backend.rsplit(":", 1)
    accepted = itertools.count(1)

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            sink.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        print(f"accept {next(accepted)} {time.time_ns()}", flush=True)  # handshake done
        try:
            back_reader, back_writer = await asyncio.open_connection(back_host, int(back_port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, back_writer), pipe(back_reader, writer))

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def watch_stdin() -> None:  # end-of-file: the harness has gone
        while sys.stdin.buffer.read(4096):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server = await asyncio.start_server(handle, listen, port, ssl=context)
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), lifetime)
    server.close()


# --- one timed command in the client namespace ------------------------------------------


def timed(result_file: str, args: list[str], timeout: float) -> int:
    """In-namespace launcher: runs `args`, writes {code, start_ns, end_ns} to `result_file`.

    Timing here leaves `ip netns exec` (and this interpreter's start) out of the figures. The
    wait is a blocking waitpid (`Popen.wait(timeout)` would poll in sleeps of up to 50 ms);
    a timer kills the command after `timeout` seconds.
    """
    start = time.time_ns()
    process = subprocess.Popen(args)
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    code = process.wait()
    end = time.time_ns()
    killer.cancel()
    Path(result_file).write_text(json.dumps({"code": code, "start_ns": start, "end_ns": end}))
    return 0


@dataclass
class Ran:
    code: int
    start_ns: int
    end_ns: int
    stdout: str
    stderr: str

    @property
    def wall_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def run_client(
    net: Network, args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> Ran:
    """Runs `args` in the client namespace with stdin from /dev/null, timed from inside."""
    with tempfile.TemporaryDirectory(prefix="atmn-wan-run-") as tmp:
        result = Path(tmp) / "result.json"
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        launcher = [PYTHON, "-I", "-S", str(THIS), "timed", "--timeout", str(timeout), str(result)]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                net.client([*launcher, "--", *args]),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                process.wait(timeout + 15)
            except subprocess.TimeoutExpired:
                pass
            finally:  # on a timeout, and when this harness is interrupted
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        text_out, text_err = out.read_text(errors="replace"), err.read_text(errors="replace")
        if not result.exists():
            raise RuntimeError(f"{args[0]} left no timing (launcher exit {process.returncode})")
        got = json.loads(result.read_text())
        return Ran(got["code"], got["start_ns"], got["end_ns"], text_out, text_err)


# --- the clients --------------------------------------------------------------------------


@dataclass
class Client:
    """One CLI: how to run `env` and `login`, and a local-only reference command."""

    name: str
    env_args: list[str]
    login_args: list[str]
    reference_args: list[str]
    reference_label: str


def our_client(atmn: str = ATMN) -> Client:
    return Client(
        name="atmn (this repository)",
        env_args=[atmn, "env"],
        login_args=[
            atmn,
            "login",
            "--force",
            "--keep-replaced",
            "--timeout",
            str(LOGIN_TIMEOUT - 15),
        ],
        reference_args=[atmn, "env", "--offline"],
        reference_label="`atmn env --offline` (no network: start-up and local work)",
    )


def npm_client() -> Client:
    node = shutil.which("node") or "node"
    return Client(
        name=f"published atmn (npm {npm_version()})",
        env_args=[node, str(NPM_CLI), "env"],
        login_args=[node, str(NPM_CLI), "login"],
        reference_args=[node, str(NPM_CLI), "version"],
        reference_label="`atmn version` (no network: start-up)",
    )


def npm_version() -> str:
    try:
        package = json.loads((NPM_CLI.parent.parent / "package.json").read_text())
        return f"atmn {package['version']}"
    except (OSError, ValueError, KeyError):
        return NPM_SPEC


def install_npm_cli() -> str | None:
    """Installs the published CLI into NPM_DIR when missing; None, or why it cannot run."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node or npm is not installed"
    if NPM_CLI.exists():
        return None
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    log(f"installing {NPM_SPEC} into {NPM_DIR}")
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_DIR), NPM_SPEC],
            capture_output=True,
            text=True,
            timeout=NPM_INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"`npm install {NPM_SPEC}` did not finish in {NPM_INSTALL_TIMEOUT:.0f} s"
    if done.returncode != 0 or not NPM_CLI.exists():
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"`npm install {NPM_SPEC}` failed: {last}"
    return None


def client_env(backend: Backend, home: Path, fake_bin: Path) -> dict[str, str]:
    """A clean environment pointed at `backend`, trusting its CA, with the scripted browser."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{fake_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CACHE_HOME": str(home / ".cache"),
        "ATMN_BACKEND_URL": backend.url,
        "BROWSER": f"{PYTHON} {SCRIPTED_BROWSER} %s",
        "SCRIPTED_BROWSER_EMAIL": backend.email,
        "SCRIPTED_BROWSER_PASSWORD": backend.password,
        "SCRIPTED_BROWSER_ORG": ORG,
        "SCRIPTED_BROWSER_ACTION": "approve",
        "SCRIPTED_BROWSER_LOG": str(home / "browser.log"),
        "NO_COLOR": "1",
    }
    if backend.ca_file is None:
        env["ATMN_ALLOW_INSECURE_HTTP"] = "1"  # plain http to a host that is not loopback
    else:
        env["SSL_CERT_FILE"] = str(backend.ca_file)  # atmn (and the scripted browser)
        env["NODE_EXTRA_CA_CERTS"] = str(backend.ca_file)  # the published CLI
        env["SCRIPTED_BROWSER_CA"] = str(backend.ca_file)
    return env


def make_fake_xdg_open(directory: Path) -> Path:
    """`xdg-open URL` that runs the scripted browser: how the published CLI opens a browser."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "xdg-open"
    script.write_text(f'#!/bin/sh\nexec "{PYTHON}" "{SCRIPTED_BROWSER}" "$1"\n')
    script.chmod(0o755)
    return directory


# --- runs ---------------------------------------------------------------------------------


@dataclass
class Traffic:
    """What the server saw of one run."""

    requests: int = 0
    connections: int = 0  # distinct TCP connections the requests came on
    new_connections: int = 0  # of those, the ones with no request before the window
    tls_accepted: int | None = None  # connections (TLS handshakes) the front accepted
    errors: int = 0  # requests answered with a status of 400 or more
    calls: list[str] = field(default_factory=list)  # "METHOD /path #conn", in order


@dataclass
class RunFigures:
    ms: float  # the figure: start to exit (env), callback to exit (login)
    total_ms: float
    traffic: Traffic
    ok: bool
    note: str = ""


def request_lines(backend: Backend, start_ns: int, end_ns: int) -> list[tuple[Line, str, int, int]]:
    """The CLI's requests logged in the window: (line, "METHOD /path", connection number,
    status)."""
    found = []
    for line in backend.standin.tail.between(start_ns, end_ns):
        match = LOG_LINE.match(line.text)
        if match and CLI_PATHS.match(match["path"]):
            call = f"{match['method']} {match['path']}"
            found.append((line, call, int(match["conn"]), int(match["status"])))
    return found


def traffic(backend: Backend, start_ns: int, split_ns: int, end_ns: int) -> Traffic:
    """The CLI's requests and connections after `split_ns` (within start..end)."""
    lines = request_lines(backend, start_ns, end_ns)
    before = {conn for line, _, conn, _ in lines if line.at_ns < split_ns}
    after = [entry for entry in lines if entry[0].at_ns >= split_ns]
    conns = {conn for _, _, conn, _ in after}
    seen = Traffic(len(after), len(conns), len(conns - before))
    seen.calls = [f"{call} #{conn}" for _, call, conn, _ in after]
    seen.errors = sum(1 for _, _, _, status in after if status >= 400)
    if backend.front is not None:
        seen.tls_accepted = sum(
            1
            for line in backend.front.tail.between(start_ns, end_ns + 10**9)
            if (m := FRONT_ACCEPT.match(line.text)) and split_ns <= int(m["ns"]) <= end_ns
        )
    return seen


def settle() -> None:
    """Lets the log readers catch up with what the server printed before the client exited."""
    time.sleep(0.2)


def run_env(
    net: Network, backend: Backend, client: Client, project: Path, env: dict[str, str]
) -> RunFigures:
    ran = run_client(net, client.env_args, cwd=project, env=env, timeout=ENV_TIMEOUT)
    settle()
    seen = traffic(backend, ran.start_ns, ran.start_ns, ran.end_ns)
    note = "" if ran.code == 0 else _first_error(ran)
    return RunFigures(ran.wall_ms, ran.wall_ms, seen, ran.code == 0, note)


def run_reference(net: Network, client: Client, project: Path, env: dict[str, str]) -> RunFigures:
    ran = run_client(net, client.reference_args, cwd=project, env=env, timeout=ENV_TIMEOUT)
    note = "" if ran.code == 0 else _first_error(ran)
    return RunFigures(ran.wall_ms, ran.wall_ms, Traffic(), ran.code == 0, note)


def run_login(
    net: Network, backend: Backend, client: Client, project: Path, env: dict[str, str]
) -> RunFigures:
    project.mkdir(parents=True)
    stamp = project.parent / f"{project.name}.callback"
    env = dict(env, SCRIPTED_BROWSER_CALLBACK_TIME_FILE=str(stamp))
    ran = run_client(net, client.login_args, cwd=project, env=env, timeout=LOGIN_TIMEOUT)
    settle()
    ok = ran.code == 0 and stamp.exists() and "AUTUMN_SECRET_KEY=" in _read(project / ".env")
    if not stamp.exists():
        browser = (_read(Path(env["SCRIPTED_BROWSER_LOG"])).strip().splitlines() or ["-"])[-1]
        why = f"the browser never sent the callback (CLI: {_first_error(ran)}; browser: {browser})"
        return RunFigures(0.0, ran.wall_ms, Traffic(), False, why)
    callback_ns = int(stamp.read_text())
    seen = traffic(backend, ran.start_ns, callback_ns, ran.end_ns)
    ms = (ran.end_ns - callback_ns) / 1e6
    return RunFigures(ms, ran.wall_ms, seen, ok, "" if ok else _first_error(ran))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _first_error(ran: Ran) -> str:
    text = (ran.stderr + "\n" + ran.stdout).strip()
    lines = [ln for ln in text.splitlines() if "error" in ln.lower() or "fail" in ln.lower()]
    return (lines or text.splitlines() or [f"exit {ran.code}"])[0][:200]


@dataclass
class Series:
    """Repeated runs of one figure."""

    client: str
    link: str
    figure: str
    runs: list[RunFigures] = field(default_factory=list)
    minimum_ms: float | None = None
    target_ms: float | None = None
    not_run: str | None = None

    @property
    def good(self) -> list[RunFigures]:
        return [r for r in self.runs if r.ok]

    def median(self) -> float:
        return statistics.median(r.ms for r in self.good)

    def p90(self) -> float:
        values = sorted(r.ms for r in self.good)
        if len(values) < 2:
            return values[0]
        return statistics.quantiles(values, n=10, method="inclusive")[-1]

    def per_run(self, pick: Callable[[Traffic], int | None]) -> str:
        counts = [pick(r.traffic) for r in self.good]
        known = [c for c in counts if c is not None]
        if not known:
            return NONE
        low, high = min(known), max(known)
        return str(low) if low == high else f"{low} to {high}"


def measure(
    series: Series, runs: int, once: Callable[[int], RunFigures], warmup: bool = True
) -> Series:
    for n in range(-1 if warmup else 0, runs):
        figures = once(n)
        label = "warm-up" if n < 0 else f"{n + 1}/{runs}"
        extra = f" ({figures.note})" if figures.note else ""
        t = figures.traffic
        log(
            f"  {series.client} {series.link} {series.figure} {label}: {figures.ms:.1f} ms, "
            f"{t.requests} requests, {t.connections} connections ({t.new_connections} new)"
            + (f", {t.tls_accepted} TLS accepted" if t.tls_accepted is not None else "")
            + ("" if figures.ok else " FAILED")
            + extra
        )
        if n >= 0:
            series.runs.append(figures)
    return series


# --- what the link could do at best -------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """The round trips no client can avoid, and the target: bound plus 50 ms of local work."""

    round_trips: int
    why: str

    def ms(self, rtt: float) -> float:
        return self.round_trips * rtt

    def target(self, rtt: float) -> float:
        return self.ms(rtt) + 50.0


ENV_BOUND = {
    "http": Bound(2, "TCP handshake + `GET /v1/organization/me`"),
    "https": Bound(3, "TCP handshake + TLS 1.3 handshake + `GET /v1/organization/me`"),
}
LOGIN_BOUND = Bound(
    3,
    "token exchange, then minting (needs the access token), then revoking the OAuth grant "
    "(only once minting is done) beside `/v1/organization/me` with the new key (whose keys "
    "they are; hosted Autumn says so nowhere else), on a connection opened (TCP, TLS) while "
    "the person was in the browser and a second one opened while the code was exchanged",
)


def link_check(net: Network, backend: Backend) -> str:
    """Median TCP connect time (and TLS handshake) from the client namespace, in words."""
    port = TLS_PORT if backend.ca_file else HTTP_PORT
    code = f"""
import socket, ssl, statistics, time
tcp, tls = [], []
ca = {str(backend.ca_file) if backend.ca_file else None!r}
ctx = ssl.create_default_context(cafile=ca) if ca else None
for _ in range(5):
    t0 = time.perf_counter()
    s = socket.create_connection(({HOST!r}, {port}), timeout=5)
    t1 = time.perf_counter()
    if ctx:
        s = ctx.wrap_socket(s, server_hostname={HOST!r})
        tls.append((time.perf_counter() - t1) * 1000)
        version = s.version()
    tcp.append((t1 - t0) * 1000)
    s.close()
print(f"TCP connect {{statistics.median(tcp):.1f}} ms", end="")
if tls:
    print(f", {{version}} handshake {{statistics.median(tls):.1f}} ms", end="")
print()
"""
    done = subprocess.run(
        net.client([PYTHON, "-c", code]), capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"the link does not work: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


# --- one link: every client over it --------------------------------------------------------


def bench_link(
    net: Network,
    kind: str,
    clients: list[Client],
    runs: int,
    rtt: float,
    workdir: Path,
    lifetime: float,
) -> tuple[list[Series], str]:
    """Every client over one kind of link ("http" or "https"): its series and link check."""
    backend = start_backend(net, kind, workdir, lifetime)
    results: list[Series] = []
    try:
        check = link_check(net, backend)
        log(f"{kind}: {check}")
        fake_bin = make_fake_xdg_open(workdir / "bin")
        for index, client in enumerate(clients):
            root = workdir / f"{kind}-client{index}"
            env = client_env(backend, root / "home", fake_bin)
            results += bench_client(net, backend, client, root, env, runs, rtt)
    finally:
        stop_backend(backend)
    return results, f"{kind}: {check}"


def bench_client(
    net: Network,
    backend: Backend,
    client: Client,
    root: Path,
    env: dict[str, str],
    runs: int,
    rtt: float,
) -> list[Series]:
    """Logins first (each in a new project), then `env` in the last project a login keyed."""
    kind = backend.name

    def login_once(n: int) -> RunFigures:
        return run_login(net, backend, client, root / f"login-{n + 1}", env)

    logins = measure(Series(client.name, kind, "login: callback → exit"), runs, login_once)
    logins.minimum_ms, logins.target_ms = LOGIN_BOUND.ms(rtt), LOGIN_BOUND.target(rtt)
    wall = Series(client.name, kind, "login: whole command (sign-in included)")
    wall.runs = [RunFigures(r.total_ms, r.total_ms, r.traffic, r.ok) for r in logins.runs]

    projects = [root / f"login-{n}" for n in range(runs, -1, -1)]  # newest first
    keyed = next((p for p in projects if "AUTUMN_SECRET_KEY=" in _read(p / ".env")), None)
    if keyed is None:
        missing = Series(client.name, kind, "env: start → exit", not_run="no login succeeded")
        return [logins, missing, wall]
    project: Path = keyed

    def env_once(_n: int) -> RunFigures:
        return run_env(net, backend, client, project, env)

    def reference_once(_n: int) -> RunFigures:
        return run_reference(net, client, project, env)

    envs = measure(Series(client.name, kind, "env: start → exit"), runs, env_once)
    bound = ENV_BOUND[kind.split()[0]]
    envs.minimum_ms, envs.target_ms = bound.ms(rtt), bound.target(rtt)
    reference = measure(Series(client.name, kind, client.reference_label), runs, reference_once)
    return [logins, envs, reference, wall]


# --- report ---------------------------------------------------------------------------------


NONE = "-"


def fmt(ms: float | None) -> str:
    return NONE if ms is None else f"{ms:.0f} ms"


def table(results: list[Series]) -> str:
    rows = [
        "| CLI | link | figure | median | p90 | min possible | target | met | "
        "requests / run | answers ≥ 400 / run | TCP connections / run (new) | "
        "TLS handshakes / run | runs ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results:
        if s.not_run or not s.good:
            why = s.not_run or (s.runs[0].note if s.runs else "no runs")
            rows.append(f"| {s.client} | {s.link} | {s.figure} | not run: {why} |" + " |" * 9)
            continue
        networked = not s.figure.startswith("`")
        met = NONE
        if s.target_ms is not None:
            met = "yes" if s.median() <= s.target_ms else "**no**"
        conns = (
            f"{s.per_run(lambda t: t.connections)} ({s.per_run(lambda t: t.new_connections)})"
            if networked and "whole" not in s.figure
            else NONE
        )
        requests = (
            s.per_run(lambda t: t.requests) if networked and "whole" not in s.figure else NONE
        )
        errors = s.per_run(lambda t: t.errors) if networked and "whole" not in s.figure else NONE
        tls = s.per_run(lambda t: t.tls_accepted) if "whole" not in s.figure else NONE
        rows.append(
            f"| {s.client} | {s.link} | {s.figure} | {fmt(s.median())} | {fmt(s.p90())} | "
            f"{fmt(s.minimum_ms)} | {fmt(s.target_ms)} | {met} | {requests} | {errors} | {conns} | "
            f"{tls} | "
            f"{len(s.good)}/{len(s.runs)} |"
        )
    return "\n".join(rows)


def section(
    results: list[Series], checks: list[str], runs: int, rtt: float, npm_note: str | None
) -> str:
    env_http, env_https = ENV_BOUND["http"], ENV_BOUND["https"]
    failures = [
        f"- {s.client}, {s.link}, {s.figure}: {r.note}"
        for s in results
        for r in s.runs
        if not r.ok and r.note
    ]
    sequences = "\n".join(
        f"- {s.client}, {s.link}: " + ", ".join(f"`{c}`" for c in s.good[-1].traffic.calls)
        for s in results
        if s.figure.startswith("login: callback") and s.good
    )
    published = (
        f"The published CLI could not be run: {npm_note}."
        if npm_note
        else (
            f"The published CLI (`npm install {NPM_SPEC}` into {NPM_DIR}, run with node "
            f"{_node_version()}) honours `ATMN_BACKEND_URL` and opens the browser with "
            "`xdg-open` (the `open` package); a stand-in `xdg-open` on PATH runs the scripted "
            "browser. It trusts the test CA through `NODE_EXTRA_CA_CERTS` (node ignores "
            "`SSL_CERT_FILE`). Its `login` (without a terminal) exchanges the code inside its "
            "callback handler, before the browser gets its page, then mints with "
            "`POST /cli/api-keys` and writes `.env`: it lists no organizations and revokes "
            "no OAuth token, so it makes fewer requests than the unavoidable set above."
        )
    )
    return (
        f"## WAN ({rtt:g} ms round trip, {runs} runs each after 1 warm-up)\n\n"
        f"Reproduce (as root; it makes network namespaces and TUN devices, and skips "
        f"otherwise):\n\n    {COMMAND}\n\n"
        f"{_provenance()} A full `bench/run.py` run rewrites this file without this section: run "
        "`bench/wan.py` after it.\n\n"
        "Two network namespaces joined by TUN devices and a relay that delays every packet by "
        f"{rtt / 2:g} ms each way (this kernel has no netem), so every round trip, the TCP and "
        f"TLS handshakes included, costs {rtt:g} ms. autumn-local runs in the server namespace; "
        "for https a TLS 1.3 front (test CA from trustme) terminates TLS in front of it and keeps "
        "client connections alive. The CLI, and the scripted browser it opens, run in the "
        f"client namespace, where `{HOST}` names the server. Link check (from the client "
        f"namespace): {'; '.join(checks)}.\n\n"
        "`login: callback → exit` runs from the moment the browser sends the redirect to the "
        "CLI's loopback callback to the CLI's exit; `env: start → exit` is the whole `atmn env` "
        "(it asks the server about the key). Requests and connections are the CLI's, counted "
        "from autumn-local's request log (`conn=N`: one number per TCP connection); for login "
        "only those after the callback, and *new* connections are those that carried no "
        "request before it. TLS handshakes are the connections the front accepted in that "
        "window.\n\n" + table(results) + "\n\n"
        f"Minimum possible, in round trips of {rtt:g} ms:\n\n"
        f"- `atmn env` over http: {env_http.round_trips} RTT = {env_http.ms(rtt):g} ms "
        f"({env_http.why}); over https: {env_https.round_trips} RTT = {env_https.ms(rtt):g} ms "
        f"({env_https.why}). A new process has no connection to reuse.\n"
        f"- `atmn login`, callback to exit: {LOGIN_BOUND.round_trips} RTT = "
        f"{LOGIN_BOUND.ms(rtt):g} ms: {LOGIN_BOUND.why}. The same on both profiles: the "
        "organization is the consent page's (the token is bound to it), so no organization "
        "list is asked for; opening the connections after the callback would add 1 RTT "
        "(http) or 2 (https). Requests answered with an error are counted per run.\n"
        "- Targets: the minimum plus 50 ms of local work: `atmn env` at most "
        f"{env_http.target(rtt):g} ms over http and {env_https.target(rtt):g} ms over https "
        "(one request over a fresh connection); login from the callback to exit at most "
        f"{LOGIN_BOUND.target(rtt):g} ms (3 RTT + 50 ms). The `--offline` rows show how much "
        "of `atmn env` is start-up and local work with no network at all.\n\n"
        "The requests after the callback in the last login (`#N`: the connection, numbered by "
        "the server):\n\n"
        f"{sequences}\n\n"
        f"{published}{_npm_connections(results)}\n\n"
        + (("Failed runs:\n\n" + "\n".join(failures) + "\n\n") if failures else "")
    ).rstrip() + "\n"


def _npm_connections(results: list[Series]) -> str:
    """A sentence when the published CLI opened a new connection for every request."""
    fresh = [
        s
        for s in results
        if s.client.startswith("published")
        and s.figure.startswith("login: callback")
        and s.good
        and all(r.traffic.new_connections == r.traffic.requests > 1 for r in s.good)
    ]
    if not fresh:
        return ""
    return (
        " After the callback it opened a new connection for each request, so the minting "
        "paid another TCP (and TLS) handshake: Node's fetch does not reuse a kept-alive "
        "connection for a request sent right after the previous response was read (the "
        "socket goes back to the pool a tick later; with a short pause in between it is "
        "reused)."
    )


def _provenance() -> str:
    """When, on what, and which atmn code: the numbers are re-run as the code changes."""
    git = ["git", "-C", str(REPO)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "?", ""
    code = f"commit {commit or '?'}" + (" with uncommitted changes in src/" if dirty else "")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} cores (load "
        f"average {load} at the end), atmn at {code}."
    )


def _node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# --- main ---------------------------------------------------------------------------------


def benchmark(args: argparse.Namespace) -> int:
    clients = [our_client(args.atmn)]
    npm_note: str | None = "left out with --no-npm" if args.no_npm else install_npm_cli()
    if npm_note is None:
        clients.append(npm_client())
    else:
        log(f"published CLI: {npm_note}")
    results: list[Series] = []
    checks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="atmn-wan-") as tmp:
        workdir = Path(tmp)
        try:
            with wan_link(args.rtt_ms, args.lifetime, workdir) as net:
                for kind in ("http", "https", "http hosted", "https hosted"):
                    log(f"{kind}: starting")
                    found, check = bench_link(
                        net, kind, clients, args.runs, args.rtt_ms, workdir, args.lifetime
                    )
                    results += found
                    checks.append(check)
        except Skipped as exc:
            print(f"wan.py: skipped: {exc}")
            return 0
        finally:
            if args.keep_logs:
                kept = Path(tempfile.mkdtemp(prefix="atmn-wan-logs-"))
                for log_file in workdir.glob("*.log"):
                    shutil.copy(log_file, kept)
                log(f"logs kept in {kept}")
    text = section(results, checks, args.runs, args.rtt_ms, npm_note)
    print(table(results))
    if not args.no_write:
        write_section(args.output, "WAN", text)
        log(f"wrote the WAN section of {args.output}")
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    log(f"got signal {signum}")
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each figure (default 10)")
    parser.add_argument("--rtt-ms", type=float, default=50.0, help="round trip (default 50)")
    parser.add_argument("--no-npm", action="store_true", help="leave out the published CLI")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the results file")
    parser.add_argument("--atmn", default=ATMN, help="the atmn command (default: .venv's)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs")
    parser.add_argument(
        "--lifetime", type=float, default=3600.0, help="seconds after which helpers stop"
    )
    roles = parser.add_subparsers(dest="role")  # the helpers this file also runs as
    relay_role = roles.add_parser("relay")
    relay_role.add_argument("--fds", required=True)
    relay_role.add_argument("--delay-ms", type=float, required=True)
    relay_role.add_argument("--lifetime", type=float, default=3600.0)
    front_role = roles.add_parser("front")
    front_role.add_argument("--listen", required=True)
    front_role.add_argument("--port", type=int, required=True)
    front_role.add_argument("--backend", required=True)
    front_role.add_argument("--cert", required=True)
    front_role.add_argument("--lifetime", type=float, default=3600.0)
    timed_role = roles.add_parser("timed")
    timed_role.add_argument("result")
    timed_role.add_argument("--timeout", type=float, required=True)
    timed_role.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.role in ("relay", "front"):
        # Ctrl-C reaches the whole process group: the harness tears these down in order
        # (they also stop when their stdin, a pipe from the harness, reaches end-of-file).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.role == "relay":
        fd_a, fd_b = (int(fd) for fd in args.fds.split(","))
        relay(fd_a, fd_b, args.delay_ms / 1000, args.lifetime)
        return 0
    if args.role == "front":
        import asyncio

        asyncio.run(_front(args.listen, args.port, args.backend, args.cert, args.lifetime))
        return 0
    if args.role == "timed":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return timed(args.result, command, args.timeout)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)  # tear down whatever stops this run
    try:
        return benchmark(args)
    except KeyboardInterrupt:
        log("interrupted; everything was torn down")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
