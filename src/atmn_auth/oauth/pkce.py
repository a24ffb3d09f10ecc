"""OAuth 2.0 authorization code + PKCE against an Autumn backend, on authlib's client.

`discover` finds the endpoints (RFC 8414 when `ATMN_OAUTH_ISSUER` is set, else the
contract's fixed paths, enriched by the backend's metadata when it serves one) and the
extensions the server advertises (§X);
`PKCEClient` makes a fresh verifier and the URL to open, judges what came back to the
redirect URI (`check_callback`), gets tokens (`exchange_code`) and gives them back
(`revoke_tokens`). Every request goes through the command's `Session`; authlib's
client borrows its connections.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from atmn_auth.api.metadata import OAUTH_SUFFIX, extensions_of, fetch_metadata, issuer_metadata_urls
from atmn_auth.api.session import Session, server_message
from atmn_auth.errors import AtmnError, BackendError, OAuthFlowError
from atmn_auth.settings import AUTHORIZE_PATH, SCOPES, TOKEN_PATH, Settings, check_url
from atmn_auth.text import printable

# Each verifier and state is 48 characters of [A-Za-z0-9] from `secrets`: ~285 bits.
_SECRET_LENGTH = 48
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 b64token


@dataclass(frozen=True)
class ServerInfo:
    issuer: str | None
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    iss_supported: bool
    #: RFC 8628 (contract §6), when the metadata offers it
    device_authorization_endpoint: str | None = None
    pkce_supported: bool = True
    #: Contract §X: the extensions the server advertises (none without metadata)
    extensions: frozenset[str] = frozenset()

    def offers(self, extension: str) -> bool:
        return extension in self.extensions


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scope: str | None

    def __repr__(self) -> str:
        return f"Tokens(expires_in={self.expires_in!r}, scope={self.scope!r})"


def fixed_endpoints(settings: Settings) -> ServerInfo:
    """The contract's endpoints of `settings.backend_url`, before any metadata is read."""
    backend = settings.backend_url
    return ServerInfo(
        issuer=None,
        authorization_endpoint=backend + AUTHORIZE_PATH,
        token_endpoint=backend + TOKEN_PATH,
        revocation_endpoint=None,
        iss_supported=False,
    )


def discover(
    settings: Settings, session: Session, debug: Callable[[str], None] | None = None
) -> ServerInfo:
    """The endpoints to use for `settings`, and the extensions the server advertises (§X).

    With `ATMN_OAUTH_ISSUER`, the issuer's metadata is required and checked. Otherwise the
    backend's metadata is optional: when its answer is unusable (none there, a redirect, a
    5xx, not JSON) the contract's fixed endpoints are used with no extension, and `debug`
    is told why. A backend that cannot be reached (or whose certificate cannot be
    verified) raises `BackendUnreachable` at once: the sign-in could not go on anyway.
    """
    if settings.issuer:
        return _discover_issuer(settings.issuer, session)
    backend = settings.backend_url
    try:
        meta = fetch_metadata(backend + OAUTH_SUFFIX, session)
    except BackendError as exc:
        if debug is not None:
            debug(f"no usable OAuth metadata ({exc.message}); using the contract's endpoints")
        meta = None
    issuer = meta.get("issuer") if meta else None
    return ServerInfo(
        issuer=issuer if isinstance(issuer, str) and issuer else None,
        authorization_endpoint=backend + AUTHORIZE_PATH,
        token_endpoint=backend + TOKEN_PATH,
        # the tokens go back to the backend that issued them, nowhere else
        revocation_endpoint=_on_backend(meta, "revocation_endpoint", backend),
        iss_supported=bool(meta and meta.get("authorization_response_iss_parameter_supported")),
        device_authorization_endpoint=_on_backend(meta, "device_authorization_endpoint", backend),
        pkce_supported=_pkce(meta),
        extensions=extensions_of(meta),
    )


def _on_backend(meta: Mapping[str, Any] | None, name: str, backend: str) -> str | None:
    """The endpoint `name` of the metadata when it is on the backend's own origin, spelt as
    we spell the backend (localhost and 127.0.0.1 are one host to the server, but two to
    a connection pool); None otherwise."""
    url = meta.get(name) if meta else None
    if isinstance(url, str) and _same_origin(url, backend):
        return backend + _path_of(url)
    return None


