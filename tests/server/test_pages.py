"""The sign-in and consent pages, as a person (or an attacker's page) meets them."""

from __future__ import annotations

import httpx2

from support.oauth_flow import AUTHORIZE_PATH, authorize, oauth_client, query_params, replace_params
from support.scripted_browser import browse, parse_forms


def start_authorization(server, client: httpx2.Client) -> tuple[str, str]:
    """Follow the authorize URL to the sign-in page; returns (authorize URL, state)."""
    url, state = oauth_client().create_authorization_url(
        server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["location"].startswith("/sign-in?next=")
    return url, state


def sign_in_form(client: httpx2.Client, server, url: str) -> tuple[str, dict[str, str]]:
    page = client.get(url, follow_redirects=True)
    form = parse_forms(page.text)[0]
    return str(page.url.join(form.action)), form.fields


def test_sign_in_then_consent_page_names_client_scopes_and_organizations(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        url, _ = start_authorization(autumn_server, client)
        action, fields = sign_in_form(client, autumn_server, url)
        signed_in = client.post(
            action,
            data={**fields, "email": autumn_server.email, "password": autumn_server.password},
        )
        assert signed_in.status_code == 302
        consent = client.get(signed_in.headers["location"])
    assert consent.status_code == 200
    html = consent.text
    assert "Autumn CLI" in html
    assert "apiKeys:create" in html and "organisation:read" in html
    assert autumn_server.email in html
    for element in ('id="org_id"', 'id="approve"', 'id="deny"', 'name="csrf_token"'):
        assert element in html
    form = parse_forms(html)[0]
    assert [o["data-slug"] for o in form.selects["org_id"]] == ["acme", "globex"]


def test_consent_defaults_to_the_organization_used_last(autumn_server):
    authorize(autumn_server, org="globex")
    with httpx2.Client() as client:
        # Sign in and stop at the consent page by denying: read the default selection first.
        url, _ = oauth_client().create_authorization_url(
            autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
        )
        browse(
            url,
            email=autumn_server.email,
            password=autumn_server.password,
            action="deny",
            follow_callback=False,
            client=client,
        )
        consent = client.get(url)
    options = parse_forms(consent.text)[0].selects["org_id"]
    selected = [o["data-slug"] for o in options if "selected" in o]
    assert selected == ["globex"]


def test_wrong_password_stays_on_the_sign_in_page(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        url, _ = start_authorization(autumn_server, client)
        action, fields = sign_in_form(client, autumn_server, url)
        response = client.post(
            action, data={**fields, "email": autumn_server.email, "password": "wrong"}
        )
        assert response.status_code == 401
        assert "Wrong email or password." in response.text
        assert "location" not in response.headers
        # Still not signed in: the authorize URL sends us to sign in again.
        assert client.get(url).headers["location"].startswith("/sign-in")


def test_sign_in_without_csrf_token_is_refused(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        url, _ = start_authorization(autumn_server, client)
        action, _ = sign_in_form(client, autumn_server, url)
        for token in (None, "forged"):
            data = {"email": autumn_server.email, "password": autumn_server.password}
            if token:
                data["csrf_token"] = token
            response = client.post(action, data=data)
            assert response.status_code == 400
            assert "csrf_failed" in response.text
        assert client.get(url).headers["location"].startswith("/sign-in")


def test_consent_without_csrf_token_is_refused_and_does_not_redirect(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        url, _ = start_authorization(autumn_server, client)
        action, fields = sign_in_form(client, autumn_server, url)
        client.post(
            action,
            data={**fields, "email": autumn_server.email, "password": autumn_server.password},
        )
        consent = client.get(url)
        form = parse_forms(consent.text)[0]
        org_id = form.selects["org_id"][0]["value"]
        response = client.post(
            consent.url.join(form.action), data={"org_id": org_id, "action": "approve"}
        )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert autumn_server.stats()["authorizations_granted"] == 0


def test_consent_for_an_organization_the_user_is_not_in_is_refused(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        url, _ = start_authorization(autumn_server, client)
        action, fields = sign_in_form(client, autumn_server, url)
        client.post(
            action,
            data={**fields, "email": autumn_server.email, "password": autumn_server.password},
        )
        consent = client.get(url)
        form = parse_forms(consent.text)[0]
        response = client.post(
            consent.url.join(form.action),
            data={**form.fields, "org_id": "org_someoneelse", "action": "approve"},
        )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_session_cookie_is_httponly_and_samesite_lax(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        page = client.get("/sign-in")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_sign_in_does_not_redirect_off_site(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        page = client.get("/sign-in", params={"next": "https://evil.example/"})
        form = parse_forms(page.text)[0]
        response = client.post(
            form.action,
            data={**form.fields, "email": autumn_server.email, "password": autumn_server.password},
        )
    assert response.status_code == 302
    assert response.headers["location"] == "/"


def test_unsupported_response_type_is_sent_back_with_state_and_issuer(autumn_server):
    url, state = oauth_client().create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    response = httpx2.get(replace_params(url, response_type="token"))
    params = query_params(response.headers["location"])
    assert params["error"] == "unsupported_response_type"
    assert params["state"] == state
    assert params["iss"] == autumn_server.issuer
    assert "code" not in params and "access_token" not in params
