"""The consent page as the contract describes it (§1, §2): the organization hint, the pairing
code, the organization the token is bound to, and pages a person can read on a phone."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx2

from autumn_local.pairing import pairing_code
from support.html_page import parse_page
from support.oauth_flow import (
    AUTHORIZE_PATH,
    authorize,
    bearer,
    fetch_token,
    oauth_client,
    query_params,
    replace_params,
)
from support.scripted_browser import parse_forms

# --- helpers ------------------------------------------------------------------------------


def consent_page(server, client: httpx2.Client, **params: str) -> tuple[httpx2.Response, str]:
    """Sign in and open the consent page for a fresh authorize URL; returns (page, state)."""
    url, state = oauth_client().create_authorization_url(
        server.url + AUTHORIZE_PATH, code_verifier="v" * 64, prompt="consent"
    )
    if params:
        url = replace_params(url, **params)
    first = client.get(url)
    if first.status_code == 302 and first.headers["location"].startswith("/sign-in"):
        sign_in = client.get(server.url + first.headers["location"])
        form = parse_forms(sign_in.text)[0]
        signed_in = client.post(
            sign_in.url.join(form.action),
            data={**form.fields, "email": server.email, "password": server.password},
        )
        assert signed_in.status_code == 302
        first = client.get(url)
    return first, state


def selected_slug(html: str) -> list[str]:
    options = parse_forms(html)[0].selects["org_id"]
    return [o["data-slug"] for o in options if "selected" in o]


def organizations(server, access_token: str) -> httpx2.Response:
    return httpx2.get(server.url + "/cli/organizations", headers=bearer(access_token))


# --- the pairing code ---------------------------------------------------------------------


def independent_pairing_code(state: str) -> str:
    """Contract §1, computed bit by bit rather than with base64.b32encode."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 §6
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha256(state.encode()).digest())
    letters = "".join(alphabet[int(bits[i : i + 5], 2)] for i in range(0, 40, 5))
    return letters[:4] + "-" + letters[4:]


def test_pairing_code_of_a_fixed_state():
    # RFC 6749's example state; its code worked out by hand from SHA-256 and RFC 4648.
    assert independent_pairing_code("af0ifjsldkj") == "NTUG-2X6B"
    assert pairing_code("af0ifjsldkj") == "NTUG-2X6B"
    for state in ("x", "a" * 43, "état-🙂", "Q2hQ3r_9xk-long-random-state-value"):
        assert pairing_code(state) == independent_pairing_code(state)
        assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", pairing_code(state))


def test_consent_page_shows_the_pairing_code_of_the_requests_state(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        page, state = consent_page(autumn_server, client)
        other, other_state = consent_page(autumn_server, client)
    assert page.status_code == 200
    shown = parse_page(page.text).text_by_id["pairing-code"].strip()
    assert shown == independent_pairing_code(state)
    assert "Check that your terminal shows the same code" in page.text
    assert parse_page(other.text).text_by_id["pairing-code"].strip() == (
        independent_pairing_code(other_state)
    )
    assert independent_pairing_code(state) != independent_pairing_code(other_state)


# --- the organization hint ----------------------------------------------------------------


def test_organization_hint_by_slug_or_id_preselects_it(autumn_server):
    authorize(autumn_server, org="acme")  # acme is now the one used last
    with httpx2.Client(base_url=autumn_server.url) as client:
        by_slug, _ = consent_page(autumn_server, client, organization="globex")
        options = parse_forms(by_slug.text)[0].selects["org_id"]
        globex_id = next(o["value"] for o in options if o["data-slug"] == "globex")
        by_id, _ = consent_page(autumn_server, client, organization=globex_id)
        none, _ = consent_page(autumn_server, client)
    assert by_slug.status_code == 200
    assert selected_slug(by_slug.text) == ["globex"]
    assert selected_slug(by_id.text) == ["globex"]
    assert selected_slug(none.text) == ["acme"]


def test_unknown_organization_hint_is_ignored(autumn_server):
    authorize(autumn_server, org="globex")
    added = autumn_server.admin("orgs", "add", "initech", "--name", "Initech", check=True)
    initech_id = re.search(r"\((org_\w+)\)", added.stdout)[1]
    with httpx2.Client(base_url=autumn_server.url) as client:
        for hint in ("nope", "org_doesnotexist", "initech", initech_id, ""):
            page, _ = consent_page(autumn_server, client, organization=hint)
            assert page.status_code == 200, hint
            assert selected_slug(page.text) == ["globex"], hint  # the one used last
            slugs = [o["data-slug"] for o in parse_forms(page.text)[0].selects["org_id"]]
            assert slugs == ["acme", "globex"], hint


def test_organization_hint_is_not_refused_by_the_authorization_request(autumn_server):
    auth = authorize(autumn_server, org="globex", organization="globex")
    assert auth.params["code"]
    token = fetch_token(autumn_server, auth)
    assert token["access_token"]
    # Without signing in, the hint survives the trip through the sign-in page.
    url, _ = oauth_client().create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    response = httpx2.get(replace_params(url, organization="acme"))
    assert response.status_code == 302
    assert "organization%3Dacme" in response.headers["location"]


def test_the_choice_on_the_page_wins_over_the_hint(autumn_server):
    auth = authorize(autumn_server, org="acme", organization="globex")
    token = fetch_token(autumn_server, auth)
    listed = organizations(autumn_server, token["access_token"]).json()
    acme = next(o for o in listed["list"] if o["slug"] == "acme")
    assert listed["bound_org_id"] == acme["id"]


# --- bound_org_id -------------------------------------------------------------------------


def test_bound_org_id_is_the_organization_chosen_on_the_consent_page(autumn_server):
    for slug in ("globex", "acme"):
        token = fetch_token(autumn_server, authorize(autumn_server, org=slug))
        response = organizations(autumn_server, token["access_token"])
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"list", "bound_org_id"}
        chosen = next(o for o in body["list"] if o["slug"] == slug)
        assert body["bound_org_id"] == chosen["id"]
        # The mint endpoint without org_id uses the same organization.
        minted = httpx2.post(
            autumn_server.url + "/cli/api-keys", headers=bearer(token["access_token"])
        )
        assert minted.json()["org_id"] == chosen["id"]