def _pkce(meta: Mapping[str, Any] | None) -> bool:
    methods = meta.get("code_challenge_methods_supported") if meta else None
    return not isinstance(methods, list) or "S256" in methods


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port; `localhost`, 127.0.0.1 and ::1 count as one host."""
    from urllib.parse import urlsplit

    loopback = {"localhost", "127.0.0.1", "::1"}
    try:
        a, b = urlsplit(url), urlsplit(base)
        ports = (a.port, b.port)
    except ValueError:
        return False
    hosts = (a.hostname or "", b.hostname or "")
    same_host = hosts[0] == hosts[1] or (hosts[0] in loopback and hosts[1] in loopback)
    return a.scheme == b.scheme and ports[0] == ports[1] and same_host


def _discover_issuer(issuer: str, session: Session) -> ServerInfo:
    urls = issuer_metadata_urls(issuer)
    meta: dict[str, Any] | None = None
    for url in urls:
        meta = fetch_metadata(url, session)
        if meta is not None:
            break
    if meta is None:
        raise OAuthFlowError(
            f"ATMN_OAUTH_ISSUER is {issuer}, but it serves no OAuth metadata "
            f"at {urls[0]} or {urls[1]}"
        )
    if meta.get("issuer") != issuer:
        raise OAuthFlowError(
            f"the OAuth metadata names issuer {meta.get('issuer')!r}, "
            f"not ATMN_OAUTH_ISSUER {issuer!r}; refusing to sign in"
        )
    auth_ep, token_ep = meta.get("authorization_endpoint"), meta.get("token_endpoint")
    if not isinstance(auth_ep, str) or not isinstance(token_ep, str):
        raise OAuthFlowError(f"the OAuth metadata of {issuer} lacks its endpoints")
    for name, url in (("authorization_endpoint", auth_ep), ("token_endpoint", token_ep)):
        check_url(url, f"the {name} of {issuer}", session.environ)
    methods = meta.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise OAuthFlowError(f"{issuer} does not support PKCE with S256; refusing to sign in")
    return ServerInfo(
        issuer=issuer,
        authorization_endpoint=auth_ep,
        token_endpoint=token_ep,
        revocation_endpoint=_usable(meta, "revocation_endpoint", issuer, session),
        iss_supported=bool(meta.get("authorization_response_iss_parameter_supported")),
        device_authorization_endpoint=_usable(
            meta, "device_authorization_endpoint", issuer, session
        ),
        pkce_supported=_pkce(meta),
        extensions=extensions_of(meta),
    )


def _usable(meta: Mapping[str, Any], name: str, issuer: str, session: Session) -> str | None:
    """An optional endpoint of the metadata; a malformed one is dropped, not refused."""
    url = meta.get(name)
    if not isinstance(url, str):
        return None
    try:
        return check_url(url, f"the {name} of {issuer}", session.environ)
    except AtmnError:
        return None


def new_state() -> str:
    """A fresh `state` for one sign-in attempt (the callback server needs it first)."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(_SECRET_LENGTH))


def pairing_code(state: str) -> str:
    """The code the consent page shows for `state` (contract §1): the first 8 characters
    of the unpadded base32 of SHA-256(state), as `XXXX-XXXX`. A person compares it with
    the terminal's to see that the page belongs to this sign-in."""
    import base64
    import hashlib

    code = base64.b32encode(hashlib.sha256(state.encode()).digest()).decode()[:8]
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class AuthRequest:
    url: str
    state: str
    verifier: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"AuthRequest(redirect_uri={self.redirect_uri!r})"


