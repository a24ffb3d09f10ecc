"""What comes back to the redirect URI (`check_callback`), where OAuth metadata sends the
tokens (`discover`), and what is given back at the end (`revoke_tokens`)."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx2
import pytest

from atmn_auth.errors import BackendUnreachable, OAuthFlowError
from atmn_auth.oauth.pkce import (
    AuthRequest,
    ServerInfo,
    Tokens,
    check_callback,
    discover,
    revoke_tokens,
)
from atmn_auth.settings import CLIENT_ID, load_settings

from .helpers import Backend, raises, reply

BACKEND = "https://api.example.com"
ISSUER = "https://auth.example.com"
STATE = "S" * 48
REQUEST = AuthRequest(
    url=BACKEND + "/api/auth/oauth2/authorize?...",
    state=STATE,
    verifier="v" * 48,
    redirect_uri="http://localhost:31448/",
)
PLAIN = ServerInfo(
    issuer=None,
    authorization_endpoint=BACKEND + "/api/auth/oauth2/authorize",
    token_endpoint=BACKEND + "/api/auth/oauth2/token",
    revocation_endpoint=BACKEND + "/api/auth/oauth2/revoke",
    iss_supported=False,
)
WITH_ISS = ServerInfo(
    issuer=BACKEND,
    authorization_endpoint=PLAIN.authorization_endpoint,
    token_endpoint=PLAIN.token_endpoint,
    revocation_endpoint=PLAIN.revocation_endpoint,
    iss_supported=True,
)
ACCESS, REFRESH = "access-token-abc", "refresh-token-xyz"
REVOKE = ("POST", "/api/auth/oauth2/revoke")


# --- check_callback ----------------------------------------------------------------------


def test_a_good_answer_gives_the_code() -> None:
    assert check_callback({"code": "c0de", "state": STATE}, REQUEST, PLAIN) == "c0de"
    params = {"code": "c0de", "state": STATE, "iss": BACKEND}
    assert check_callback(params, REQUEST, WITH_ISS) == "c0de"


def test_a_denial_in_the_browser_says_so() -> None:
    params = {"error": "access_denied", "error_description": "User pressed Deny", "state": STATE}
    with pytest.raises(OAuthFlowError) as e:
        check_callback(params, REQUEST, PLAIN)
    assert e.value.message == "sign-in was denied in the browser (access_denied: User pressed Deny)"


def test_another_error_is_the_servers_refusal_even_with_a_wrong_state() -> None:
    params = {"error": "invalid_scope", "state": "not-ours", "code": "c0de"}
    with pytest.raises(OAuthFlowError) as e:
        check_callback(params, REQUEST, PLAIN)
    assert e.value.message == "the server refused the sign-in (invalid_scope)"


def test_an_error_description_cannot_drive_the_terminal() -> None:
    params = {
        "error": "server_error\x1b[2J",
        "error_description": "a\nb\x1b]0;x\x07",
        "state": STATE,
    }
    with pytest.raises(OAuthFlowError) as e:
        check_callback(params, REQUEST, PLAIN)
    assert "\x1b" not in e.value.message and "\n" not in e.value.message


@pytest.mark.parametrize("state", [None, "", "S" * 47, "S" * 49, "T" + "S" * 47])
def test_a_state_mismatch_is_refused(state: str | None) -> None:
    params = {"code": "c0de"} if state is None else {"code": "c0de", "state": state}
    with pytest.raises(OAuthFlowError, match=r"not from this sign-in \(state mismatch\)"):
        check_callback(params, REQUEST, PLAIN)


def test_an_answer_from_another_issuer_is_refused() -> None:
    params = {"code": "c0de", "state": STATE, "iss": "https://evil.example"}
    with pytest.raises(OAuthFlowError) as e:
        check_callback(params, REQUEST, WITH_ISS)
    assert "comes from issuer 'https://evil.example', not 'https://api.example.com'" in str(e.value)


def test_an_unpromised_iss_is_still_checked_when_the_issuer_is_known() -> None:
    server = ServerInfo(**{**WITH_ISS.__dict__, "iss_supported": False})
    params = {"code": "c0de", "state": STATE, "iss": "https://evil.example"}
    with pytest.raises(OAuthFlowError, match="comes from issuer"):
        check_callback(params, REQUEST, server)
    assert check_callback({"code": "c0de", "state": STATE}, REQUEST, server) == "c0de"


def test_a_missing_iss_is_refused_when_promised() -> None:
    with pytest.raises(OAuthFlowError, match="lacks `iss`"):
        check_callback({"code": "c0de", "state": STATE}, REQUEST, WITH_ISS)


@pytest.mark.parametrize("params", [{"state": STATE}, {"state": STATE, "code": ""}])
def test_a_missing_code_is_refused(params: dict[str, str]) -> None:
    with pytest.raises(OAuthFlowError, match="without an authorization code"):
        check_callback(params, REQUEST, PLAIN)


# --- revoke_tokens -----------------------------------------------------------------------


def revoke(backend: Backend, server: ServerInfo, tokens: Tokens) -> None:
    settings = load_settings(prod=False, local=False, environ={})
    with backend.session() as session:
        assert revoke_tokens(settings, server, tokens, session) is None


def form(request: httpx2.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def test_only_the_refresh_token_is_sent_when_there_is_one() -> None:
    backend = Backend({REVOKE: reply(200)})
    revoke(backend, PLAIN, Tokens(ACCESS, REFRESH, 3600, None))
    (request,) = backend.requests
    assert str(request.url) == PLAIN.revocation_endpoint
    assert form(request) == {
        "token": [REFRESH],
        "token_type_hint": ["refresh_token"],
        "client_id": [CLIENT_ID],
    }
    assert not backend.sent(ACCESS)


def test_the_access_token_is_sent_without_a_refresh_token() -> None:
    backend = Backend({REVOKE: reply(200)})
    revoke(backend, PLAIN, Tokens(ACCESS, None, 3600, None))
    (request,) = backend.requests
    assert form(request)["token"] == [ACCESS]
    assert form(request)["token_type_hint"] == ["access_token"]
    assert "authorization" not in request.headers


def test_nothing_is_sent_without_a_revocation_endpoint() -> None:
    backend = Backend({REVOKE: reply(200)})
    revoke(
        backend,
        ServerInfo(**{**PLAIN.__dict__, "revocation_endpoint": None}),
        Tokens(ACCESS, REFRESH, None, None),
    )
    assert backend.requests == []


@pytest.mark.parametrize(
    "route",
    [reply(500), reply(400, {"error": "unsupported_token_type"}), raises(httpx2.ConnectError)],
)
def test_a_failed_revocation_is_quiet(route: object) -> None:
    revoke(Backend({REVOKE: route}), PLAIN, Tokens(ACCESS, REFRESH, None, None))  # type: ignore[dict-item]


def test_a_plain_http_revocation_endpoint_never_gets_the_token() -> None:
    backend = Backend({REVOKE: reply(200)})
    server = ServerInfo(
        **{**PLAIN.__dict__, "revocation_endpoint": "http://auth.example.com/revoke"}
    )
    revoke(backend, server, Tokens(ACCESS, REFRESH, None, None))
    assert backend.requests == []


# --- discover: where the tokens may go ----------------------------------------------------

WELL_KNOWN = ("GET", "/.well-known/oauth-authorization-server")


def test_a_revocation_endpoint_on_another_host_is_ignored() -> None:
    meta = {"issuer": BACKEND, "revocation_endpoint": "https://collector.evil.example/revoke"}
    backend = Backend({WELL_KNOWN: reply(200, meta)})
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": BACKEND})
    with backend.session() as session:
        server = discover(settings, session)
        assert server.revocation_endpoint is None
        revoke_tokens(settings, server, Tokens(ACCESS, REFRESH, None, None), session)
    assert not any(r.url.host == "collector.evil.example" for r in backend.requests)
    assert not backend.sent(REFRESH)


def test_a_backend_without_metadata_uses_the_contracts_paths() -> None:
    backend = Backend(extensions=None)  # 404 everywhere
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": BACKEND})
    with backend.session() as session:
        server = discover(settings, session)
    assert server.token_endpoint == BACKEND + "/api/auth/oauth2/token"
    assert (server.issuer, server.revocation_endpoint, server.iss_supported) == (None, None, False)


@pytest.mark.parametrize(
    "answer",
    [
        reply(503, {"message": "down"}),
        reply(302, headers={"location": "https://elsewhere.example/"}),
        reply(200, ["not", "an", "object"]),
    ],
    ids=["5xx", "redirect", "not-an-object"],
)
def test_unusable_metadata_falls_back_to_the_contracts_endpoints(answer: object) -> None:
    """The backend's metadata is optional: whatever goes wrong with it, the sign-in goes on
    with the contract's endpoints and no extension, saying why under --debug."""
    backend = Backend({WELL_KNOWN: answer})  # type: ignore[dict-item]
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": BACKEND})
    said: list[str] = []
    with backend.session() as session:
        server = discover(settings, session, said.append)
    assert server.authorization_endpoint == BACKEND + "/api/auth/oauth2/authorize"
    assert server.token_endpoint == BACKEND + "/api/auth/oauth2/token"
    assert server.extensions == frozenset()
    assert len(said) == 1 and said[0].startswith("no usable OAuth metadata (")


