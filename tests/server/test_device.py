"""The device authorization grant (RFC 8628, contract §6): the device endpoint, polling the
token endpoint, the verification page a person uses, and `--disable device`."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from support import scripted_browser
from support.device_requests import backdate
from support.html_page import parse_page
from support.oauth_flow import ALL_SCOPES, CLIENT_ID, TOKEN_PATH, bearer, mint
from support.scripted_browser import approve_device, device_result, parse_forms

DEVICE_PATH = "/api/auth/oauth2/device"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")
METADATA = "/.well-known/oauth-authorization-server"

# --- helpers ------------------------------------------------------------------------------


def request_device(server: Any, address: str = "127.0.0.1", **extra: str) -> dict[str, Any]:
    response = request_device_raw(server, address, **extra)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def request_device_raw(server: Any, address: str = "127.0.0.1", **extra: str) -> httpx2.Response:
    """POST to the device endpoint from `address` (any of 127.0.0.0/8)."""
    data = {"client_id": CLIENT_ID, "scope": ALL_SCOPES, **extra}
    transport = httpx2.HTTPTransport(local_address=address)
    with httpx2.Client(transport=transport, timeout=10) as client:
        return client.post(server.url + DEVICE_PATH, data=data)


def stored_device_requests(server: Any) -> int:
    conn = sqlite3.connect(server.data_dir / "autumn-local.db")
    try:
        return int(conn.execute("SELECT count(*) FROM device_codes").fetchone()[0])
    finally:
        conn.close()


def poll(server: Any, device_code: str, **extra: str) -> httpx2.Response:
    data = {"grant_type": GRANT_TYPE, "device_code": device_code, "client_id": CLIENT_ID}
    return httpx2.post(server.url + TOKEN_PATH, data={**data, **extra}, timeout=10)


def error_of(response: httpx2.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    return str(response.json()["error"])


def approve(server: Any, device: dict[str, Any], **options: Any) -> scripted_browser.Outcome:
    return approve_device(
        device["verification_uri"],
        device["user_code"],
        email=server.email,
        password=server.password,
        **options,
    )


@contextmanager
def signed_in_client(server: Any) -> Iterator[httpx2.Client]:
    """A browser session on the server, signed in as the demo user."""
    with httpx2.Client(base_url=server.url, timeout=10) as client:
        page = client.get("/sign-in")
        form = parse_forms(page.text)[0]
        done = client.post(
            form.action or "/sign-in",
            data={**form.fields, "email": server.email, "password": server.password},
        )
        assert done.status_code == 302
        yield client


def sign_in_again(server: Any, client: httpx2.Client) -> None:
    """Sign out and in again in the same client: a new session."""
    home = parse_forms(client.get("/").text)[0]
    assert client.post("/sign-out", data=home.fields).status_code == 302
    form = parse_forms(client.get("/sign-in").text)[0]
    done = client.post(
        "/sign-in", data={**form.fields, "email": server.email, "password": server.password}
    )
    assert done.status_code == 302


def enter_code(client: httpx2.Client, code: str) -> httpx2.Response:
    page = client.get("/device")
    form = parse_forms(page.text)[0]
    return client.post("/device", data={**form.fields, "user_code": code, "action": "continue"})


def orgs_of(server: Any, access_token: str) -> dict[str, Any]:
    response = httpx2.get(server.url + "/cli/organizations", headers=bearer(access_token))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def slug_id(body: dict[str, Any], slug: str) -> str:
    return str(next(o["id"] for o in body["list"] if o["slug"] == slug))


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def text(page: httpx2.Response, element_id: str) -> str:
    return " ".join(parse_page(page.text).text_by_id[element_id].split())


# --- the device authorization endpoint and the metadata -----------------------------------


def test_device_request_answers_codes_and_where_to_enter_them(autumn_server):
    device = request_device(autumn_server)
    assert set(device) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert USER_CODE.fullmatch(device["user_code"])
    assert len(device["device_code"]) >= 32
    assert device["verification_uri"] == autumn_server.issuer + "/device"
    assert device["verification_uri_complete"] == (
        f"{autumn_server.issuer}/device?user_code={device['user_code']}"
    )
    assert device["expires_in"] == 600
    assert device["interval"] == 5
    other = request_device(autumn_server)
    assert other["user_code"] != device["user_code"]
    assert other["device_code"] != device["device_code"]


def test_only_hashes_of_the_codes_are_stored(autumn_server):
    device = request_device(autumn_server)
    conn = sqlite3.connect(autumn_server.data_dir / "autumn-local.db")
    try:
        rows = conn.execute("SELECT * FROM device_codes").fetchall()
    finally:
        conn.close()
    assert len(rows) == 1
    stored = repr(rows)
    assert device["device_code"] not in stored
    assert device["user_code"] not in stored
    assert device["user_code"].replace("-", "") not in stored
    assert hashlib.sha256(device["device_code"].encode()).hexdigest() in stored


def test_metadata_advertises_the_device_grant(autumn_server):
    meta = httpx2.get(autumn_server.url + METADATA).json()
    assert meta["device_authorization_endpoint"] == autumn_server.issuer + DEVICE_PATH
    assert GRANT_TYPE in meta["grant_types_supported"]
    assert "authorization_code" in meta["grant_types_supported"]


def test_disable_device_removes_it(start_autumn_server):
    server = start_autumn_server(disable=["device"])
    meta = httpx2.get(server.url + METADATA).json()
    assert "device_authorization_endpoint" not in meta
    assert GRANT_TYPE not in meta["grant_types_supported"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    refused = request_device_raw(server)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/json")
    assert httpx2.get(server.url + "/device").status_code == 404
    assert error_of(poll(server, "x" * 42)) == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"scope": "customers:read admin:everything"}, "invalid_scope"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "a" * 43}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_bad_device_requests_are_refused(autumn_server, extra, error):
    response = request_device_raw(autumn_server, **extra)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == error


# --- how many device requests (RFC 8628 §5.1, §5.2) ----------------------------------------
#
# Each request stores a pending code, and every pending user code is one more that a guess
# can hit. Over the per-address rate: 429 `slow_down` (the client asks too often); over the
# cap on pending requests, whoever asks: 503 `temporarily_unavailable` (the server is full).
# Both are RFC 6749 §5.2 JSON errors with Retry-After, and store nothing.


def assert_refused(response: httpx2.Response, status: int, error: str, most: float) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= most
    assert f"try again in {wait} second" in body["error_description"]


def test_device_requests_are_limited_per_address(start_autumn_server):
    server = start_autumn_server(device_request_limit=3, device_request_window=600)
    for _ in range(3):
        request_device(server)
    refused = request_device_raw(server)
    assert_refused(refused, 429, "slow_down", 600)
    assert "from this address" in refused.json()["error_description"]
    assert stored_device_requests(server) == 3
    # Another address has its own count; requests refused as invalid are not counted.
    for _ in range(5):
        invalid = request_device_raw(server, "127.0.0.2", client_id="someone-else")
        assert invalid.json()["error"] == "invalid_client"
    for _ in range(3):
        assert request_device_raw(server, "127.0.0.2").status_code == 200
    assert request_device_raw(server, "127.0.0.2").status_code == 429
    assert request_device_raw(server).status_code == 429
    assert stored_device_requests(server) == 6


def test_the_per_address_limit_is_a_sliding_window(start_autumn_server):
    server = start_autumn_server(device_request_limit=2, device_request_window=2)
    request_device(server)
    request_device(server)
    assert_refused(request_device_raw(server), 429, "slow_down", 2)
    time.sleep(2.2)
    request_device(server)


def test_a_flood_of_device_requests_stores_at_most_the_default_limit(autumn_server):
    """The outside test stored 3,000 requests in under 30 s from one client. With the
    defaults (20 per address per 60 s), 200 requests in parallel store 20."""

    def ask(_: int) -> int:
        return request_device_raw(autumn_server).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(ask, range(200)))
    assert statuses.count(200) == 20 and statuses.count(429) == 180
    assert stored_device_requests(autumn_server) == 20


def test_pending_device_requests_are_capped_overall(start_autumn_server):
    server = start_autumn_server(
        device_pending_limit=3, device_request_limit=100, device_interval=1
    )
    devices = [request_device(server, address=f"127.0.0.{n}") for n in (1, 2, 3)]
    full = request_device_raw(server, "127.0.0.4")
    assert_refused(full, 503, "temporarily_unavailable", 600)
    assert "waiting for approval" in full.json()["error_description"]
    assert stored_device_requests(server) == 3
    # Approved or denied requests are no longer pending: each makes room for one.
    approve(server, devices[0], org="acme")
    request_device(server, address="127.0.0.4")
    approve(server, devices[1], action="deny")
    request_device(server, address="127.0.0.5")
    assert request_device_raw(server, "127.0.0.6").status_code == 503
    # The requests still pending work as before.
    assert error_of(poll(server, devices[2]["device_code"])) == "authorization_pending"
    assert poll(server, devices[0]["device_code"]).status_code == 200


def test_expired_device_requests_are_not_pending(start_autumn_server):
    server = start_autumn_server(device_pending_limit=2, device_ttl=2)
    request_device(server)
    request_device(server)
    assert_refused(request_device_raw(server), 503, "temporarily_unavailable", 2)
    time.sleep(2.2)
    request_device(server)


def test_device_request_limits_are_options_with_their_defaults(autumn_server):
    shown = " ".join(autumn_server.admin("serve", "--help", check=True).stdout.split())
    for option, default in (
        ("--device-request-limit", "20"),
        ("--device-request-window", "60.0"),
        ("--device-pending-limit", "100"),
    ):
        assert re.search(rf"{option} [^\[]*\[default: {re.escape(default)};", shown), option


# --- polling ------------------------------------------------------------------------------


def test_happy_path_end_to_end(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    device = request_device(server)
    assert device["interval"] == 1
    assert error_of(poll(server, device["device_code"])) == "authorization_pending"

    outcome = approve(server, device, org="globex")
    assert outcome.steps == ["redirect", "sign-in", "redirect", "enter-code", "approve org=globex"]
    assert device_result(outcome.response) == "approve"
    assert text(outcome.response, "org-name") == "Globex"

    time.sleep(1.1)
    response = poll(server, device["device_code"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 900
    assert token["access_token"] and token["refresh_token"]
    assert set(token["scope"].split()) == set(ALL_SCOPES.split())

    body = orgs_of(server, token["access_token"])
    assert body["bound_org_id"] == slug_id(body, "globex")
    minted = mint(server, token["access_token"])
    assert minted.status_code == 200
    assert minted.json()["org_id"] == slug_id(body, "globex")
    me = httpx2.get(server.url + "/v1/organization/me", headers=bearer(minted.json()["prod_key"]))
    assert me.json()["slug"] == "globex"

    # The refresh token works like one from the code flow, and keeps the organization.
    refreshed = httpx2.post(
        server.url + TOKEN_PATH,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": CLIENT_ID,
        },
    )
    assert refreshed.status_code == 200
    assert orgs_of(server, refreshed.json()["access_token"])["bound_org_id"] == body["bound_org_id"]


def test_polling_faster_than_the_interval_is_told_to_slow_down(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    device = request_device(server)
    code = device["device_code"]
    assert error_of(poll(server, code)) == "authorization_pending"
    assert error_of(poll(server, code)) == "slow_down"
    # The interval is now 1 + 5 seconds: waiting the old interval is still too fast ...
    time.sleep(1.3)
    assert error_of(poll(server, code)) == "slow_down"
    # ... and another device code keeps its own interval.
    other = request_device(server)["device_code"]
    assert error_of(poll(server, other)) == "authorization_pending"
    time.sleep(1.1)
    assert error_of(poll(server, other)) == "authorization_pending"


def test_a_client_that_waits_the_interval_is_not_slowed_down(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    code = request_device(server)["device_code"]
    for _ in range(3):
        assert error_of(poll(server, code)) == "authorization_pending"
        time.sleep(1.0)


def test_deny_gives_access_denied(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    device = request_device(server)
    outcome = approve(server, device, action="deny")
    assert device_result(outcome.response) == "deny"
    assert "Nothing was shared" in outcome.response.text
    assert error_of(poll(server, device["device_code"])) == "access_denied"
    time.sleep(1.1)
    assert error_of(poll(server, device["device_code"])) == "access_denied"


def test_expired_code_gives_expired_token(start_autumn_server):
    server = start_autumn_server(device_interval=1, device_ttl=2)
    device = request_device(server)
    assert device["expires_in"] == 2
    assert error_of(poll(server, device["device_code"])) == "authorization_pending"
    time.sleep(2.2)
    assert error_of(poll(server, device["device_code"])) == "expired_token"
    # A person who enters the code now is told it expired, and cannot approve it.
    with signed_in_client(server) as client:
        page = enter_code(client, device["user_code"])
    assert page.status_code == 400
    assert "expired" in text(page, "error")
    assert error_of(poll(server, device["device_code"])) == "expired_token"


def test_a_device_code_is_exchanged_once_and_its_user_code_used_once(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    device = request_device(server)
    approve(server, device, org="acme")
    first = poll(server, device["device_code"])
    assert first.status_code == 200
    time.sleep(1.1)
    again = poll(server, device["device_code"])
    assert error_of(again) == "invalid_grant"
    # The first token still works: a second poll is not a replayed code.
    assert orgs_of(server, first.json()["access_token"])["bound_org_id"]

    with signed_in_client(server) as client:
        page = enter_code(client, device["user_code"])
    assert page.status_code == 400
    assert "already used" in text(page, "error")
    # Approved but not yet exchanged: the code cannot be approved or denied a second time.
    second = request_device(server)
    approve(server, second, org="acme")
    with signed_in_client(server) as client:
        page = enter_code(client, second["user_code"])
    assert page.status_code == 400
    assert "already used" in text(page, "error")


def test_unknown_device_code_and_other_client_are_refused(autumn_server):
    assert error_of(poll(autumn_server, "not-a-device-code")) == "invalid_grant"
    device = request_device(autumn_server)
    response = poll(autumn_server, device["device_code"], client_id="someone-else")
    assert response.json()["error"] == "invalid_client"
    missing = httpx2.post(
        autumn_server.url + TOKEN_PATH, data={"grant_type": GRANT_TYPE, "client_id": CLIENT_ID}
    )
    assert error_of(missing) == "invalid_request"


def test_pkce_verifier_is_checked_when_a_challenge_was_sent(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    verifier = "v" * 20 + "-._~" + "x" * 30
    device = request_device(server, code_challenge=s256(verifier), code_challenge_method="S256")
    code = device["device_code"]
    assert error_of(poll(server, code)) == "invalid_request"  # no verifier
    assert error_of(poll(server, code, code_verifier="w" * 54)) == "invalid_grant"
    assert error_of(poll(server, code, code_verifier="short")) == "invalid_request"
    assert error_of(poll(server, code, code_verifier=verifier)) == "authorization_pending"

    approve(server, device, org="globex")
    assert error_of(poll(server, code, code_verifier="w" * 54)) == "invalid_grant"
    time.sleep(1.1)
    token = poll(server, code, code_verifier=verifier)
    assert token.status_code == 200, token.text
    assert token.json()["access_token"]


def test_a_verifier_without_a_challenge_is_refused(autumn_server):
    device = request_device(autumn_server)
    response = poll(autumn_server, device["device_code"], code_verifier="v" * 43)
    assert error_of(response) == "invalid_request"


# --- the verification page ----------------------------------------------------------------


def test_signing_in_leads_back_to_the_page_with_the_code_prefilled(autumn_server):
    device = request_device(autumn_server)
    with httpx2.Client(timeout=10) as client:
        first = client.get(device["verification_uri_complete"])
        assert first.status_code == 302
        assert first.headers["location"].startswith("/sign-in?next=")
        sign_in = client.get(first.url.join(first.headers["location"]))
        assert "approve the sign-in your terminal started" in sign_in.text
        form = parse_forms(sign_in.text)[0]
        back = client.post(
            sign_in.url.join(form.action),
            data={**form.fields, "email": autumn_server.email, "password": autumn_server.password},
        )
        assert back.status_code == 302
        assert back.headers["location"] == f"/device?user_code={device['user_code']}"
        page = client.get(back.url.join(back.headers["location"]))
    assert page.status_code == 200
    form = parse_forms(page.text)[0]
    assert form.fields["user_code"] == device["user_code"]


@pytest.mark.parametrize("typed", ["lower", "nodash", "spaces"])
def test_the_code_may_be_typed_loosely(autumn_server, typed):
    device = request_device(autumn_server, organization="globex")
    code = device["user_code"]
    entered = {
        "lower": code.lower(),
        "nodash": code.replace("-", ""),
        "spaces": f"  {code[:4].lower()} {code[5:]}  ",
    }[typed]
    with signed_in_client(autumn_server) as client:
        page = enter_code(client, entered)
    assert page.status_code == 200, page.text
    assert text(page, "user-code") == code
    assert text(page, "client-name") == "Autumn CLI (atmn)"
    # The organization hint of the device request preselects it.
    options = parse_forms(page.text)[0].selects["org_id"]
    assert [o["data-slug"] for o in options if "selected" in o] == ["globex"]


def test_the_confirm_page_says_what_approving_does(autumn_server):
    device = request_device(autumn_server)
    with signed_in_client(autumn_server) as client:
        page = enter_code(client, device["user_code"])
    permissions = text(page, "permissions")
    for words in (
        "Read and change customers, features and plans",
        "Read and write rewards",
        "Create and read API keys",
        "Read your organization",
    ):
        assert words in permissions
    assert "sandbox key and a live key" in page.text
    assert "Check that your terminal shows the same code" in page.text
    form = parse_forms(page.text)[0]
    assert form.fields["user_code"] == device["user_code"]
    assert {b.get("value") for b in form.buttons if b.get("name") == "action"} == {
        "approve",
        "deny",
    }


def requested_at(page: httpx2.Response) -> tuple[str, str]:
    """The confirm page's "Requested …" line beside the code, and its <time datetime>."""
    found = re.search(r'<time id="requested-at"\s+datetime="([^"]+)"', page.text)
    assert found, page.text
    return text(page, "requested"), found[1]