def test_bound_org_id_survives_refresh(autumn_server):
    token = fetch_token(autumn_server, authorize(autumn_server, org="globex"))
    refreshed = oauth_client().refresh_token(
        autumn_server.url + "/api/auth/oauth2/token", refresh_token=token["refresh_token"]
    )
    body = organizations(autumn_server, refreshed["access_token"]).json()
    globex = next(o for o in body["list"] if o["slug"] == "globex")
    assert body["bound_org_id"] == globex["id"]


def test_bound_org_id_is_null_for_a_grant_without_an_organization(autumn_server):
    autumn_server.admin("users", "add", "loner@autumn.local", "--password", "pw-loner", check=True)
    auth = authorize(autumn_server, email="loner@autumn.local", password="pw-loner")
    token = fetch_token(autumn_server, auth)
    response = organizations(autumn_server, token["access_token"])
    assert response.status_code == 200
    assert response.json() == {"list": [], "bound_org_id": None}


def test_organizations_is_404_when_disabled(start_autumn_server):
    server = start_autumn_server(disable=["organizations"])
    token = fetch_token(server, authorize(server))
    assert organizations(server, token["access_token"]).status_code == 404


# --- what a person reads ------------------------------------------------------------------


def test_consent_page_words(autumn_server):
    with httpx2.Client(base_url=autumn_server.url) as client:
        page, _ = consent_page(autumn_server, client)
    html = page.text
    found = parse_page(html)
    assert found.text_by_id["client-name"] == "Autumn CLI (atmn)"
    permissions = " ".join(found.text_by_id["permissions"].split())
    for words in (
        "Read and change customers, features and plans",
        "Read and write rewards",
        "Create and read API keys",
        "Read your organization",
    ):
        assert words in permissions
    # The raw scope ids are there, tucked inside <details>.
    details = html[html.index("<details>") : html.index("</details>")]
    assert "<summary>" in details
    for scope in oauth_client().scope.split():
        assert f"<code>{scope}</code>" in details
    assert "sandbox key and a live key" in html and ".env" in html
    form = parse_forms(html)[0]
    assert {b.get("value") for b in form.buttons if b.get("name") == "action"} == {
        "approve",
        "deny",
    }


def test_fewer_scopes_are_worded_too(autumn_server):
    client = oauth_client(scope="customers:read plans:delete apiKeys:create")
    url, _ = client.create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    with httpx2.Client(base_url=autumn_server.url) as http:
        consent_page(autumn_server, http)  # signs in
        page = http.get(url)
    permissions = " ".join(parse_page(page.text).text_by_id["permissions"].split())
    assert permissions == "Read customers Change plans Create API keys"


def pages_to_check(server) -> dict[str, httpx2.Response]:
    with httpx2.Client(base_url=server.url) as client:
        url, _ = oauth_client().create_authorization_url(
            server.url + AUTHORIZE_PATH, code_verifier="v" * 64
        )
        sign_in = client.get(url, follow_redirects=True)
        wrong = client.post(
            sign_in.url.join(parse_forms(sign_in.text)[0].action),
            data={**parse_forms(sign_in.text)[0].fields, "email": "x@y.z", "password": "no"},
        )
        consent, _ = consent_page(server, client)
        home = client.get("/")
        invalid = client.get(replace_params(url, client_id="someone-else"))
        missing = client.get("/no-such-page")
        refused = client.post("/sign-out")
    return {
        "sign-in": sign_in,
        "wrong password": wrong,
        "consent": consent,
        "home": home,
        "invalid request": invalid,
        "not found": missing,
        "csrf refused": refused,
    }


def test_every_page_has_a_viewport_labels_and_the_one_stylesheet(autumn_server):
    stylesheets = set()
    for name, response in pages_to_check(autumn_server).items():
        assert response.headers["content-type"].startswith("text/html"), name
        found = parse_page(response.text)
        viewport = [m for m in found.meta if m.get("name") == "viewport"]
        assert viewport == [
            {"name": "viewport", "content": "width=device-width, initial-scale=1"}
        ], name
        for control in found.controls:
            if control.get("type") == "hidden":
                continue
            assert control.get("id"), (name, control)
            assert control["id"] in found.label_for, (name, control)
        assert "<script" not in response.text.lower(), name
        assert " style=" not in response.text, name
        assert len(found.styles) == 1, name
        stylesheets.add(found.styles[0])
    assert len(stylesheets) == 1


def test_csp_allows_the_stylesheet_by_hash_and_nothing_inline(autumn_server):
    for name, response in pages_to_check(autumn_server).items():
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp, name
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, name
        style = parse_page(response.text).styles[0]
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in csp, name
        assert response.headers["x-frame-options"] == "DENY", name
        assert response.headers["cache-control"] == "no-store" or name == "not found", name


def test_deny_still_sends_access_denied(autumn_server):
    auth = authorize(autumn_server, action="deny", organization="globex")
    assert query_params(auth.location or "")["error"] == "access_denied"
