"""The authorization code flow with PKCE, as a client and a person see it (RFC 6749/7636/9207)."""

from __future__ import annotations

import time

import httpx2
import pytest
from authlib.integrations.base_client import OAuthError

from support.oauth_flow import (
    AUTHORIZE_PATH,
    CLIENT_ID,
    authorize,
    bearer,
    fetch_token,
    oauth_client,
    query_params,
    replace_params,
)
from support.scripted_browser import browse


def test_approving_returns_a_code_with_state_and_issuer_then_tokens(autumn_server):
    auth = authorize(autumn_server, org="globex")

    assert auth.location is not None
    assert auth.location.startswith("http://localhost:31448/?")
    params = auth.params
    assert params["state"] == auth.state
    assert params["iss"] == autumn_server.issuer
    assert params["code"]

    token = fetch_token(autumn_server, auth)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 900
    assert set(token["scope"].split()) == set(auth.client.scope.split())
    assert token["refresh_token"]
    orgs = httpx2.get(
        autumn_server.url + "/cli/organizations", headers=bearer(token["access_token"])
    )
    assert orgs.status_code == 200
    assert [o["slug"] for o in orgs.json()["list"]] == ["acme", "globex"]


def test_wrong_code_verifier_is_refused(autumn_server):
    auth = authorize(autumn_server)
    with pytest.raises(OAuthError) as refused:
        fetch_token(autumn_server, auth, verifier="x" * 64)
    assert refused.value.error == "invalid_grant"


def test_code_works_once_and_reuse_revokes_its_tokens(autumn_server):
    auth = authorize(autumn_server)
    token = fetch_token(autumn_server, auth)

    with pytest.raises(OAuthError) as refused:
        fetch_token(autumn_server, auth)
    assert refused.value.error == "invalid_grant"

    orgs = httpx2.get(
        autumn_server.url + "/cli/organizations", headers=bearer(token["access_token"])
    )
    assert orgs.status_code == 401


def test_expired_code_is_refused(start_autumn_server):
    server = start_autumn_server(code_ttl=0.3)
    auth = authorize(server)
    time.sleep(0.5)
    with pytest.raises(OAuthError) as refused:
        fetch_token(server, auth)
    assert refused.value.error == "invalid_grant"


UNREGISTERED_REDIRECT_URIS = [
    "http://localhost:31453/",
    "http://localhost:31447/",
    "http://localhost:31448",
    "http://localhost:31448/callback",
    "https://localhost:31448/",
    "http://[::1]:31448/",
    "http://evil.example/",
    "http://localhost:31448/?next=x",
]


def test_unregistered_redirect_uri_shows_an_error_and_does_not_redirect(autumn_server):
    for redirect_uri in UNREGISTERED_REDIRECT_URIS:
        client = oauth_client(redirect_uri=redirect_uri)
        url, _ = client.create_authorization_url(
            autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
        )
        response = httpx2.get(url)
        assert response.status_code == 400, redirect_uri
        assert "location" not in response.headers, redirect_uri
        assert "not valid" in response.text


def test_every_registered_redirect_uri_is_accepted(autumn_server):
    with httpx2.Client() as session:
        for port in range(31448, 31453):
            for host in ("localhost", "127.0.0.1"):
                uri = f"http://{host}:{port}/"
                url, _ = oauth_client(redirect_uri=uri).create_authorization_url(
                    autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
                )
                outcome = browse(
                    url,
                    email=autumn_server.email,
                    password=autumn_server.password,
                    follow_callback=False,
                    client=session,
                )
                assert outcome.redirect_uri == uri
                assert "code" in outcome.params


def test_unknown_client_is_refused_without_redirect(autumn_server):
    url, _ = oauth_client().create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    response = httpx2.get(replace_params(url, client_id="someone-else"))
    assert response.status_code == 400
    assert "location" not in response.headers


def test_missing_state_is_an_invalid_request_sent_back_to_the_client(autumn_server):
    url, _ = oauth_client().create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    response = httpx2.get(replace_params(url, state=None))
    assert response.status_code == 302
    params = query_params(response.headers["location"])
    assert params["error"] == "invalid_request"
    assert params["iss"] == autumn_server.issuer
    assert "code" not in params


PKCE_VIOLATIONS = [
    ({"code_challenge": None, "code_challenge_method": None}, "no PKCE"),
    ({"code_challenge_method": "plain"}, "plain PKCE"),
    ({"code_challenge_method": None}, "method omitted means plain"),
    ({"code_challenge": "too-short"}, "malformed challenge"),
]


def test_pkce_s256_is_required(autumn_server):
    for change, why in PKCE_VIOLATIONS:
        url, state = oauth_client().create_authorization_url(
            autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
        )
        response = httpx2.get(replace_params(url, **change))
        assert response.status_code == 302, why
        params = query_params(response.headers["location"])
        assert params["error"] == "invalid_request", why
        assert params["state"] == state