def test_the_confirm_page_says_how_long_ago_the_request_was_made(start_autumn_server):
    """Beside the code: "Requested 12 seconds ago", so an old link someone else sent stands
    out; past two minutes, a warning too."""
    server = start_autumn_server(device_ttl=3 * 3600)
    fresh, old, older = (request_device(server) for _ in range(3))
    made = {
        "old": backdate(server, old["user_code"], 200),
        "older": backdate(server, older["user_code"], 2 * 3600 + 100),
    }
    with signed_in_client(server) as client:
        pages = {
            name: enter_code(client, device["user_code"])
            for name, device in (("fresh", fresh), ("old", old), ("older", older))
        }
    for page in pages.values():
        assert page.status_code == 200, page.text
    line, _ = requested_at(pages["fresh"])
    assert re.fullmatch(r"Requested (just now|\d+ seconds ago)", line), line
    assert "requested-warning" not in pages["fresh"].text

    line, stamp = requested_at(pages["old"])
    assert line == "Requested 3 minutes ago"
    assert stamp == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(made["old"]))
    warning = text(pages["old"], "requested-warning")
    assert "started 3 minutes ago" in warning and "press Deny" in warning

    line, stamp = requested_at(pages["older"])
    assert line == "Requested 2 hours ago"
    assert stamp == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(made["older"]))
    assert "started 2 hours ago" in text(pages["older"], "requested-warning")
    # The line sits in the box with the code, right after it.
    section = re.search(r'<section class="pairing".*?</section>', pages["old"].text, re.S)
    assert section and section[0].index('id="user-code"') < section[0].index('id="requested"')


