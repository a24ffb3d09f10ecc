"""Sign-in sessions live on the server: signing out ends every copy of the cookie."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from contextlib import closing

import httpx2

from support.html_page import parse_page
from support.oauth_flow import AUTHORIZE_PATH, oauth_client
from support.scripted_browser import parse_forms


def signed_in_browser(server) -> httpx2.Client:
    browser = httpx2.Client(base_url=server.url)
    form = parse_forms(browser.get("/sign-in").text)[0]
    response = browser.post(
        "/sign-in", data={**form.fields, "email": server.email, "password": server.password}
    )
    assert response.status_code == 302
    return browser


def who(browser: httpx2.Client) -> str | None:
    """The email the home page says is signed in, or None."""
    page = parse_page(browser.get("/").text)
    email = page.text_by_id.get("user-email")
    return email.strip() if email is not None else None


def copy_of(server, browser: httpx2.Client) -> httpx2.Client:
    """Another browser holding a copy of `browser`'s cookies (a stolen or synced cookie)."""
    thief = httpx2.Client(base_url=server.url)
    for name, value in browser.cookies.items():
        thief.cookies.set(name, value)
    return thief


def sign_out(browser: httpx2.Client) -> None:
    form = parse_forms(browser.get("/").text)[0]
    response = browser.post(form.action, data=form.fields)
    assert response.status_code == 302


def test_signing_out_ends_a_copied_cookie_too(autumn_server):
    browser = signed_in_browser(autumn_server)
    with closing(browser), copy_of(autumn_server, browser) as copy:
        assert who(copy) == autumn_server.email
        sign_out(browser)
        assert who(browser) is None
        assert who(copy) is None
        url, _ = oauth_client().create_authorization_url(
            autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
        )
        response = copy.get(url)
        assert response.status_code == 302
        assert response.headers["location"].startswith("/sign-in?next=")


def test_a_cookie_copied_before_sign_out_stays_out_after_signing_in_again(autumn_server):
    browser = signed_in_browser(autumn_server)
    with closing(browser), copy_of(autumn_server, browser) as copy:
        sign_out(browser)
        form = parse_forms(browser.get("/sign-in").text)[0]
        browser.post(
            "/sign-in",
            data={**form.fields, "email": autumn_server.email, "password": autumn_server.password},
        )
        assert who(browser) == autumn_server.email
        assert who(copy) is None


def test_two_browsers_have_separate_sessions(autumn_server):
    with (
        closing(signed_in_browser(autumn_server)) as first,
        closing(signed_in_browser(autumn_server)) as second,
    ):
        sign_out(first)
        assert who(first) is None
        assert who(second) == autumn_server.email


def test_a_session_survives_a_restart(autumn_server):
    with closing(signed_in_browser(autumn_server)) as browser:
        autumn_server.restart()
        assert who(browser) == autumn_server.email


def cookie_payload(cookie: str) -> dict:
    """What Flask's signed cookie carries (readable by anyone who has the cookie)."""
    compressed = cookie.startswith(".")
    data = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


def test_the_cookie_holds_a_session_id_whose_hash_alone_is_stored(autumn_server):
    with closing(signed_in_browser(autumn_server)) as browser:
        payload = cookie_payload(next(iter(browser.cookies.values())))
    assert set(payload) == {"sid", "csrf_token"}  # no user id: the server knows who
    sid = payload["sid"]
    database = b"".join(p.read_bytes() for p in autumn_server.data_dir.glob("autumn-local.db*"))
    assert sid.encode() not in database
    assert hashlib.sha256(sid.encode()).hexdigest().encode() in database


def test_signing_in_again_ends_the_session_the_browser_had(autumn_server):
    browser = signed_in_browser(autumn_server)
    with closing(browser), copy_of(autumn_server, browser) as copy:
        csrf = parse_forms(browser.get("/").text)[0].fields["csrf_token"]
        again = browser.post(
            "/sign-in",
            data={
                "csrf_token": csrf,
                "email": autumn_server.email,
                "password": autumn_server.password,
            },
        )
        assert again.status_code == 302
        assert who(browser) == autumn_server.email
        assert who(copy) is None
