"""`autumn-local` as its user runs it: serve options, admin commands, the request log."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from support.autumn_server import AUTUMN_LOCAL, free_port
from support.oauth_flow import (
    AUTHORIZE_PATH,
    authorize,
    bearer,
    fetch_token,
    mint,
    oauth_client,
    sign_in,
)
from support.scripted_browser import browser_env


def test_banner_shows_url_and_demo_credentials_that_work(autumn_server):
    banner = autumn_server.log_text().splitlines()[0]
    assert f"http://127.0.0.1:{autumn_server.port}" in banner
    assert autumn_server.email == "demo@autumn.local"
    assert autumn_server.password in banner
    demo = json.loads(autumn_server.admin("demo-user", "--json", check=True).stdout)
    assert demo == {"email": autumn_server.email, "password": autumn_server.password}
    assert sign_in(autumn_server)["access_token"]


def test_ping_tells_whether_a_server_answers(autumn_server):
    up = subprocess.run(
        [str(AUTUMN_LOCAL), "ping", "--port", str(autumn_server.port)], capture_output=True
    )
    assert up.returncode == 0
    down = subprocess.run([str(AUTUMN_LOCAL), "ping", "--port", str(free_port())])
    assert down.returncode == 1


def test_request_log_has_one_line_per_request_and_no_secrets(autumn_server):
    auth = authorize(autumn_server)
    token = fetch_token(autumn_server, auth)
    keys = mint(autumn_server, token["access_token"]).json()
    httpx2.get(autumn_server.url + "/v1/customers", headers=bearer(keys["sandbox_key"]))

    log = autumn_server.log_text()
    secrets = [
        auth.params["code"],
        auth.params["state"],
        auth.verifier,
        token["access_token"],
        token["refresh_token"],
        keys["sandbox_key"],
        keys["prod_key"],
        "code_challenge",
    ]
    for secret in secrets:
        assert secret not in log
    assert "GET /api/auth/oauth2/authorize 302" in log
    assert "POST /api/auth/oauth2/token 200" in log
    assert "POST /cli/api-keys 200" in log
    assert "GET /v1/customers 200" in log


def test_users_and_orgs_added_by_admin_can_sign_in_and_mint(autumn_server):
    assert autumn_server.admin("orgs", "add", "initech", "--name", "Initech").returncode == 0
    added = autumn_server.admin(
        "users", "add", "peter@initech.test", "--password", "tps-report", "--org", "initech"
    )
    assert added.returncode == 0, added.stderr
    auth = authorize(autumn_server, email="peter@initech.test", password="tps-report")
    keys = mint(autumn_server, fetch_token(autumn_server, auth)["access_token"]).json()
    me = httpx2.get(autumn_server.url + "/v1/organization/me", headers=bearer(keys["prod_key"]))
    assert me.json()["name"] == "Initech"

    duplicate = autumn_server.admin("orgs", "add", "initech", "--name", "Again")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    unknown = autumn_server.admin("users", "add", "x@y.test", "--password", "p", "--org", "nope")
    assert unknown.returncode == 1 and "nope" in unknown.stderr

    # the same member twice (in another case, too) is one membership, not a traceback
    twice = autumn_server.admin(
        "orgs", "add", "hooli", "--name", "Hooli",
        "--member", "peter@initech.test", "--member", "PETER@initech.test",
    )  # fmt: skip
    assert twice.returncode == 0, twice.stderr
    assert "Traceback" not in twice.stderr
    auth = authorize(autumn_server, org="hooli", email="peter@initech.test", password="tps-report")
    keys = mint(autumn_server, fetch_token(autumn_server, auth)["access_token"]).json()
    me = httpx2.get(autumn_server.url + "/v1/organization/me", headers=bearer(keys["prod_key"]))
    assert me.json()["name"] == "Hooli"


def test_disable_extensions_to_look_like_hosted_autumn(start_autumn_server):
    server = start_autumn_server(disable=["organizations", "metadata", "iss", "revoke-key"])
    meta = httpx2.get(server.url + "/.well-known/oauth-authorization-server")
    assert meta.status_code == 404

    auth = authorize(server)
    assert "iss" not in auth.params and "code" in auth.params
    token = fetch_token(server, auth)
    orgs = httpx2.get(server.url + "/cli/organizations", headers=bearer(token["access_token"]))
    assert orgs.status_code == 404
    keys = mint(server, token["access_token"]).json()
    deleted = httpx2.delete(
        server.url + "/cli/api-keys/current", headers=bearer(keys["sandbox_key"])
    )
    assert deleted.status_code == 404
    me = httpx2.get(server.url + "/v1/organization/me", headers=bearer(keys["sandbox_key"]))
    assert me.status_code == 200


def test_disable_iss_alone_says_so_in_metadata(start_autumn_server):
    server = start_autumn_server(disable=["iss"])
    meta = httpx2.get(server.url + "/.well-known/oauth-authorization-server").json()
    assert meta["authorization_response_iss_parameter_supported"] is False
    denied = authorize(server, action="deny")
    assert denied.params["error"] == "access_denied" and "iss" not in denied.params


def test_metadata_describes_the_server(autumn_server):
    from authlib.oauth2 import rfc8414, rfc9207

    meta = httpx2.get(autumn_server.url + "/.well-known/oauth-authorization-server").json()
    rfc8414.AuthorizationServerMetadata(meta).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata]
    )
    issuer = autumn_server.issuer
    assert meta["issuer"] == issuer == f"http://localhost:{autumn_server.port}"
    assert meta["authorization_endpoint"] == issuer + "/api/auth/oauth2/authorize"
    assert meta["token_endpoint"] == issuer + "/api/auth/oauth2/token"
    assert meta["revocation_endpoint"] == issuer + "/api/auth/oauth2/revoke"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert len(meta["scopes_supported"]) == 20


def test_issuer_option_sets_metadata_and_iss(start_autumn_server):
    server = start_autumn_server(issuer="http://localhost:9999/autumn")
    meta = httpx2.get(server.url + "/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == "http://localhost:9999/autumn"
    assert authorize(server).params["iss"] == "http://localhost:9999/autumn"


class _Callback(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]]

    def do_GET(self) -> None:
        self.received.append(parse_qs(urlsplit(self.path).query))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"signed in")

    def log_message(self, format, *args):
        pass


@pytest.fixture
def callback_listener() -> Iterator[tuple[int, list[dict[str, list[str]]]]]:
    """A loopback listener on the first free port of 31448-31452, like a CLI's callback."""
    received: list[dict[str, list[str]]] = []
    handler = type("Handler", (_Callback,), {"received": received})
    for port in range(31448, 31453):
        try:
            server = http.server.HTTPServer(("127.0.0.1", port), handler)
            break
        except OSError:
            continue
    else:
        pytest.fail("all callback ports 31448-31452 are busy")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, received
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_scripted_browser_as_the_browser_of_pythons_webbrowser(
    autumn_server, callback_listener, tmp_path, action
):
    port, received = callback_listener
    url, state = oauth_client(redirect_uri=f"http://127.0.0.1:{port}/").create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    log = tmp_path / "browser.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update(browser_env(autumn_server, org="globex", action=action, log=str(log)))
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, webbrowser; sys.exit(not webbrowser.open(sys.argv[1]))",
            url,
        ],
        env=env,
        timeout=30,
    )
    assert opened.returncode == 0
    assert len(received) == 1
    assert received[0]["state"] == [state]
    if action == "approve":
        assert "code" in received[0]
    else:
        assert received[0]["error"] == ["access_denied"]
    line = log.read_text()
    assert f"{action} org=globex" in line and "status=200" in line
    assert state not in line


def test_sigterm_stops_the_server_cleanly(autumn_server):
    autumn_server.stop()
    assert autumn_server.returncode == 0
    assert autumn_server.log_text().rstrip().endswith("autumn-local stopped")
    with pytest.raises(httpx2.TransportError):
        httpx2.get(autumn_server.url + "/healthz", timeout=2)


def test_in_process_server_for_embedding(tmp_path):
    from autumn_local.server import start

    lines: list[str] = []
    running = start(tmp_path / "data", port=0, log=lines.append, disabled=["metadata"])
    try:
        assert running.url == f"http://127.0.0.1:{running.port}"
        assert running.issuer == f"http://localhost:{running.port}"
        token = sign_in(running)
        assert mint(running, token["access_token"]).status_code == 200
        meta = httpx2.get(running.url + "/.well-known/oauth-authorization-server")
        assert meta.status_code == 404
    finally:
        running.shutdown()
    assert any(line.startswith("POST /cli/api-keys 200") for line in lines)
    with pytest.raises(httpx2.TransportError):
        httpx2.get(running.url + "/healthz", timeout=2)