@pytest.mark.parametrize(
    ("entered", "words"),
    [
        ("BCDF-GHJK", "not valid"),  # well formed, but no such request
        ("ABCD-EFGH", "8 letters"),  # vowels are never in a code
        ("BCDF-GHJ", "8 letters"),
        ("", "Enter the code"),
        ("<script>", "8 letters"),
    ],
)
def test_wrong_codes_get_a_clear_message(autumn_server, entered, words):
    request_device(autumn_server)
    with signed_in_client(autumn_server) as client:
        page = enter_code(client, entered)
    assert page.status_code == 400
    assert words in text(page, "error")
    assert "<script>" not in page.text


def test_csrf_is_required_and_nothing_is_approved_without_it(start_autumn_server):
    server = start_autumn_server(device_interval=1)
    device = request_device(server)
    with signed_in_client(server) as client:
        page = enter_code(client, device["user_code"])
        form = parse_forms(page.text)[0]
        org_id = form.selects["org_id"][0]["value"]
        data = {"user_code": device["user_code"], "org_id": org_id, "action": "approve"}
        forged = client.post("/device", data=data)
        wrong = client.post("/device", data={**data, "csrf_token": "x" * 43})
    for response in (forged, wrong):
        assert response.status_code == 400
        assert "csrf_failed" in response.text
    assert error_of(poll(server, device["device_code"])) == "authorization_pending"
    # Not signed in at all: a POST is refused too, a GET is sent to the sign-in page.
    anonymous = httpx2.post(server.url + "/device", data=data)
    assert anonymous.status_code == 400


