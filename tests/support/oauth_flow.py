"""The client side of sign-in for server tests: authlib's OAuth2Client and the scripted browser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from .scripted_browser import browse

CLIENT_ID = "hAWUopQqLnsSwuRgeRzIBzKslwXmQUSr"
REDIRECT_URI = "http://localhost:31448/"
ALL_SCOPES = (
    "customers:create customers:read customers:list customers:update customers:delete "
    "features:create features:read features:list features:update features:delete "
    "plans:create plans:read plans:list plans:update plans:delete "
    "rewards:read rewards:write apiKeys:create apiKeys:read organisation:read"
)
AUTHORIZE_PATH = "/api/auth/oauth2/authorize"
TOKEN_PATH = "/api/auth/oauth2/token"
REVOKE_PATH = "/api/auth/oauth2/revoke"


def oauth_client(redirect_uri: str = REDIRECT_URI, scope: str = ALL_SCOPES) -> OAuth2Client:
    return OAuth2Client(
        CLIENT_ID,
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )


def query_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Authorization:
    """One pass through the pages: the client, its verifier/state, and where it was sent."""

    client: OAuth2Client
    verifier: str
    state: str
    authorize_url: str
    location: str | None
    response: httpx2.Response

    @property
    def params(self) -> dict[str, str]:
        assert self.location is not None, f"no redirect, got {self.response.status_code}"
        return query_params(self.location)


def authorize(
    server: Any,
    *,
    org: str | None = None,
    action: str = "approve",
    client: OAuth2Client | None = None,
    email: str | None = None,
    password: str | None = None,
    **extra: str,
) -> Authorization:
    """Build an authorize URL with authlib, drive the pages, stop at the redirect to the client.

    `extra` adds or overrides query parameters (e.g. `state=""` is not possible with authlib,
    so tests needing odd requests pass them here after the URL is built).
    """
    client = client or oauth_client()
    verifier = generate_token(64)
    url, state = client.create_authorization_url(
        server.url + AUTHORIZE_PATH, code_verifier=verifier, prompt="consent"
    )
    if extra:
        url = replace_params(url, **extra)
    outcome = browse(
        url,
        email=email or server.email,
        password=password or server.password,
        org=org,
        action=action,
        follow_callback=False,
    )
    location = outcome.response.headers.get("location") if outcome.redirect_uri else None
    return Authorization(client, verifier, state, url, location, outcome.response)


def replace_params(url: str, **params: str | None) -> str:
    """`url` with query parameters replaced; a value of None removes the parameter."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    for name, value in params.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return str(httpx2.URL(parts._replace(query="").geturl(), params=query))


def fetch_token(server: Any, auth: Authorization, verifier: str | None = None) -> dict[str, Any]:
    assert auth.location is not None
    token: dict[str, Any] = auth.client.fetch_token(
        server.url + TOKEN_PATH,
        authorization_response=auth.location,
        code_verifier=verifier or auth.verifier,
    )
    return token


def sign_in(server: Any, *, org: str | None = None, scope: str = ALL_SCOPES) -> dict[str, Any]:
    """The whole flow: approve on the pages and exchange the code. Returns the token dict."""
    auth = authorize(server, org=org, client=oauth_client(scope=scope))
    return fetch_token(server, auth)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def mint(server: Any, access_token: str, body: dict[str, Any] | None = None) -> httpx2.Response:
    return httpx2.post(
        server.url + "/cli/api-keys",
        headers=bearer(access_token),
        json=body,
        timeout=10,
    )


#: What a key minted from the CLI's 20 scopes may do, in hosted Autumn's modern names and
#: its order (the token's scopes mapped one by one, each kept once).
CLI_KEY_SCOPES = [
    "customers:write",
    "customers:read",
    "features:write",
    "features:read",
    "plans:write",
    "plans:read",
    "rewards:read",
    "rewards:write",
    "apiKeys:write",
    "apiKeys:read",
    "organisation:read",
]