def test_a_backend_that_cannot_be_reached_stops_the_sign_in_at_once() -> None:
    """No answer at all is no fallback: the code exchange could not be reached either."""
    backend = Backend({WELL_KNOWN: raises(httpx2.ConnectError, "connection refused")})
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": BACKEND})
    with backend.session() as session, pytest.raises(BackendUnreachable, match="cannot reach"):
        discover(settings, session)


def test_the_extensions_the_metadata_advertises_are_read() -> None:
    meta = {"issuer": BACKEND, "atmn_extensions": ["key_revocation", "pairing_code", "new"]}
    backend = Backend({WELL_KNOWN: reply(200, meta)})
    settings = load_settings(prod=False, local=False, environ={"ATMN_BACKEND_URL": BACKEND})
    with backend.session() as session:
        server = discover(settings, session)
    assert server.extensions == {"key_revocation", "pairing_code"}


PATH_ISSUER = "https://api.example.com/api/auth"


def path_issuer_metadata() -> dict[str, object]:
    return {
        "issuer": PATH_ISSUER,
        "authorization_endpoint": PATH_ISSUER + "/oauth2/authorize",
        "token_endpoint": PATH_ISSUER + "/oauth2/token",
        "code_challenge_methods_supported": ["S256"],
    }


def test_a_path_issuer_is_discovered_as_rfc_8414_says() -> None:
    """RFC 8414 §3: the well-known suffix goes between the host and the issuer's path."""
    rfc8414 = ("GET", "/.well-known/oauth-authorization-server/api/auth")
    backend = Backend({rfc8414: reply(200, path_issuer_metadata())}, extensions=None)
    environ = {"ATMN_OAUTH_ISSUER": PATH_ISSUER}
    settings = load_settings(prod=False, local=False, environ=environ)
    with backend.session() as session:
        server = discover(settings, session)
    assert [r.url.path for r in backend.requests] == [rfc8414[1]]
    assert server.token_endpoint == PATH_ISSUER + "/oauth2/token"