def test_approving_for_an_organization_the_user_is_not_in_is_refused(autumn_server):
    added = autumn_server.admin("orgs", "add", "initech", "--name", "Initech", check=True)
    initech = re.search(r"\((org_\w+)\)", added.stdout)
    assert initech is not None
    device = request_device(autumn_server)
    with signed_in_client(autumn_server) as client:
        page = enter_code(client, device["user_code"])
        form = parse_forms(page.text)[0]
        refused = client.post(
            "/device", data={**form.fields, "org_id": initech[1], "action": "approve"}
        )
    assert refused.status_code == 400
    assert "Choose one of your organizations" in text(refused, "error")
    assert error_of(poll(autumn_server, device["device_code"])) == "authorization_pending"


def test_guessing_codes_is_limited(autumn_server):
    device = request_device(autumn_server)
    with signed_in_client(autumn_server) as client:
        for _ in range(10):
            assert enter_code(client, "BCDF-GHJK").status_code == 400
        blocked = enter_code(client, device["user_code"])  # even the right code, for now
        assert blocked.status_code == 429
        assert "Too many wrong codes" in text(blocked, "error")
        assert "10 minutes" in text(blocked, "error")
        # Signing in again (a new session) does not start the count again: the account's
        # wrong codes hold back every session of it that entered a wrong code itself.
        sign_in_again(autumn_server, client)
        assert enter_code(client, "BCDF-GHJK").status_code == 400
        assert enter_code(client, device["user_code"]).status_code == 429
    # A session that has entered no wrong code still gets to enter its own, right one.
    with signed_in_client(autumn_server) as person:
        assert enter_code(person, device["user_code"]).status_code == 200


