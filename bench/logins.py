"""`atmn login` against autumn-local, driven by the scripted browser.

Each login runs as `atmn login --org acme --no-browser --debug` in an empty project
directory; this harness reads the sign-in URL it prints and plays the person in the
browser (tests/support/scripted_browser.py) up to the redirect to the CLI's callback,
then sends that last request itself, so that it knows when the callback reached the CLI.

Figures:
- callback -> `.env` written, seen from outside: from just before the callback request
  is sent to the `.env`'s modification time (file-system clock, a few ms coarse);
- the same as the CLI reports it (`debug: .env written N ms after the callback`, from
  the callback server handing over the result);
- the whole command's peak resident memory (the CLI alone: the browser is this harness).

The callback ports 31448-31452 are shared with whatever else runs on this machine
(other test suites): a login that finds them taken is retried after a pause.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from harness import ATMN, Launched, Sample, launch
from tests.support.atmn_cli import clean_env
from tests.support.autumn_server import AutumnServer
from tests.support.scripted_browser import browse, run

PORTS = (31448, 31449, 31450, 31451, 31452)
DEBUG_WRITTEN = re.compile(r"debug: \.env written ([0-9.]+) ms after the callback")
DEBUG_PORT = re.compile(r"debug: callback server on http://[^:]+:(\d+)/")
PORTS_TAKEN = "in use on"
RETRY_PAUSE = 0.5
MAX_ATTEMPTS = 40
URL_TIMEOUT = 30.0


class PortClash(Exception):
    """Another program holds a callback port this login needed."""


@dataclass
class Login:
    """One running `atmn login`; its stderr is read on a thread."""

    project: Path
    launched: Launched
    lines: list[str] = field(default_factory=list)
    url: str | None = None
    got_url: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def read(self) -> None:
        assert self.launched.process.stderr is not None
        for raw in self.launched.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if self.url is None and line.startswith("    http"):
                self.url = line.strip()
                self.got_url.set()
        self.got_url.set()  # EOF: it exited before printing a URL

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def port(self) -> int | None:
        match = DEBUG_PORT.search(self.stderr)
        return int(match[1]) if match else None

    @property
    def running(self) -> bool:
        return self.launched.process.poll() is None

    def finish(self) -> tuple[int, float, float]:
        """Exit code, wall ms (start to exit) and peak MB of `atmn login`."""
        code, wall, peak = self.launched.wait()
        if self.reader is not None:
            self.reader.join(10)
        return code, wall, peak

    def kill(self) -> None:
        self.launched.kill()
        if self.reader is not None:
            self.reader.join(10)


def start_login(server: AutumnServer, project: Path, home: Path) -> Login:
    env = clean_env(home, ATMN_BACKEND_URL=server.url)
    args = [
        ATMN,
        "login",
        "--org",
        "acme",
        "--no-browser",
        "--no-device",
        "--debug",
        "--timeout",
        "60",
    ]
    launched = launch(args, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    login = Login(project, launched)
    login.reader = threading.Thread(target=login.read, daemon=True)
    login.reader.start()
    return login


def wait_for_url(login: Login) -> str:
    """The sign-in URL; PortClash when every port was taken, RuntimeError on other failures."""
    if not login.got_url.wait(URL_TIMEOUT):
        login.kill()
        raise RuntimeError("atmn login printed no sign-in URL in time")
    if login.url is None:
        code, _, _ = login.finish()
        if PORTS_TAKEN in login.stderr:
            raise PortClash(login.stderr)
        raise RuntimeError(f"atmn login exited {code} before waiting:\n{login.stderr}")
    return login.url


def env_keys(project: Path) -> dict[str, str]:
    text = (project / ".env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@dataclass
class LoginFigures:
    outside_ms: Sample = field(default_factory=Sample)
    reported_ms: Sample = field(default_factory=Sample)
    peak: Sample = field(default_factory=lambda: Sample(unit="MB"))
    wall: Sample = field(default_factory=Sample)
    clashes: int = 0


def one_login(server: AutumnServer, root: Path, n: int, figures: LoginFigures) -> None:
    home = root / f"home-{n}"
    home.mkdir()
    for _ in range(MAX_ATTEMPTS):
        project = root / f"login-{n}-{figures.clashes}"
        project.mkdir()
        login = start_login(server, project, home)
        try:
            url = wait_for_url(login)
        except PortClash:
            figures.clashes += 1
            time.sleep(RETRY_PAUSE)
            continue
        try:
            redirect = browse(
                url, email=server.email, password=server.password, org="acme", follow_callback=False
            )
            location = redirect.response.headers["location"]
            with httpx2.Client(timeout=30) as client:
                sent_ns = time.time_ns()
                answer = client.get(location)
            if answer.status_code != 200:
                raise RuntimeError(f"the callback page answered {answer.status_code}")
        except BaseException:
            login.kill()
            raise
        code, wall, peak = login.finish()
        if code != 0:
            raise RuntimeError(f"atmn login exited {code}:\n{login.stderr}")
        written = DEBUG_WRITTEN.search(login.stderr)
        if written is None:
            raise RuntimeError(f"no '.env written' debug line:\n{login.stderr}")
        keys = env_keys(project)
        if not keys.get("AUTUMN_SECRET_KEY", "").startswith("am_sk_test_"):
            raise RuntimeError("the sandbox key was not written")
        mtime_ns = (project / ".env").stat().st_mtime_ns
        figures.outside_ms.add((mtime_ns - sent_ns) / 1e6)
        figures.reported_ms.add(float(written[1]))
        figures.peak.add(peak)
        figures.wall.add(wall)
        return
    raise RuntimeError(f"the callback ports stayed taken for {MAX_ATTEMPTS} attempts")


def measure_single(
    server: AutumnServer, root: Path, runs: int, log: Callable[[str], None]
) -> LoginFigures:
    figures = LoginFigures()
    for n in range(runs + 1):
        scratch = LoginFigures()
        one_login(server, root, n, scratch if n == 0 else figures)  # the first one warms up
        figures.clashes += scratch.clashes
    log(f"login: {runs} logins done ({figures.clashes} port clashes retried)")
    return figures


@dataclass
class Crowd:
    """One run of five logins at once plus a sixth."""

    ports: list[int]
    sixth_code: int
    sixth_stderr: str
    sixth_ms: float
    all_ok: bool
    five_ms: float


def five_at_once(server: AutumnServer, root: Path, tag: str) -> Crowd | None:
    """None when a port was taken by someone else (the caller retries)."""
    home = root / f"crowd-home-{tag}"
    home.mkdir()
    logins: list[Login] = []
    try:
        began = time.perf_counter()
        for n in range(5):
            project = root / f"crowd-{tag}-{n}"
            project.mkdir()
            logins.append(start_login(server, project, home))
        urls = [wait_for_url(login) for login in logins]
        sixth_dir = root / f"crowd-{tag}-6"
        sixth_dir.mkdir()
        sixth = start_login(server, sixth_dir, home)
        sixth_code, sixth_ms, _ = sixth.finish()
        errors: list[BaseException] = []

        def sign_in(url: str) -> None:
            try:
                answer = run(url, email=server.email, password=server.password, org="acme")
                if answer.status_code != 200:
                    raise RuntimeError(f"callback page answered {answer.status_code}")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sign_in, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        codes = [login.finish()[0] for login in logins]
        five_ms = (time.perf_counter() - began) * 1000
        ports = sorted(p for p in (login.port() for login in logins) if p is not None)
        ok = (
            not errors
            and codes == [0] * 5
            and all(env_keys(login.project).get("AUTUMN_PROD_SECRET_KEY") for login in logins)
        )
        if not ok:
            details = "\n---\n".join(login.stderr for login in logins)
            raise RuntimeError(f"a login failed: {errors} {codes}\n{details}")
        return Crowd(ports, sixth_code, sixth.stderr, sixth_ms, ok, five_ms)
    except PortClash:
        return None
    finally:
        for login in logins:
            if login.running:
                login.kill()


def measure_crowd(
    server: AutumnServer, root: Path, runs: int, log: Callable[[str], None]
) -> tuple[list[Crowd], int]:
    crowds: list[Crowd] = []
    clashes = 0
    attempt = 0
    while len(crowds) < runs:
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            raise RuntimeError(f"the callback ports stayed taken for {MAX_ATTEMPTS} attempts")
        crowd = five_at_once(server, root, f"{attempt}")
        if crowd is None:
            clashes += 1
            time.sleep(RETRY_PAUSE)
            continue
        crowds.append(crowd)
    log(f"five at once: {runs} runs done ({clashes} port clashes retried)")
    return crowds, clashes


def start_server(root: Path) -> AutumnServer:
    data = root / "autumn-data"
    data.mkdir()
    return AutumnServer(data).start()
