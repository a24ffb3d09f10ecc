"""The start link: the single-use address the browser is opened on instead of the sign-in URL.

A command line is readable by every user of the machine (`/proc/PID/cmdline`, `ps`); the
sign-in URL carries `state` and the PKCE challenge, enough for another user to finish the
sign-in with their own account first. The browser gets `http://localhost:PORT/start/<random>`
instead, which redirects once to the sign-in URL.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from atmn_auth.loopback.callback import CallbackServer, peer_uid

from .helpers import CODE, STATE, assert_safe_page, assert_still_waiting, callback, request

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
SIGN_IN_URL = (
    "http://127.0.0.1:8080/api/auth/oauth2/authorize?response_type=code&client_id=cli"
    f"&redirect_uri=http%3A%2F%2Flocalhost%3A31448%2F&state={STATE}"
    f"&code_challenge={CHALLENGE}&code_challenge_method=S256"
)
LINK = re.compile(r"http://localhost:(\d+)/start/([A-Za-z0-9_-]{43})")


def path_of(link: str) -> str:
    return urlsplit(link).path


def assert_gives_nothing_away(raw: bytes) -> None:
    for secret in (STATE, CHALLENGE, "state=", "code_challenge"):
        assert secret.encode() not in raw


def test_the_link_redirects_once_to_the_sign_in_url(server: CallbackServer) -> None:
    link = server.start_link(SIGN_IN_URL)
    match = LINK.fullmatch(link)
    assert match, link
    assert int(match.group(1)) == server.port
    assert_gives_nothing_away(link.encode())

    first = request(server.port, path_of(link))
    assert first.status == 303
    assert first.headers["location"] == SIGN_IN_URL
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    head, _, body = first.raw.partition(b"\r\n\r\n")
    assert_gives_nothing_away(body)  # the URL is in the Location header and nowhere else
    assert head.count(STATE.encode()) == 1

    again = request(server.port, path_of(link))
    assert again.status == 410
    assert "location" not in again.headers
    assert_safe_page(again)
    assert_gives_nothing_away(again.raw)
    assert "already used" in again.body
    assert "return to your terminal" in again.body
    assert "printed there" in again.body
    # using the link settles nothing; the browser's redirect still does
    assert_still_waiting(server)
    assert callback(server.port).status == 200
    assert server.wait(5).params["code"] == CODE


@pytest.mark.parametrize(
    "wrong",
    [
        lambda t: "A" * len(t),  # same length
        lambda t: t[:-1],  # a prefix
        lambda t: t + "x",
        lambda t: "",
        lambda t: t.upper() if t.upper() != t else t.lower(),
    ],
    ids=["same-length", "prefix", "longer", "empty", "other-case"],
)
def test_a_wrong_token_is_not_found_and_leaves_the_link_working(
    server: CallbackServer, wrong
) -> None:  # type: ignore[no-untyped-def]
    link = server.start_link(SIGN_IN_URL)
    token = LINK.fullmatch(link).group(2)  # type: ignore[union-attr]
    guessed = request(server.port, f"/start/{wrong(token)}")
    assert guessed.status == 404
    assert "location" not in guessed.headers
    assert_gives_nothing_away(guessed.raw)
    assert request(server.port, path_of(link)).status == 303


def test_each_link_is_new_and_only_the_latest_works(server: CallbackServer) -> None:
    first = server.start_link(SIGN_IN_URL)
    second = server.start_link(SIGN_IN_URL)
    assert first != second
    assert request(server.port, path_of(first)).status == 404
    assert request(server.port, path_of(second)).status == 303


def test_the_link_is_dead_once_the_sign_in_is_settled(server: CallbackServer) -> None:
    link = server.start_link(SIGN_IN_URL)
    assert callback(server.port).status == 200
    late = request(server.port, path_of(link))
    assert late.status == 410
    assert "location" not in late.headers


@pytest.mark.parametrize("method", ["HEAD", "POST"])
def test_other_methods_do_not_use_the_link(server: CallbackServer, method: str) -> None:
    link = server.start_link(SIGN_IN_URL)
    assert request(server.port, path_of(link), method=method).status == 405
    assert request(server.port, path_of(link)).status == 303


def test_a_foreign_host_cannot_use_the_link(server: CallbackServer) -> None:
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1
    link = server.start_link(SIGN_IN_URL)
    rebound = request(server.port, path_of(link), host_header=f"evil.example:{server.port}")
    assert rebound.status == 400
    assert_gives_nothing_away(rebound.raw)
    assert request(server.port, path_of(link)).status == 303


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's table is Linux's")
def test_the_kernel_names_the_user_at_the_other_end() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert peer_uid(accepted) == os.getuid()
                assert peer_uid(client) == os.getuid()


OTHER_USER_GET = """
import encodings.idna, os, socket, sys  # imported while this is root: /root is private
os.setgid(65534)
os.setuid(65534)  # nobody
port, path = int(sys.argv[1]), sys.argv[2]
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.sendall(f"GET {path} HTTP/1.1\\r\\nHost: localhost:{port}\\r\\n\\r\\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
sys.stdout.write(data.decode("latin-1"))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="playing another user takes root (setuid), and the kernel's table is Linux's",
)
def test_another_user_cannot_use_the_link(server: CallbackServer) -> None:
    """The link is on the browser's command line, which every user can read: another one
    racing the browser to it is turned away, and the browser still gets through."""
    link = server.start_link(SIGN_IN_URL)
    other = subprocess.run(
        [sys.executable, "-c", OTHER_USER_GET, str(server.port), path_of(link)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    status = other.stdout.split("\r\n", 1)[0]
    assert status.startswith("HTTP/1.0 403 "), other.stdout
    assert_gives_nothing_away(other.stdout.encode())
    assert "another user of this computer" in other.stdout
    mine = request(server.port, path_of(link))
    assert mine.status == 303
    assert mine.headers["location"] == SIGN_IN_URL