def test_wrong_codes_from_another_session_do_not_fail_a_persons_valid_code(autumn_server):
    """Every local process is 127.0.0.1, and may be signed in as the same demo user: another
    session's wrong codes, far over the limit, never make a person's valid code fail."""
    device = request_device(autumn_server)
    for n in range(3):  # three processes, each signed in as the demo user
        with signed_in_client(autumn_server) as process:
            statuses = [enter_code(process, "BCDF-GHJK").status_code for _ in range(12)]
        # The first gets the limit's 10 wrong codes; once the account is over it, a later
        # session that enters a wrong code is held back at once.
        wrong = 10 if n == 0 else 1
        assert statuses == [400] * wrong + [429] * (12 - wrong), statuses
    with signed_in_client(autumn_server) as person:
        page = enter_code(person, device["user_code"])
        assert page.status_code == 200, text(page, "error")
        assert text(page, "user-code") == device["user_code"]
        form = parse_forms(page.text)[0]
        org_id = form.selects["org_id"][0]["value"]
        done = person.post("/device", data={**form.fields, "org_id": org_id, "action": "approve"})
    assert device_result(done) == "approve", done.status_code
    assert poll(autumn_server, device["device_code"]).status_code == 200


def test_device_pages_have_a_viewport_labels_and_the_one_stylesheet(autumn_server):
    device = request_device(autumn_server)
    with signed_in_client(autumn_server) as client:
        pages = {
            "enter": client.get("/device"),
            "prefilled": client.get("/device", params={"user_code": device["user_code"]}),
            "wrong": enter_code(client, "BCDF-GHJK"),
            "confirm": enter_code(client, device["user_code"]),
        }
        pages["done"] = approve_device(
            device["verification_uri"],
            device["user_code"],
            email=autumn_server.email,
            password=autumn_server.password,
        ).response
        pages["home"] = client.get("/")
    stylesheets = set()
    for name, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), name
        found = parse_page(response.text)
        viewport = [m for m in found.meta if m.get("name") == "viewport"]
        assert viewport == [
            {"name": "viewport", "content": "width=device-width, initial-scale=1"}
        ], name
        for control in found.controls:
            if control.get("type") == "hidden":
                continue
            assert control.get("id") in found.label_for, (name, control)
        assert "<script" not in response.text.lower(), name
        assert " style=" not in response.text, name
        assert len(found.styles) == 1, name
        stylesheets.add(found.styles[0])
        csp = response.headers["content-security-policy"]
        digest = base64.b64encode(hashlib.sha256(found.styles[0].encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in csp, name
        assert response.headers["x-frame-options"] == "DENY", name
    assert len(stylesheets) == 1


# --- the scripted browser as BROWSER for a device login -----------------------------------


def test_scripted_browser_command_approves_a_device_url(start_autumn_server, tmp_path: Path):
    server = start_autumn_server(device_interval=1)
    device = request_device(server)
    log = tmp_path / "browser.log"
    env = dict(os.environ)
    env.update(scripted_browser.browser_env(server, org="globex", log=str(log)))
    command = [sys.executable, scripted_browser.__file__, device["verification_uri_complete"]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = log.read_text()
    assert "result=approve" in line
    assert device["user_code"] not in line + done.stderr
    token = poll(server, device["device_code"])
    assert token.status_code == 200, token.text
    body = orgs_of(server, token.json()["access_token"])
    assert body["bound_org_id"] == slug_id(body, "globex")
