"""The hosted profile (`autumn-local serve --hosted`): the answers hosted Autumn gives where
they differ from the full profile's (contract §H and the (Autumn) parts of §1-§4).

- every `/cli/*` request but `POST /cli/api-keys`: 401 `no_auth_header`, nothing changes;
- `POST /cli/api-keys`: the body checked before the token, `scopes` may only narrow;
- the token endpoint of Better Auth 1.6's oauth-provider: codes used up on first sight, no
  refresh tokens, its error bodies;
- the authorize endpoint's errors before the redirect URI is known go to `{issuer}/error`,
  never back to the client.

The metadata document is `oauth.hosted_metadata`; the consent page is in `pages`.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Response, jsonify, make_response, redirect, request

from . import apikeys, scopes, store
from .context import config, db

#: Error bodies of hosted Autumn's own routes carry `env`: "sandbox" before a key is known.
SANDBOX = "sandbox"
#: The grants hosted Autumn's token endpoint knows (its metadata's grant_types_supported).
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
METADATA_CACHE_CONTROL = "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"
#: Where hosted Autumn serves its metadata document: RFC 8414 at the root and in the
#: issuer-path form, RFC 8414 and OpenID under the issuer.
METADATA_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-authorization-server/api/auth",
    "/api/auth/.well-known/oauth-authorization-server",
    "/api/auth/.well-known/openid-configuration",
)
MINT_PATH = "/cli/api-keys"


def autumn_error(status: int, message: str, code: str, env: str = SANDBOX) -> Response:
    """An error of hosted Autumn's own routes: `{"message", "code", "env"}`."""
    return make_response(jsonify(message=message, code=code, env=env), status)


def oauth_error(status: int, error: str, description: str) -> Response:
    """An error of the OAuth endpoints (Better Auth): `{"error", "error_description"}`."""
    return make_response(jsonify(error=error, error_description=description), status)


# --- /cli ----------------------------------------------------------------------------------


def refuse_cli() -> Response | None:
    """Hosted Autumn serves one CLI route, `POST /cli/api-keys`; every other `/cli` request
    meets its session gate: 401 `no_auth_header`, whatever the bearer (contract §H)."""
    path = request.path
    if path != "/cli" and not path.startswith("/cli/"):
        return None
    if path == MINT_PATH and request.method == "POST":
        return None
    return autumn_error(401, "Unauthorized - no session found", "no_auth_header")


