"""Malformed requests to the sign-in, consent, device and token endpoints: 400, never 500.

A matrix of hostile values (`\\`, `"`, CR/LF, NUL, ESC, very long, bytes that are not UTF-8,
repeated parameters) in each parameter, sent raw (percent-encoded as a browser or script
would) to one running server, signed in and not. Every answer is a 400 with the endpoint's
own "not valid" page or RFC 6749 error, and the server logs no traceback.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from urllib.parse import quote

import httpx2
import pytest

from support.autumn_server import AutumnServer
from support.html_page import parse_page
from support.oauth_flow import CLIENT_ID, REDIRECT_URI
from support.scripted_browser import parse_forms

#: Each as it appears in the query string or form body (already percent-encoded).
HOSTILE = {
    "backslash": "%5C",
    "quote": "%22",
    "crlf": "a%0D%0Ab",
    "lf": "a%0Ab",
    "nul": "a%00b",
    "escape": "%1B%5D0%3Bpwned%07",
    "long": "a" * 5000,
    "not-utf8": "%FF%FE",
    "bad-utf8-sequence": "%C3%28",
}
#: Values RFC 6749 allows in `state` (VSCHAR): these must still work there.
STATE_ALLOWED = {"backslash", "quote"}

GOOD_AUTHORIZE = {
    "response_type": "code",
    "client_id": CLIENT_ID,
    "redirect_uri": quote(REDIRECT_URI, safe=""),
    "scope": "customers%3Aread",
    "state": "s" * 32,
    "code_challenge": "c" * 43,
    "code_challenge_method": "S256",
}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def query(params: dict[str, str], **changes: str) -> str:
    return "&".join(f"{k}={v}" for k, v in {**params, **changes}.items())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AutumnServer]:
    running = AutumnServer(tmp_path_factory.mktemp("malformed") / "data", sign_in_limit=10_000)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def signed_in(server: AutumnServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url) as client:
        form = parse_forms(client.get("/sign-in").text)[0]
        response = client.post(
            "/sign-in", data={**form.fields, "email": server.email, "password": server.password}
        )
        assert response.status_code == 302
        yield client


@pytest.fixture(params=["signed-in", "anonymous"])
def client(request, server, signed_in) -> Iterator[httpx2.Client]:
    if request.param == "signed-in":
        yield signed_in
        return
    with httpx2.Client(base_url=server.url) as anonymous:
        yield anonymous


@pytest.fixture(autouse=True)
def no_traceback(server: AutumnServer) -> Iterator[None]:
    offset = len(server.log_text())
    yield
    logged = server.log_text()[offset:]
    assert "Traceback" not in logged and "Exception on" not in logged, logged
    assert re.search(r" 5\d\d \d", logged) is None, logged


def assert_not_valid_page(response: httpx2.Response) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    page = parse_page(response.text)
    assert "This sign-in link is not valid" in response.text
    assert page.text_by_id["error"].strip()
    assert "<script" not in response.text.lower()


def assert_invalid_request(response: httpx2.Response) -> None:
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert body["error"] in ("invalid_request", "invalid_client", "invalid_grant")
    assert response.headers["cache-control"] == "no-store"


AUTHORIZE_CASES = [
    (name, kind)
    for name in [*GOOD_AUTHORIZE, "organization"]
    for kind in HOSTILE
    if not (name == "state" and kind in STATE_ALLOWED)
]


@pytest.mark.parametrize(("name", "kind"), AUTHORIZE_CASES)
def test_authorize_refuses_a_hostile_parameter_with_its_page(client, name, kind):
    url = "/api/auth/oauth2/authorize?" + query(GOOD_AUTHORIZE, **{name: HOSTILE[kind]})
    assert_not_valid_page(client.get(url))


@pytest.mark.parametrize("name", [*GOOD_AUTHORIZE, "organization"])
def test_authorize_refuses_a_repeated_parameter(client, name):
    value = GOOD_AUTHORIZE.get(name, "acme")
    url = "/api/auth/oauth2/authorize?" + query(GOOD_AUTHORIZE, **{name: value})
    response = client.get(url + f"&{name}={value}")
    assert_not_valid_page(response)
    assert "repeated" in parse_page(response.text).text_by_id["error"]


@pytest.mark.parametrize("kind", sorted(STATE_ALLOWED))
def test_state_may_hold_any_printable_ascii(server, signed_in, kind):
    url = "/api/auth/oauth2/authorize?" + query(GOOD_AUTHORIZE, state="a" + HOSTILE[kind] + "b")
    anonymous = httpx2.get(server.url + url)
    assert anonymous.status_code == 302
    assert anonymous.headers["location"].startswith("/sign-in?next=")
    consent = signed_in.get(url)
    assert consent.status_code == 200
    assert 'id="approve"' in consent.text


def test_consent_form_with_a_repeated_field_is_refused(signed_in):
    url = "/api/auth/oauth2/authorize?" + query(GOOD_AUTHORIZE)
    form = parse_forms(signed_in.get(url).text)[0]
    org = form.selects["org_id"][0]["value"]
    body = f"csrf_token={form.fields['csrf_token']}&org_id={org}&org_id={org}&action=approve"
    response = signed_in.post(url, content=body, headers=FORM)
    assert_not_valid_page(response)


SIGN_IN_NEXT = {kind: v for kind, v in HOSTILE.items() if kind not in ("backslash", "quote")}
SIGN_IN_NEXT["long"] = "/api/auth/oauth2/authorize?x=" + "a" * 9000
SIGN_IN_NEXT["space"] = "/api/auth/oauth2/authorize?x=a%20b"


@pytest.mark.parametrize("kind", sorted(SIGN_IN_NEXT))
def test_sign_in_refuses_a_malformed_next(server, client, kind):
    value = SIGN_IN_NEXT[kind]
    if not value.startswith("/"):
        value = "/api/auth/oauth2/authorize%3Fx%3D" + value
    assert_not_valid_page(client.get("/sign-in?next=" + value))
    with httpx2.Client(base_url=server.url) as browser:
        form = parse_forms(browser.get("/sign-in").text)[0]
        posted = browser.post(
            "/sign-in?next=" + value,
            content=f"csrf_token={form.fields['csrf_token']}&email=a%40b.c&password=x",
            headers=FORM,
        )
    assert_not_valid_page(posted)


@pytest.mark.parametrize("kind", ["backslash", "quote"])
def test_sign_in_with_a_next_holding_backslash_or_quote_still_shows_the_form(server, kind):
    response = httpx2.get(
        server.url + "/sign-in?next=/api/auth/oauth2/authorize%3Fstate%3D" + HOSTILE[kind]
    )
    assert response.status_code == 200
    assert 'id="sign-in"' in response.text


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_sign_in_form_fields_with_hostile_values_are_a_wrong_password(server, kind):
    with httpx2.Client(base_url=server.url) as browser:
        form = parse_forms(browser.get("/sign-in").text)[0]
        value = HOSTILE[kind]
        body = f"csrf_token={form.fields['csrf_token']}&email={value}&password={value}"
        response = browser.post("/sign-in", content=body, headers=FORM)
    assert response.status_code in (401, 429)
    assert 'id="error"' in response.text
    assert "<script" not in response.text.lower()


TOKEN_FIELDS = ["grant_type", "client_id", "code", "redirect_uri", "code_verifier"]


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n in TOKEN_FIELDS for k in HOSTILE])
def test_token_endpoint_refuses_hostile_parameters(server, name, kind):
    fields = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": "c" * 48,
        "redirect_uri": quote(REDIRECT_URI, safe=""),
        "code_verifier": "v" * 64,
    }
    body = query(fields, **{name: HOSTILE[kind]})
    response = httpx2.post(server.url + "/api/auth/oauth2/token", content=body, headers=FORM)
    assert_invalid_request(response)


@pytest.mark.parametrize(
    "grant",
    ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_token_endpoint_refuses_hostile_grant_parameters(server, grant, kind):
    value = HOSTILE[kind]
    body = (
        f"grant_type={grant}&client_id={CLIENT_ID}&refresh_token={value}&device_code={value}"
        f"&code={value}&code_verifier={value}"
    )
    response = httpx2.post(server.url + "/api/auth/oauth2/token", content=body, headers=FORM)
    assert_invalid_request(response)


def test_token_endpoint_refuses_repeated_parameters(server):
    body = f"grant_type=authorization_code&client_id={CLIENT_ID}&code=a&code=b&code_verifier=" + (
        "v" * 64
    )
    response = httpx2.post(server.url + "/api/auth/oauth2/token", content=body, headers=FORM)
    assert_invalid_request(response)
    assert "repeated" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [(n, k) for n in ("client_id", "scope", "code_challenge", "organization") for k in HOSTILE],
)
def test_device_endpoint_refuses_hostile_parameters(server, name, kind):
    fields = {"client_id": CLIENT_ID, "scope": "customers%3Aread", "organization": "acme"}
    body = query(fields, **{name: HOSTILE[kind]})
    response = httpx2.post(server.url + "/api/auth/oauth2/device", content=body, headers=FORM)
    assert_invalid_request(response)


@pytest.mark.parametrize(
    ("name", "kind"), [(n, k) for n in ("token", "token_type_hint") for k in HOSTILE]
)
def test_revocation_endpoint_refuses_hostile_parameters(server, name, kind):
    fields = {"client_id": CLIENT_ID, "token": "t" * 40, "token_type_hint": "refresh_token"}
    body = query(fields, **{name: HOSTILE[kind]})
    response = httpx2.post(server.url + "/api/auth/oauth2/revoke", content=body, headers=FORM)
    assert_invalid_request(response)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_device_page_with_a_hostile_code_answers_with_its_page(server, signed_in, kind):
    response = signed_in.get("/device?user_code=" + HOSTILE[kind])
    assert response.status_code == 200
    assert 'id="user_code"' in response.text
    form = parse_forms(response.text)[0]
    body = f"csrf_token={form.fields['csrf_token']}&user_code={HOSTILE[kind]}&action=continue"
    posted = signed_in.post("/device", content=body, headers=FORM)
    assert posted.status_code in (400, 429)
    assert 'id="error"' in posted.text


# --- nothing a request sends comes back as markup -------------------------------------------

MARKUP = '"><script>alert(1)</script><x y="'


def raw_get(server, target: str, cookie: str) -> str:
    """GET `target` exactly as given (no percent-encoding by a client library)."""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def test_the_consent_page_escapes_a_raw_state_in_its_form_action(server, signed_in):
    cookie = "; ".join(f"{k}={v}" for k, v in signed_in.cookies.items())
    raw_state = MARKUP.replace(" ", "+")
    answer = raw_get(
        server, "/api/auth/oauth2/authorize?" + query(GOOD_AUTHORIZE, state=raw_state), cookie
    )
    assert answer.startswith("HTTP/1.1 200")
    assert "<script" not in answer and "<x " not in answer
    assert 'id="approve"' in answer


def test_the_sign_in_page_escapes_the_email_it_shows_again(server):
    with httpx2.Client(base_url=server.url) as browser:
        form = parse_forms(browser.get("/sign-in").text)[0]
        response = browser.post("/sign-in", data={**form.fields, "email": MARKUP, "password": "x"})
    assert response.status_code == 401
    assert "<script" not in response.text and "<x " not in response.text
    assert parse_forms(response.text)[0].fields["email"] == MARKUP


def test_the_device_page_escapes_the_code_it_shows_again(signed_in):
    response = signed_in.get("/device", params={"user_code": MARKUP})
    assert response.status_code == 200
    assert "<script" not in response.text and "<x " not in response.text


def test_no_header_carries_a_line_break_from_the_request(server, signed_in):
    # `next` pointing at the authorize endpoint with an encoded CR/LF stays encoded
    target = "/api/auth/oauth2/authorize?x=%0D%0ASet-Cookie:+evil=1"
    response = signed_in.get("/sign-in", params={"next": target})
    assert response.status_code == 302
    assert response.headers["location"] == target
    assert "evil" not in response.headers.get("set-cookie", "")


def test_an_oversized_consent_post_gets_a_page_not_json(signed_in):
    url = "/api/auth/oauth2/authorize?" + query(GOOD_AUTHORIZE)
    response = signed_in.post(url, content=b"a=" + b"x" * 100_000, headers=FORM)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="error"' in response.text