def test_unknown_scope_is_refused(autumn_server):
    client = oauth_client(scope="customers:read admin:everything")
    url, _ = client.create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="v" * 64
    )
    params = query_params(httpx2.get(url).headers["location"])
    assert params["error"] == "invalid_scope"


def test_deny_sends_access_denied_with_state_and_issuer(autumn_server):
    auth = authorize(autumn_server, action="deny")
    params = auth.params
    assert params["error"] == "access_denied"
    assert params["state"] == auth.state
    assert params["iss"] == autumn_server.issuer
    assert "code" not in params
    assert autumn_server.stats()["authorizations_granted"] == 0


def test_signed_in_session_skips_the_sign_in_page_but_not_consent(autumn_server):
    client = httpx2.Client()
    first = authorize(autumn_server)
    assert first.location is not None
    url, _ = oauth_client().create_authorization_url(
        autumn_server.url + AUTHORIZE_PATH, code_verifier="w" * 64
    )
    outcome = browse(
        url,
        email=autumn_server.email,
        password=autumn_server.password,
        follow_callback=False,
        client=client,
    )
    assert outcome.steps == ["redirect", "sign-in", "redirect", "approve org=default"]
    again = browse(
        url,
        email=autumn_server.email,
        password=autumn_server.password,
        follow_callback=False,
        client=client,
    )
    assert again.steps == ["approve org=default"]
    client.close()


def test_refresh_token_rotates_and_the_old_one_is_refused(autumn_server):
    auth = authorize(autumn_server)
    first = fetch_token(autumn_server, auth)
    client = oauth_client()
    token_url = autumn_server.url + "/api/auth/oauth2/token"

    second = client.refresh_token(token_url, refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert mint_ok(autumn_server, second["access_token"])

    with pytest.raises(OAuthError) as refused:
        oauth_client().refresh_token(token_url, refresh_token=first["refresh_token"])
    assert refused.value.error == "invalid_grant"

    third = oauth_client().refresh_token(token_url, refresh_token=second["refresh_token"])
    assert mint_ok(autumn_server, third["access_token"])


def mint_ok(server, access_token: str) -> bool:
    response = httpx2.post(server.url + "/cli/api-keys", headers=bearer(access_token))
    return response.status_code == 200


def test_refreshed_token_keeps_the_consent_organization(autumn_server):
    auth = authorize(autumn_server, org="globex")
    first = fetch_token(autumn_server, auth)
    refreshed = oauth_client().refresh_token(
        autumn_server.url + "/api/auth/oauth2/token", refresh_token=first["refresh_token"]
    )
    keys = httpx2.post(
        autumn_server.url + "/cli/api-keys", headers=bearer(refreshed["access_token"])
    ).json()
    me = httpx2.get(autumn_server.url + "/v1/organization/me", headers=bearer(keys["sandbox_key"]))
    assert me.json()["slug"] == "globex"


def test_revoking_the_access_token_stops_it_working(autumn_server):
    token = fetch_token(autumn_server, authorize(autumn_server))
    client = oauth_client()
    response = client.revoke_token(
        autumn_server.url + "/api/auth/oauth2/revoke",
        token=token["access_token"],
        token_type_hint="access_token",
    )
    assert response.status_code == 200
    assert not mint_ok(autumn_server, token["access_token"])
    # The refresh token still works: only the access token was revoked.
    oauth_client().refresh_token(
        autumn_server.url + "/api/auth/oauth2/token", refresh_token=token["refresh_token"]
    )


def test_revoking_the_refresh_token_ends_the_grant(autumn_server):
    token = fetch_token(autumn_server, authorize(autumn_server))
    response = oauth_client().revoke_token(
        autumn_server.url + "/api/auth/oauth2/revoke",
        token=token["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert response.status_code == 200
    with pytest.raises(OAuthError):
        oauth_client().refresh_token(
            autumn_server.url + "/api/auth/oauth2/token", refresh_token=token["refresh_token"]
        )
    assert not mint_ok(autumn_server, token["access_token"])


def test_revoking_an_unknown_token_is_not_an_error(autumn_server):
    response = httpx2.post(
        autumn_server.url + "/api/auth/oauth2/revoke",
        data={"token": "not-a-token", "client_id": CLIENT_ID},
    )
    assert response.status_code == 200


def test_access_token_expires(start_autumn_server):
    server = start_autumn_server(access_token_ttl=1)
    token = fetch_token(server, authorize(server))
    assert token["expires_in"] == 1
    time.sleep(1.2)
    response = httpx2.post(server.url + "/cli/api-keys", headers=bearer(token["access_token"]))
    assert response.status_code == 401