def _mint_body() -> dict[str, Any] | None:
    """The mint's body: none or `{}` is `{}`; only `resource` and `scopes` may appear."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not set(body) <= {"resource", "scopes"}:
        return None
    return body


def mint_keys() -> Response:
    """`POST /cli/api-keys` as hosted Autumn answers it (contract §3): the body first, then
    the access token, then the scopes asked for, then the organization."""
    body = _mint_body()
    if body is None:
        return autumn_error(400, "Invalid request body", "invalid_request")
    requested = body.get("scopes")
    if requested is not None and (
        not isinstance(requested, list)
        or not all(isinstance(s, str) and s in scopes.ALL_SCOPES for s in requested)
    ):
        return autumn_error(400, "Invalid scopes", "invalid_request")

    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return autumn_error(401, "Missing or invalid Authorization header", "invalid_request")
    conn = db()
    record = store.token_by_access(conn, auth[len("Bearer ") :])
    if (
        record is None
        or record.access_revoked
        or record.issued_at + record.expires_in <= time.time()
    ):
        return autumn_error(401, "Invalid or expired access token", "invalid_request")
    granted = record.scope.split()
    if requested is not None:
        lacking = scopes.missing(requested, granted)
        if lacking:
            return autumn_error(
                403, f"Insufficient scopes. Missing: {', '.join(lacking)}", "insufficient_scopes"
            )
    if not record.org_id or not config().enabled("bind"):
        return autumn_error(
            400, "No organization found. Please select an organization.", "invalid_request"
        )
    if not granted:
        return autumn_error(401, "OAuth token has no scopes", "invalid_request")
    key_scopes = scopes.key_scopes(requested if requested is not None else granted)
    sandbox_key, prod_key = apikeys.mint_key_pair(
        conn,
        user_id=record.user_id,
        org_id=record.org_id,
        client_id=record.client_id,
        scopes=key_scopes,
    )
    return jsonify(
        sandbox_key=sandbox_key,
        prod_key=prod_key,
        org_id=record.org_id,
        user_id=record.user_id,
        client_id=record.client_id,
        scopes=key_scopes,
    )


# --- token endpoint ------------------------------------------------------------------------


def _form() -> dict[str, str]:
    return {name: value for name, value in request.form.items()}


def token() -> Response:
    """The token endpoint of Better Auth 1.6's oauth-provider, for this server's public
    client: authorization codes only, never a refresh token."""
    form = _form()
    grant_type = form.get("grant_type")
    if not grant_type:
        return oauth_error(400, "unsupported_grant_type", "missing required grant_type")
    if grant_type not in GRANT_TYPES:
        return oauth_error(400, "unsupported_grant_type", f"unsupported grant_type {grant_type}")
    if grant_type == "authorization_code":
        return _authorization_code(form)
    if not form.get("client_id"):
        return oauth_error(400, "invalid_grant", "Missing required client_id")
    if grant_type == "client_credentials":
        if not form.get("client_secret"):
            return oauth_error(400, "invalid_grant", "Missing a required client_secret")
        return oauth_error(401, "invalid_client", "invalid client credentials")
    if not form.get("refresh_token"):
        return oauth_error(
            400, "invalid_grant", "Missing a required refresh_token for refresh_token grant"
        )
    return oauth_error(400, "invalid_grant", "invalid refresh token")


def _authorization_code(form: dict[str, str]) -> Response:
    client_id = form.get("client_id")
    code = form.get("code")
    redirect_uri = form.get("redirect_uri")
    verifier = form.get("code_verifier")
    if not client_id:
        return oauth_error(400, "invalid_request", "client_id is required")
    if not code:
        return oauth_error(400, "invalid_request", "code is required")
    if not redirect_uri:
        return oauth_error(400, "invalid_request", "redirect_uri is required")
    if not verifier and not form.get("client_secret"):
        message = "Either code_verifier or client_secret is required"
        return oauth_error(400, "invalid_request", message)

    conn = db()
    # Used up here, before any other check: a wrong verifier or redirect URI burns it.
    record = store.consume_code(conn, code)
    if record is None:
        return oauth_error(401, "invalid_grant", "invalid code")
    if record.client_id != client_id:
        return oauth_error(401, "invalid_client", "invalid client_id")
    if record.redirect_uri != redirect_uri:
        return oauth_error(400, "invalid_request", "redirect_uri mismatch")
    if store.get_client(conn, client_id) is None:
        return oauth_error(401, "invalid_client", "invalid client_id")
    if not verifier:
        return oauth_error(
            401, "invalid_request", "code_verifier required because PKCE was used in authorization"
        )
    expected = create_s256_code_challenge(verifier)
    if not hmac.compare_digest(expected.encode(), record.code_challenge.encode()):
        return oauth_error(401, "invalid_request", "code verification failed")
    if store.get_user(conn, record.user_id) is None:
        return oauth_error(400, "invalid_user", "missing user, user may have been deleted")

    ttl = config().access_token_ttl
    access_token = secrets.token_urlsafe(32)
    issued = int(time.time())
    store.save_token(
        conn,
        access_token=access_token,
        refresh_token=None,
        client_id=record.client_id,
        user_id=record.user_id,
        org_id=record.org_id,
        code_id=record.id,
        scope=record.scope,
        expires_in=ttl,
    )
    response = jsonify(
        access_token=access_token,
        expires_in=ttl,
        expires_at=issued + ttl,
        token_type="Bearer",
        scope=record.scope,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# --- authorize endpoint --------------------------------------------------------------------


def error_path() -> str:
    """Better Auth's error page, `{issuer}/error`, as a path on this server (so that a
    browser stays on the origin it reached the server by)."""
    return urlsplit(config().issuer).path.rstrip("/") + "/error"


def authorize_precheck() -> Response | None:
    """The authorize request's errors that come before its redirect URI is known: Better
    Auth sends the browser to its own error page, never to the client (contract §1)."""
    args = request.args
    client_id = args.get("client_id")
    problem: tuple[str, str] | None = None
    client = store.get_client(db(), client_id) if client_id else None
    if not client_id:
        problem = ("invalid_client", "client_id is required")
    elif not args.get("response_type"):
        problem = ("invalid_request", "response_type is required")
    elif args.get("response_type") != "code":
        problem = ("unsupported_response_type", "unsupported response type")
    elif client is None:
        problem = ("invalid_client", "client_id is required")
    elif args.get("redirect_uri") not in client.redirect_uris:
        problem = ("invalid_redirect", "invalid redirect uri")
    if problem is None:
        return None
    query = urlencode({"error": problem[0], "error_description": problem[1]})
    return cast(Response, redirect(f"{error_path()}?{query}"))
