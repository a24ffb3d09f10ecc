"""The OAuth 2.0 authorization server, assembled from authlib's parts.

Authorization code grant with PKCE (S256 only, required), refresh tokens with rotation,
RFC 7009 revocation, RFC 9207 `iss` in authorization responses, RFC 8414 metadata.
"""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask

from . import store
from .config import ServerConfig
from .context import config, db
from .models import AuthorizationCode, Client, GrantUser, Token

AUTHORIZE_PATH = "/api/auth/oauth2/authorize"
TOKEN_PATH = "/api/auth/oauth2/token"
REVOKE_PATH = "/api/auth/oauth2/revoke"


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
        if not self.request.payload.state:
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

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        record = store.claim_code(db(), code, client.get_client_id())
        return None if record is None else AuthorizationCode(record)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # already marked used when it was claimed

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
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": ttl, "refresh_token": ttl}
    app.config["OAUTH2_SCOPES_SUPPORTED"] = store.SCOPES
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RotatingRefreshTokenGrant)
    server.register_endpoint(Revocation)
    if cfg.enabled("iss"):
        server.register_extension(Issuer(cfg.issuer))
    return server


def metadata(cfg: ServerConfig) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    base = cfg.issuer.rstrip("/")
    return {
        "issuer": cfg.issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "scopes_supported": store.SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": cfg.enabled("iss"),
    }
