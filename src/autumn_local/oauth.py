"""The OAuth 2.0 authorization server, assembled from authlib's parts.

Authorization code grant with PKCE (S256 only, required), refresh tokens with rotation,
RFC 7009 revocation, RFC 9207 `iss` in authorization responses, RFC 8414 metadata, and the
RFC 8628 device authorization grant (with optional S256 PKCE) unless `--disable device`.
"""

from __future__ import annotations

import hmac
import math
import re
from typing import Any, ClassVar

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Request,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    ExpiredTokenError,
    SlowDownError,
)
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, jsonify

from . import scopes, store
from .config import ServerConfig
from .context import config, db
from .models import AuthorizationCode, Client, DeviceCredential, GrantUser, Token

AUTHORIZE_PATH = "/api/auth/oauth2/authorize"
TOKEN_PATH = "/api/auth/oauth2/token"
REVOKE_PATH = "/api/auth/oauth2/revoke"
DEVICE_PATH = "/api/auth/oauth2/device"
#: The verification page a person opens for a device request (RFC 8628 §3.3).
DEVICE_PAGE_PATH = "/device"

# RFC 7636 §4.1/§4.2: 43 to 128 unreserved characters.
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_MAX_ORG_HINT = 200


class TemporarilyUnavailableError(OAuth2Error):  # type: ignore[misc]
    error = "temporarily_unavailable"
    status_code = 503


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


def _in_seconds(seconds: int) -> str:
    return f"try again in {seconds} second{'' if seconds == 1 else 's'}"