def test_a_path_issuer_falls_back_to_the_openid_form() -> None:
    openid = ("GET", "/api/auth/.well-known/openid-configuration")
    backend = Backend({openid: reply(200, path_issuer_metadata())}, extensions=None)
    environ = {"ATMN_OAUTH_ISSUER": PATH_ISSUER}
    settings = load_settings(prod=False, local=False, environ=environ)
    with backend.session() as session:
        server = discover(settings, session)
    assert [r.url.path for r in backend.requests] == [
        "/.well-known/oauth-authorization-server/api/auth",
        openid[1],
    ]
    assert server.issuer == PATH_ISSUER


def issuer_metadata(**extra: object) -> dict[str, object]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/authorize",
        "token_endpoint": ISSUER + "/token",
        "code_challenge_methods_supported": ["S256"],
        **extra,
    }


def discover_issuer(meta: dict[str, object]) -> tuple[Backend, ServerInfo]:
    backend = Backend({WELL_KNOWN: reply(200, meta)})
    settings = load_settings(prod=False, local=False, environ={"ATMN_OAUTH_ISSUER": ISSUER})
    with backend.session() as session:
        return backend, discover(settings, session)


def test_metadata_naming_another_issuer_is_refused() -> None:
    with pytest.raises(OAuthFlowError, match="refusing to sign in"):
        discover_issuer(issuer_metadata(issuer="https://evil.example"))


def test_metadata_without_s256_is_refused() -> None:
    with pytest.raises(OAuthFlowError, match="PKCE with S256"):
        discover_issuer(issuer_metadata(code_challenge_methods_supported=["plain"]))


def test_a_malformed_revocation_endpoint_is_best_effort() -> None:
    backend, server = discover_issuer(issuer_metadata(revocation_endpoint="https://[::1"))
    revoke(backend, server, Tokens(ACCESS, REFRESH, None, None))
    assert not backend.sent(REFRESH)


def test_the_pairing_code_is_the_one_the_consent_page_derives() -> None:
    """Contract §1: the first 8 base32 characters of SHA-256(state), as XXXX-XXXX; the
    same vector as the stand-in's own test (tests/server/test_consent_page.py)."""
    from atmn_auth.oauth.pkce import pairing_code

    assert pairing_code("af0ifjsldkj") == "NTUG-2X6B"