class PKCEClient:
    """authlib's OAuth client for one sign-in, on the session's connections: it builds the
    authorization URL and trades the code for tokens."""

    def __init__(self, settings: Settings, session: Session, redirect_uri: str) -> None:
        self.settings = settings
        self.session = session
        self.redirect_uri = redirect_uri
        self._client = session.oauth2_client(
            client_id=settings.client_id,
            token_endpoint_auth_method="none",
            scope=" ".join(SCOPES),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    def close(self) -> None:
        self._client.close()

    def authorization_request(
        self, server: ServerInfo, state: str, *, organization: str | None = None
    ) -> AuthRequest:
        """A fresh PKCE verifier, and the authorization URL carrying its challenge and
        `state`; `organization` (a slug or id) asks the consent page to preselect it."""
        from authlib.common.security import generate_token

        verifier = generate_token(_SECRET_LENGTH)
        hint = {"organization": organization} if organization else {}
        url, _ = self._client.create_authorization_url(
            server.authorization_endpoint,
            state=state,
            code_verifier=verifier,
            prompt="consent",
            **hint,
        )
        return AuthRequest(url=url, state=state, verifier=verifier, redirect_uri=self.redirect_uri)

    def exchange_code(self, server: ServerInfo, request: AuthRequest, code: str) -> Tokens:
        """Trades the code (with its verifier and the same redirect URI) for tokens.

        authlib makes the request (`client_id` in the body, as a public client) and parses
        the answer; the session's transport caps the body, and no redirect is followed: the
        code and verifier go to the token endpoint and nowhere else.
        """
        import httpx2
        from authlib.integrations.base_client import OAuthError

        self.session.check_url(server.token_endpoint)
        try:
            with self.session.translate_errors(httpx2.URL(server.token_endpoint)):
                token = self._client.fetch_token(
                    server.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=request.verifier,
                    redirect_uri=request.redirect_uri,
                )
        except OAuthError as exc:
            refusal = {"error": exc.error, "error_description": exc.description}
            raise OAuthFlowError(
                f"the server refused the authorization code ({_refusal(refusal)})"
            ) from None
        except httpx2.HTTPStatusError as exc:
            raise OAuthFlowError(
                f"the token endpoint answered {server_message(exc.response)}"
            ) from None
        except AtmnError as exc:
            raise OAuthFlowError(f"the token exchange failed: {exc.message}") from None
        except (ValueError, RecursionError) as exc:  # not a JSON object, or unreadable fields
            raise OAuthFlowError(
                f"the token endpoint's answer is unusable: {printable(str(exc), 120)}"
            ) from None
        return tokens_from(token)


def check_callback(params: Mapping[str, str], request: AuthRequest, server: ServerInfo) -> str:
    """The authorization code, once `params` pass every check, in the contract's order:
    the server's error, the state (constant time), the issuer (RFC 9207), then the code.
    """
    error = printable(params.get("error", ""), 60)
    if error:
        description = printable(params.get("error_description", ""))
        said = f"{error}: {description}" if description else error
        if error == "access_denied":
            raise OAuthFlowError(f"sign-in was denied in the browser ({said})")
        raise OAuthFlowError(f"the server refused the sign-in ({said})")
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), request.state.encode()):
        raise OAuthFlowError("the answer to the browser is not from this sign-in (state mismatch)")
    iss = params.get("iss")
    if server.issuer and (server.iss_supported or iss is not None):
        if iss is None:
            raise OAuthFlowError(
                f"the authorization response lacks `iss`, which {server.issuer} promises "
                "(RFC 9207); refusing to continue"
            )
        if iss != server.issuer:
            raise OAuthFlowError(
                f"the authorization response comes from issuer {iss!r}, not {server.issuer!r}; "
                "refusing to continue"
            )
    code = params.get("code")
    if not code:
        raise OAuthFlowError("the browser came back without an authorization code")
    return code


def tokens_from(token: Mapping[str, Any]) -> Tokens:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthFlowError("the token endpoint answered without an access token")
    if not _BEARER_TOKEN.fullmatch(access):
        raise OAuthFlowError("the token endpoint issued an access token that is not a bearer token")
    token_type = printable(str(token.get("token_type", "Bearer")), 40)
    if token_type.lower() != "bearer":
        raise OAuthFlowError(f"the token endpoint issued a {token_type!r} token, not Bearer")
    refresh = token.get("refresh_token")
    scope = token.get("scope")
    return Tokens(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_in=_seconds(token.get("expires_in")),
        scope=scope if isinstance(scope, str) else None,
    )


def _refusal(answer: dict[str, Any]) -> str:
    """`error: description` of an OAuth error answer (RFC 6749 §5.2), made safe to print."""
    error = printable(str(answer.get("error")), 60)
    description = answer.get("error_description")
    if isinstance(description, str) and printable(description):
        return f"{error}: {printable(description)}"
    return error


def _seconds(value: object) -> int | None:
    """`expires_in` as whole seconds, or None when it is not a plausible number of them."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def revoke_tokens(settings: Settings, server: ServerInfo, tokens: Tokens, session: Session) -> None:
    """Best effort: tells the server we are done with the OAuth tokens (RFC 7009).

    The CLI keeps no OAuth token once the keys are minted, so none should stay valid.
    Revoking the refresh token revokes its whole grant, access token included (RFC 7009
    §2.1), so that one request is enough; the access token is sent only without one.
    """
    if not server.revocation_endpoint:
        return
    token, hint = (
        (tokens.refresh_token, "refresh_token")
        if tokens.refresh_token
        else (tokens.access_token, "access_token")
    )
    try:
        session.request(
            "POST",
            server.revocation_endpoint,
            timeout=5.0,
            data={"token": token, "token_type_hint": hint, "client_id": settings.client_id},
        )
    except AtmnError:
        return