class DeviceRequestsFullError(TemporarilyUnavailableError):
    """503 `temporarily_unavailable` with Retry-After: as many device requests as allowed
    wait for approval (`--device-pending-limit`)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = _seconds(retry_after)
        super().__init__(
            "Too many sign-ins with a code are waiting for approval; "
            + _in_seconds(self.retry_after)
            + "."
        )

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


def too_many_device_requests(wait: float) -> Response:
    """429 `slow_down` (RFC 8628 §3.5's word for "ask less often", as an RFC 6749 §5.2
    error body) with Retry-After: the client's address asked for more device codes than
    `--device-request-limit` allows within `--device-request-window`."""
    seconds = _seconds(wait)
    response = jsonify(
        error="slow_down",
        error_description="Too many device authorization requests from this address; "
        + _in_seconds(seconds)
        + ".",
    )
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def query_client(client_id: str) -> Client | None:
    record = store.get_client(db(), client_id)
    return None if record is None else Client(record)


def save_token(token: dict[str, Any], request: Any) -> None:
    user: GrantUser = request.user
    code = getattr(request, "authorization_code", None)
    store.save_token(
        db(),
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        client_id=request.client.get_client_id(),
        user_id=user.user_id,
        org_id=user.org_id,
        code_id=code.record.id if isinstance(code, AuthorizationCode) else None,
        scope=token.get("scope", ""),
        expires_in=int(token["expires_in"]),
    )


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE, required on every authorization request, with the S256 method only."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        # Hosted Autumn does not require `state` (the CLI must send it, contract §1).
        if not self.request.payload.state and not config().hosted:
            raise InvalidRequestError("Missing 'state'.", redirect_uri=redirect_uri)
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: GrantUser = request.user
        data = request.payload.data
        store.save_code(
            db(),
            code=code,
            client_id=request.client.get_client_id(),
            user_id=user.user_id,
            org_id=user.org_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            ttl=config().code_ttl,
        )

    def validate_token_request(self) -> None:
        """The code is used up only once everything about the exchange checked out.

        authlib's checks (client, code, redirect URI, then PKCE in its hook) come first; a
        request failing any of them leaves the code to the client it was issued to (a wrong
        `code_verifier` cannot burn it). Then the code is claimed, once (RFC 6749 §10.5).
        """
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        if not store.claim_code(db(), code.record.id):
            raise InvalidGrantError("Invalid 'code' in request.")

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        record = store.find_code(db(), code, client.get_client_id())
        return None if record is None else AuthorizationCode(record)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # marked used when it was claimed, at the end of validate_token_request

    def authenticate_user(self, authorization_code: AuthorizationCode) -> GrantUser | None:
        record = authorization_code.record
        if store.get_user(db(), record.user_id) is None:
            return None
        return GrantUser(record.user_id, record.org_id)


class RotatingRefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Each use of a refresh token returns a new one and revokes the old one."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        record = store.token_by_refresh(db(), refresh_token)
        if record is None or record.refresh_revoked:
            return None
        return Token(record)

    def authenticate_user(self, refresh_token: Token) -> GrantUser | None:
        if store.get_user(db(), refresh_token.record.user_id) is None:
            return None
        user: GrantUser = refresh_token.get_user()
        return user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        store.revoke_token(db(), refresh_token.record.id, access=False, refresh=True)


# --- device authorization grant (RFC 8628) -------------------------------------------------


class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    """`POST /api/auth/oauth2/device`: a device code, a user code and where to enter it.

    Beyond RFC 8628: an optional S256 `code_challenge` (then the token request must carry the
    matching `code_verifier`) and an optional `organization` hint for the verification page.
    """

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def get_verification_uri(self) -> str:
        return config().issuer.rstrip("/") + DEVICE_PAGE_PATH

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, Any, Any]:
        client: Client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device grant.")
        self.server.validate_requested_scope(request.payload.scope)
        data = request.payload.data
        challenge = data.get("code_challenge") or None
        method = data.get("code_challenge_method") or None
        if challenge is None and method is not None:
            raise InvalidRequestError("'code_challenge_method' without 'code_challenge'.")
        if challenge is not None:
            if method != "S256":
                raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
            if not _PKCE_VALUE.match(challenge):
                raise InvalidRequestError("Invalid 'code_challenge'.")
        hint = (data.get("organization") or "").strip()[:_MAX_ORG_HINT] or None

        cfg = config()
        device_code = self.generate_device_code()
        for _ in range(10):
            user_code = self.generate_user_code()
            try:
                saved = store.save_device_code(
                    db(),
                    device_code=device_code,
                    user_code=user_code,
                    client_id=client.get_client_id(),
                    scope=client.get_allowed_scope(request.payload.scope),
                    code_challenge=challenge,
                    code_challenge_method=method if challenge else None,
                    org_hint=hint,
                    ttl=cfg.device_ttl,
                    interval=cfg.device_interval,
                    max_pending=cfg.device_pending_limit,
                )
            except store.DeviceRequestsFull as full:
                raise DeviceRequestsFullError(full.retry_after) from None
            if saved:
                break
        else:
            raise TemporarilyUnavailableError("Could not allocate a user code; try again.")
        verification_uri = self.get_verification_uri()
        body = {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
            "expires_in": cfg.device_ttl,
            "interval": cfg.device_interval,
        }
        return 200, body, default_json_headers


class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
    """The token endpoint's `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).

    Errors as §3.5: `authorization_pending`, `slow_down` (the interval grows by 5 seconds),
    `access_denied`, `expired_token`; an unknown or already exchanged device code, or a wrong
    `code_verifier`, is `invalid_grant`.
    """

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def validate_token_request(self) -> None:
        data = self.request.payload.data
        device_code = data.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code'.")
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device grant.")
        record = store.device_by_code(db(), device_code)
        if record is None or record.client_id != client.get_client_id():
            raise InvalidGrantError("Invalid 'device_code'.")
        self.check_code_verifier(record, data.get("code_verifier"))
        self.request.user = self.validate_device_credential(DeviceCredential(record))
        self.request.client = client
        self.request.credential = DeviceCredential(record)

    @staticmethod
    def check_code_verifier(record: store.DeviceRecord, verifier: str | None) -> None:
        """RFC 7636 §4.6, for a device request that sent a `code_challenge`."""
        if record.code_challenge is None:
            if verifier:
                raise InvalidRequestError(
                    "The device request had no 'code_challenge', but a 'code_verifier' was sent."
                )
            return
        if not verifier:
            raise InvalidRequestError("Missing 'code_verifier'.")
        if not _PKCE_VALUE.match(verifier):
            raise InvalidRequestError("Invalid 'code_verifier'.")
        expected = create_s256_code_challenge(verifier)
        if not hmac.compare_digest(expected.encode(), record.code_challenge.encode()):
            raise InvalidGrantError("Code challenge failed.")

    def validate_device_credential(self, credential: DeviceCredential) -> GrantUser:
        outcome, record = store.poll_device(db(), credential.record.id)
        if outcome == "approved":
            assert record.user_id is not None
            if store.get_user(db(), record.user_id) is None:
                raise InvalidGrantError("The user who approved this request is gone.")
            return GrantUser(record.user_id, record.org_id)
        if outcome == "pending":
            raise AuthorizationPendingError()
        if outcome == "slow_down":
            raise SlowDownError()
        if outcome == "denied":
            raise AccessDeniedError()
        if outcome == "expired":
            raise ExpiredTokenError()
        raise InvalidGrantError("This device code was already exchanged for tokens.")


class _RevocableToken(Token):
    def __init__(self, record: store.TokenRecord, *, is_refresh: bool) -> None:
        super().__init__(record)
        self.is_refresh = is_refresh


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token also revokes its access token."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        conn = db()
        order = ("refresh_token", "access_token")
        if token_type_hint != "refresh_token":
            order = ("access_token", "refresh_token")
        for kind in order:
            if kind == "access_token":
                record = store.token_by_access(conn, token_string)
            else:
                record = store.token_by_refresh(conn, token_string)
            if record is not None:
                return _RevocableToken(record, is_refresh=kind == "refresh_token")
        return None

    def revoke_token(self, token: _RevocableToken, request: Any) -> None:
        store.revoke_token(db(), token.record.id, access=True, refresh=token.is_refresh)


class Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def create_authorization_server(app: Flask, cfg: ServerConfig) -> AuthorizationServer:
    ttl = cfg.access_token_ttl
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": ttl,
        "refresh_token": ttl,
        DEVICE_CODE_GRANT_TYPE: ttl,
    }
    app.config["OAUTH2_SCOPES_SUPPORTED"] = store.SCOPES
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RotatingRefreshTokenGrant)
    server.register_endpoint(Revocation)
    if cfg.enabled("device"):
        server.register_grant(DeviceGrant)
        server.register_endpoint(DeviceAuthorization)
    if cfg.enabled("iss"):
        server.register_extension(Issuer(cfg.issuer))
    return server


#: Contract §X: the extensions the full profile advertises, each with the `--disable`
#: feature that turns it off (None: always on).
EXTENSIONS: tuple[tuple[str, str | None], ...] = (
    ("organizations", "organizations"),
    ("organization_hint", None),
    ("pairing_code", None),
    ("mint_org_id", "organizations"),
    ("key_names", "keys"),
    ("key_revocation", "revoke-key"),
    ("key_listing", "keys"),
)


def extensions(cfg: ServerConfig) -> list[str]:
    """The `atmn_extensions` this server offers (none on the hosted profile)."""
    if cfg.hosted:
        return []
    return [name for name, feature in EXTENSIONS if feature is None or cfg.enabled(feature)]


def hosted_metadata(cfg: ServerConfig) -> dict[str, Any]:
    """Hosted Autumn's RFC 8414 document (contract §H), with this server's issuer."""
    base = cfg.issuer.rstrip("/")
    return {
        "scopes_supported": list(scopes.SCOPES_SUPPORTED),
        "issuer": cfg.issuer,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/jwks",
        "registration_endpoint": f"{base}/oauth2/register",
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oauth2/userinfo",
        "end_session_endpoint": f"{base}/oauth2/end-session",
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "prompt_values_supported": ["login", "consent", "create", "select_account", "none"],
    }


def metadata(cfg: ServerConfig) -> dict[str, Any]:
    """RFC 8414 authorization server metadata: the full profile's (with `atmn_extensions`,
    contract §X), or hosted Autumn's document on the hosted profile."""
    if cfg.hosted:
        return hosted_metadata(cfg)
    base = cfg.issuer.rstrip("/")
    grant_types = ["authorization_code", "refresh_token"]
    device: dict[str, str] = {}
    if cfg.enabled("device"):
        grant_types.append(DEVICE_CODE_GRANT_TYPE)
        device["device_authorization_endpoint"] = base + DEVICE_PATH
    return {
        "issuer": cfg.issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        **device,
        "scopes_supported": store.SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": cfg.enabled("iss"),
        "atmn_extensions": extensions(cfg),
    }
