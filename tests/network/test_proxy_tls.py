"""`atmn` on the network a user actually has: a forward proxy, a private CA, plain HTTP.

Black-box: the real `atmn` console script in a subprocess with a minimal environment. The
backend is the stand-in behind a TLS front (`https://autumn.test:PORT`, certificate from a
test CA), reachable only through a test proxy that maps `autumn.test` to 127.0.0.1: the
name does not resolve anywhere else, so a request that reaches the stand-in under that name
went through the proxy.

What is specified (and tested here):
- `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (and lowercase) are honoured, and `NO_PROXY`;
  loopback (localhost, 127.0.0.1, ::1) is never proxied;
- TLS trusts the OS store, or exactly `SSL_CERT_FILE`/`SSL_CERT_DIR` when set; a failed
  verification is one line naming host:port and pointing at `SSL_CERT_FILE`;
- plain `http://` to a host that is not loopback is refused (exit 2) unless
  `ATMN_ALLOW_INSECURE_HTTP=1`, before any traffic.

The first tests check the test network itself (proxy, TLS front, scripted browser) with
httpx2 directly, so that a failure further down is the CLI's and not the harness's.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from dotenv import dotenv_values

from support.atmn_cli import clean_env, run_atmn
from support.autumn_server import AutumnServer, free_port
from support.connect_proxy import ConnectProxy
from support.oauth_flow import AUTHORIZE_PATH, bearer, mint, oauth_client, sign_in
from support.scripted_browser import browse, browser_env, make_client
from support.tls_front import TLSFront

FAKE_HOST = "autumn.test"
HOSTS = {FAKE_HOST: "127.0.0.1"}
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
INSECURE_OPT_IN = "ATMN_ALLOW_INSECURE_HTTP"


@dataclass(frozen=True)
class Backend:
    """The stand-in (plain, on 127.0.0.1) and its TLS front; `origin` is its public URL."""

    server: AutumnServer
    front: TLSFront

    @property
    def origin(self) -> str:
        return f"https://{FAKE_HOST}:{self.front.port}"

    @property
    def authority(self) -> str:
        return f"{FAKE_HOST}:{self.front.port}"

    @property
    def ca_file(self) -> str:
        return str(self.front.ca_file)


@dataclass(frozen=True)
class Keys:
    sandbox: str
    live: str


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One stand-in whose OAuth issuer is its TLS front's origin, so that its metadata and
    the `iss` it sends name https://autumn.test:FRONT_PORT.

    The stand-in sees plain HTTP from the front with `Host: autumn.test:PORT`, and authlib
    (rightly) refuses OAuth over http:// to a host that is not loopback. The stand-in has
    no "behind a TLS proxy" option (no X-Forwarded-Proto handling), so its process gets
    authlib's own switch for TLS terminated in front of it, AUTHLIB_INSECURE_TRANSPORT=1.
    """
    base = tmp_path_factory.mktemp("network")
    port = free_port()
    with TLSFront(backend_port=port, directory=base / "tls") as front:
        server = AutumnServer(base / "data", port=port, issuer=f"https://{FAKE_HOST}:{front.port}")
        with pytest.MonkeyPatch.context() as patch:  # AutumnServer passes os.environ on
            patch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
            server.start()
        try:
            yield Backend(server, front)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def keys(backend: Backend) -> Keys:
    """A valid key pair, minted through the real sign-in pages and /cli/api-keys (loopback)."""
    token = sign_in(backend.server)
    response = mint(backend.server, token["access_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    return Keys(body["sandbox_key"], body["prod_key"])


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy(HOSTS) as started:
        yield started


@pytest.fixture
def project(tmp_path: Path, keys: Keys) -> Path:
    """A project directory whose .env holds the valid sandbox key."""
    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text(f"AUTUMN_SECRET_KEY={keys.sandbox}\n")
    return root


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """clean_env (no proxy or CA variables of the machine running the tests) plus `extra`."""
    return clean_env(tmp_path, ATMN_HTTP_TIMEOUT="5", **extra)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def _server_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("Server:")]
    assert len(lines) == 1, _output(result)
    return lines[0]


def _assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, _output(result)


def _assert_no_secret(result: subprocess.CompletedProcess[str], keys: Keys) -> None:
    for secret in (keys.sandbox, keys.live):
        assert secret not in result.stdout + result.stderr


# --- the test network itself ---------------------------------------------------------------


def test_harness_proxy_and_tls_front_reach_the_stand_in(
    backend: Backend, proxy: ConnectProxy
) -> None:
    with httpx2.Client(
        proxy=proxy.url, verify=backend.front.client_context(), trust_env=False, timeout=5
    ) as client:
        first = client.get(f"{backend.origin}/healthz")
        second = client.get(f"{backend.origin}/healthz")
    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["service"] == "autumn-local"
    assert first.json()["issuer"] == backend.origin
    # One tunnel per connection (werkzeug answers `Connection: close`, the front relays it).
    assert set(proxy.seen()) == {("CONNECT", backend.authority)}
    assert "healthz" not in repr(proxy.seen())


def test_harness_test_ca_is_not_trusted_by_default(backend: Backend, proxy: ConnectProxy) -> None:
    """What makes the "no SSL_CERT_FILE" test meaningful: the system store refuses the front."""
    failures = backend.front.handshake_failures
    with (
        httpx2.Client(proxy=proxy.url, trust_env=False, timeout=5) as client,
        pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(f"{backend.origin}/healthz")
    assert proxy.seen() == [("CONNECT", backend.authority)]
    _wait_for(lambda: backend.front.handshake_failures > failures)


def test_harness_proxy_forwards_plain_http_in_absolute_form(
    backend: Backend, proxy: ConnectProxy
) -> None:
    port = backend.server.port
    with httpx2.Client(proxy=proxy.url, trust_env=False, timeout=5) as client:
        response = client.get(f"http://{FAKE_HOST}:{port}/healthz?probe=1")
        again = client.get(f"http://{FAKE_HOST}:{port}/healthz")
    assert response.status_code == 200 and again.status_code == 200
    assert response.json()["service"] == "autumn-local"
    assert response.headers["connection"] == "close"
    assert proxy.seen() == [("GET", f"{FAKE_HOST}:{port}")] * 2
    assert "probe" not in repr(proxy.seen())


def test_harness_proxy_never_looks_up_other_names(proxy: ConnectProxy) -> None:
    with (
        httpx2.Client(proxy=proxy.url, trust_env=False, timeout=5) as client,
        pytest.raises(httpx2.ProxyError),
    ):
        client.get("https://elsewhere.test/")
    assert proxy.seen() == [("CONNECT", "elsewhere.test:443")]


def test_harness_stop_closes_open_tunnels(backend: Backend) -> None:
    proxy = ConnectProxy(HOSTS).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(f"CONNECT {backend.authority} HTTP/1.1\r\n\r\n".encode())
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
            proxy.stop()
            assert sock.recv(1024) == b""  # closed by stop(), not left to time out
    finally:
        proxy.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()


def test_harness_scripted_browser_signs_in_through_its_proxy(
    backend: Backend, proxy: ConnectProxy
) -> None:
    """The browser half of the whole-login test, on its own: pages over TLS via the proxy."""
    url, _state = oauth_client().create_authorization_url(
        backend.origin + AUTHORIZE_PATH, code_verifier="v" * 64, prompt="consent"
    )
    with make_client(proxy.url, backend.ca_file) as client:
        outcome = browse(
            url,
            email=backend.server.email,
            password=backend.server.password,
            org="acme",
            follow_callback=False,
            client=client,
        )
    assert outcome.redirect_uri == "http://localhost:31448/", outcome.describe()
    assert {"code", "state", "iss"} <= set(outcome.params)
    assert outcome.response.headers["location"].count(f"iss=https%3A%2F%2F{FAKE_HOST}") == 1
    assert set(proxy.seen()) == {("CONNECT", backend.authority)}


# --- atmn env through a proxy, over TLS ---------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
def test_env_through_proxy_with_the_ca_file(
    backend: Backend, proxy: ConnectProxy, project: Path, keys: Keys, tmp_path: Path, variable: str
) -> None:
    env = _env(
        tmp_path,
        ATMN_BACKEND_URL=backend.origin,
        SSL_CERT_FILE=backend.ca_file,
        **{variable: proxy.url},
    )

    result = run_atmn(["env"], cwd=project, env=env, timeout=30)

    assert result.returncode == 0, _output(result)
    assert _server_line(result).startswith("Server:       accepted: organization"), _output(result)
    assert proxy.seen(), "atmn did not use the proxy"
    assert set(proxy.seen()) == {("CONNECT", backend.authority)}
    _assert_no_traceback(result)
    _assert_no_secret(result, keys)


def test_env_trusts_a_ca_directory(
    backend: Backend, proxy: ConnectProxy, project: Path, tmp_path: Path
) -> None:
    """SSL_CERT_DIR: a hashed directory (as `openssl rehash` makes) holding the test CA."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to name the CA file by its subject hash")
    ca_dir = tmp_path / "certs"
    ca_dir.mkdir()
    pem = Path(backend.ca_file).read_text()
    (ca_dir / f"{_subject_hash(pem)}.0").write_text(pem)
    env = _env(
        tmp_path,
        ATMN_BACKEND_URL=backend.origin,
        SSL_CERT_DIR=str(ca_dir),
        HTTPS_PROXY=proxy.url,
    )

    result = run_atmn(["env"], cwd=project, env=env, timeout=30)

    assert result.returncode == 0, _output(result)
    assert _server_line(result).startswith("Server:       accepted: organization"), _output(result)
    assert set(proxy.seen()) == {("CONNECT", backend.authority)}


def test_env_without_the_ca_file_says_which_host_and_what_to_set(
    backend: Backend, proxy: ConnectProxy, project: Path, keys: Keys, tmp_path: Path
) -> None:
    env = _env(tmp_path, ATMN_BACKEND_URL=backend.origin, HTTPS_PROXY=proxy.url)
    failures = backend.front.handshake_failures

    result = run_atmn(["env"], cwd=project, env=env, timeout=30)

    assert result.returncode == 1, _output(result)
    mentions = [
        line for line in (result.stdout + result.stderr).splitlines() if "SSL_CERT_FILE" in line
    ]
    assert len(mentions) == 1, _output(result)
    assert mentions[0].startswith("Server:"), _output(result)
    assert backend.authority in mentions[0], _output(result)
    _assert_no_traceback(result)
    _assert_no_secret(result, keys)
    # It went through the proxy and refused the certificate at the TLS layer.
    assert set(proxy.seen()) == {("CONNECT", backend.authority)}
    _wait_for(lambda: backend.front.handshake_failures > failures)


def test_login_without_the_ca_file_is_one_error_line(
    backend: Backend, proxy: ConnectProxy, tmp_path: Path
) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    browser_log = tmp_path / "browser.log"
    env = _env(
        tmp_path,
        ATMN_BACKEND_URL=backend.origin,
        HTTPS_PROXY=proxy.url,
        **browser_env(backend.server, log=str(browser_log)),
    )

    result = run_atmn(["login", "--org", "acme", "--timeout", "10"], cwd=root, env=env)

    assert result.returncode == 1, _output(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("atmn: error:")]
    assert len(errors) == 1, _output(result)
    assert backend.authority in errors[0] and "SSL_CERT_FILE" in errors[0], _output(result)
    _assert_no_traceback(result)
    assert not (root / ".env").exists()


# --- NO_PROXY and loopback -------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
def test_no_proxy_host_is_reached_directly(
    backend: Backend, proxy: ConnectProxy, project: Path, tmp_path: Path, variable: str
) -> None:
    env = _env(
        tmp_path,
        ATMN_BACKEND_URL=backend.origin,
        SSL_CERT_FILE=backend.ca_file,
        HTTPS_PROXY=proxy.url,
        **{variable: FAKE_HOST},
    )

    result = run_atmn(["env"], cwd=project, env=env, timeout=30)

    # Directly, the name does not resolve: the server is unreachable, and the proxy saw nothing.
    assert proxy.seen() == []
    assert result.returncode == 1, _output(result)
    assert "unreachable" in _server_line(result), _output(result)
    _assert_no_traceback(result)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_never_proxied(
    backend: Backend, proxy: ConnectProxy, project: Path, tmp_path: Path, host: str
) -> None:
    every_proxy = {name: proxy.url for name in PROXY_VARIABLES}
    every_proxy.update({name.lower(): proxy.url for name in PROXY_VARIABLES})
    env = _env(tmp_path, ATMN_BACKEND_URL=f"http://{host}:{backend.server.port}", **every_proxy)

    result = run_atmn(["env"], cwd=project, env=env, timeout=30)

    assert result.returncode == 0, _output(result)
    assert _server_line(result).startswith("Server:       accepted: organization"), _output(result)
    assert proxy.seen() == []


# --- plain http:// to a host that is not loopback --------------------------------------------


@pytest.mark.parametrize(
    "args", [["env"], ["login", "--no-browser", "--timeout", "3"]], ids=["env", "login"]
)
def test_plain_http_to_a_remote_host_is_refused(
    backend: Backend, proxy: ConnectProxy, project: Path, tmp_path: Path, args: list[str]
) -> None:
    before = project.joinpath(".env").read_bytes()
    env = _env(
        tmp_path,
        ATMN_BACKEND_URL=f"http://{FAKE_HOST}:{backend.server.port}",
        HTTP_PROXY=proxy.url,
    )

    result = run_atmn(args, cwd=project, env=env, timeout=30)

    assert result.returncode == 2, _output(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, _output(result)
    assert lines[0].startswith("atmn: error:"), _output(result)
    assert f"{INSECURE_OPT_IN}=1" in lines[0], _output(result)
    assert proxy.seen() == []
    assert project.joinpath(".env").read_bytes() == before


def test_plain_http_with_the_opt_in_goes_through_the_proxy(
    backend: Backend, proxy: ConnectProxy, project: Path, tmp_path: Path
) -> None:
    port = backend.server.port
    env = _env(
        tmp_path,
        ATMN_BACKEND_URL=f"http://{FAKE_HOST}:{port}",
        HTTP_PROXY=proxy.url,
        **{INSECURE_OPT_IN: "1"},
    )

    result = run_atmn(["env"], cwd=project, env=env, timeout=30)

    assert result.returncode == 0, _output(result)
    assert _server_line(result).startswith("Server:       accepted: organization"), _output(result)
    assert proxy.seen(), "atmn did not use the proxy"
    assert set(proxy.seen()) == {("GET", f"{FAKE_HOST}:{port}")}


# --- a whole login through a proxy, over TLS ------------------------------------------------


def test_login_through_proxy_over_tls(backend: Backend, tmp_path: Path) -> None:
    """The CLI and the browser each have their own proxy, so each one's traffic is its own."""
    root = tmp_path / "shop"
    root.mkdir()
    (root / ".env").write_text("# shop\nDATABASE_URL=postgres://localhost/shop\n")
    browser_log = tmp_path / "browser.log"
    with ConnectProxy(HOSTS) as cli_proxy, ConnectProxy(HOSTS) as browser_proxy:
        env = _env(
            tmp_path,
            ATMN_BACKEND_URL=backend.origin,
            HTTPS_PROXY=cli_proxy.url,
            SSL_CERT_FILE=backend.ca_file,
            **browser_env(
                backend.server,
                org="acme",
                log=str(browser_log),
                proxy=browser_proxy.url,
                ca=backend.ca_file,
            ),
        )

        result = run_atmn(["login", "--org", "acme", "--timeout", "20"], cwd=root, env=env)

        cli_seen, browser_seen = cli_proxy.seen(), browser_proxy.seen()
    browser_said = browser_log.read_text() if browser_log.exists() else "(browser never ran)"
    assert result.returncode == 0, _output(result) + f"--- browser\n{browser_said}"
    values = dotenv_values(root / ".env")
    sandbox, live = values.get("AUTUMN_SECRET_KEY"), values.get("AUTUMN_PROD_SECRET_KEY")
    assert sandbox and sandbox.startswith("am_sk_test_")
    assert live and live.startswith("am_sk_live_")
    assert values["DATABASE_URL"] == "postgres://localhost/shop"
    for key, kind in ((sandbox, "sandbox"), (live, "live")):
        me = httpx2.get(f"{backend.server.url}/v1/organization/me", headers=bearer(key), timeout=10)
        assert me.status_code == 200 and me.json()["slug"] == "acme"
        assert me.json()["env"] == kind
        assert key not in result.stdout + result.stderr
    # Every call of the CLI went through its proxy, to the TLS origin and nowhere else;
    # the browser used its own, and reached the loopback callback directly.
    assert cli_seen and set(cli_seen) == {("CONNECT", backend.authority)}
    assert browser_seen and set(browser_seen) == {("CONNECT", backend.authority)}
    assert "sign-in" in browser_said and "approve org=acme" in browser_said


# --- helpers ---------------------------------------------------------------------------------


def _wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """The front counts a refused handshake in its own thread: give it a moment."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _subject_hash(pem: str) -> str:
    """OpenSSL's subject-name hash of a certificate (what `openssl rehash` names files by)."""
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-subject_hash"],
        input=pem,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return result.stdout.strip()
