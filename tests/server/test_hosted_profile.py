"""`autumn-local serve --hosted` answers as hosted Autumn does (contract §H, and the (Autumn)
parts of §1-§4); the full profile advertises its extensions (§X).

Real server subprocesses, real HTTP. Where a case is about both profiles, it runs on
`any_server` (the full profile and the hosted one).
"""

from __future__ import annotations

import sqlite3
import time
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx2
import pytest

from support.html_page import parse_page
from support.oauth_flow import (
    AUTHORIZE_PATH,
    CLI_KEY_SCOPES,
    CLIENT_ID,
    REDIRECT_URI,
    REVOKE_PATH,
    TOKEN_PATH,
    authorize,
    bearer,
    fetch_token,
    mint,
    oauth_client,
    replace_params,
    sign_in,
)
from support.scripted_browser import browse, make_client, parse_forms

# --- what hosted Autumn answers (contract §H) -----------------------------------------------

NO_SESSION = {
    "message": "Unauthorized - no session found",
    "code": "no_auth_header",
    "env": "sandbox",
}
INVALID_BODY = {"message": "Invalid request body", "code": "invalid_request", "env": "sandbox"}
INVALID_SCOPES = {"message": "Invalid scopes", "code": "invalid_request", "env": "sandbox"}
NO_BEARER = {
    "message": "Missing or invalid Authorization header",
    "code": "invalid_request",
    "env": "sandbox",
}
BAD_TOKEN = {
    "message": "Invalid or expired access token",
    "code": "invalid_request",
    "env": "sandbox",
}
NO_ORG = {
    "message": "No organization found. Please select an organization.",
    "code": "invalid_request",
    "env": "sandbox",
}
INVALID_CODE = {"error": "invalid_grant", "error_description": "invalid code"}
VERIFICATION_FAILED = {"error": "invalid_request", "error_description": "code verification failed"}
REDIRECT_MISMATCH = {"error": "invalid_request", "error_description": "redirect_uri mismatch"}
METADATA_CACHE_CONTROL = "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"
METADATA_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-authorization-server/api/auth",
    "/api/auth/.well-known/openid-configuration",
    "/api/auth/.well-known/oauth-authorization-server",
)
FULL_EXTENSIONS = [
    "organizations",
    "organization_hint",
    "pairing_code",
    "mint_org_id",
    "key_names",
    "key_revocation",
    "key_listing",
]
HOSTED_PERMISSIONS = [
    "Read and write customers",
    "Read and write features",
    "Read and write plans",
    "Read and write rewards",
    "Read and write api keys",
    "Read organisation",
]


def hosted_document(issuer: str) -> dict:
    """§H's metadata document with B = `issuer`, written out as the contract has it."""
    b = issuer
    return {
        "scopes_supported": [
            "openid",
            "profile",
            "email",
            "offline_access",
            "organisation:read",
            "organisation:write",
            "customers:read",
            "customers:write",
            "features:read",
            "features:write",
            "plans:read",
            "plans:write",
            "rewards:read",
            "rewards:write",
            "balances:read",
            "balances:write",
            "billing:read",
            "billing:write",
            "migrations:read",
            "migrations:write",
            "analytics:read",
            "apiKeys:read",
            "apiKeys:write",
            "platform:read",
            "platform:write",
        ],
        "issuer": b,
        "authorization_endpoint": f"{b}/oauth2/authorize",
        "token_endpoint": f"{b}/oauth2/token",
        "jwks_uri": f"{b}/jwks",
        "registration_endpoint": f"{b}/oauth2/register",
        "introspection_endpoint": f"{b}/oauth2/introspect",
        "revocation_endpoint": f"{b}/oauth2/revoke",
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
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": False,
        "userinfo_endpoint": f"{b}/oauth2/userinfo",
        "end_session_endpoint": f"{b}/oauth2/end-session",
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "prompt_values_supported": ["login", "consent", "create", "select_account", "none"],
    }


@pytest.fixture
def hosted_server(start_autumn_server):
    return start_autumn_server(hosted=True)


# --- helpers ------------------------------------------------------------------------------


def exchange(server, code: str, verifier: str, **changes: str) -> httpx2.Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **changes,
    }
    return httpx2.post(
        server.url + TOKEN_PATH, data={k: v for k, v in data.items() if v is not None}
    )


def post_mint(
    server, *, content: bytes | None = None, headers: dict | None = None
) -> httpx2.Response:
    sent = {"Content-Type": "application/json", **(headers or {})}
    return httpx2.post(server.url + "/cli/api-keys", content=content, headers=sent)


def org_me(server, key: str) -> httpx2.Response:
    return httpx2.get(server.url + "/v1/organization/me", headers=bearer(key))


def open_consent_page(
    server, *, email: str | None = None, password: str | None = None, **params: str | None
) -> httpx2.Response:
    """Sign in and open the consent page of a fresh authorize URL."""
    url, _ = oauth_client().create_authorization_url(
        server.url + AUTHORIZE_PATH, code_verifier="v" * 64, prompt="consent"
    )
    if params:
        url = replace_params(url, **params)
    with make_client() as http:
        return _signed_in_page(http, server, url, email, password)


def _signed_in_page(
    http: httpx2.Client, server, url: str, email: str | None, password: str | None
) -> httpx2.Response:
    response = http.get(url)
    for _ in range(5):
        if response.is_redirect:
            response = http.get(urljoin(str(response.url), response.headers["location"]))
            continue
        forms = parse_forms(response.text)
        if forms and forms[0].has_password:
            form = forms[0]
            response = http.post(
                urljoin(str(response.url), form.action),
                data={
                    **form.fields,
                    "email": email or server.email,
                    "password": password or server.password,
                },
            )
            continue
        return response
    raise AssertionError("the consent page never came")


def add_user(server, email: str, password: str, *orgs: str) -> None:
    args = ["users", "add", email, "--password", password]
    for org in orgs:
        args += ["--org", org]
    server.admin(*args, check=True)


def query_pairs(location: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(location).query, keep_blank_values=True)


# --- the metadata document ----------------------------------------------------------------


def test_hosted_metadata_is_hosted_autumns_document_on_each_of_its_urls(hosted_server):
    issuer = f"http://localhost:{hosted_server.port}/api/auth"
    assert hosted_server.issuer == issuer and hosted_server.hosted is True
    for path in METADATA_PATHS:
        response = httpx2.get(hosted_server.url + path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == METADATA_CACHE_CONTROL
        assert response.json() == hosted_document(issuer), path
        assert "atmn_extensions" not in response.json()
        assert "device_authorization_endpoint" not in response.json()


def test_the_openid_document_at_the_root_is_not_found(hosted_server):
    response = httpx2.get(hosted_server.url + "/.well-known/openid-configuration")
    assert (response.status_code, response.json()) == (404, {"error": "not_found"})


def test_hosted_issuer_follows_the_issuer_option(start_autumn_server):
    server = start_autumn_server(hosted=True, issuer="http://localhost:9999/")
    assert server.issuer == "http://localhost:9999/api/auth"
    meta = httpx2.get(server.url + "/.well-known/oauth-authorization-server").json()
    assert meta == hosted_document("http://localhost:9999/api/auth")
    assert authorize(server).params["iss"] == "http://localhost:9999/api/auth"


def test_hosted_metadata_can_still_be_turned_off(start_autumn_server):
    server = start_autumn_server(hosted=True, disable=["metadata"])
    for path in METADATA_PATHS:
        assert httpx2.get(server.url + path).status_code == 404, path


def test_the_full_profile_advertises_its_extensions(autumn_server):
    meta = httpx2.get(autumn_server.url + "/.well-known/oauth-authorization-server").json()
    assert meta["atmn_extensions"] == FULL_EXTENSIONS
    assert meta["issuer"] == autumn_server.issuer == f"http://localhost:{autumn_server.port}"
    assert "device_authorization_endpoint" in meta


@pytest.mark.parametrize(
    ("disabled", "dropped"),
    [
        (["organizations"], {"organizations", "mint_org_id"}),
        (["keys"], {"key_names", "key_listing"}),
        (["revoke-key"], {"key_revocation"}),
        (
            ["organizations", "keys", "revoke-key"],
            set(FULL_EXTENSIONS) - {"organization_hint", "pairing_code"},
        ),
        (["iss", "bind", "device"], set()),
    ],
)
def test_disabled_extensions_are_not_advertised(start_autumn_server, disabled, dropped):
    server = start_autumn_server(disable=disabled)
    meta = httpx2.get(server.url + "/.well-known/oauth-authorization-server").json()
    assert meta["atmn_extensions"] == [name for name in FULL_EXTENSIONS if name not in dropped]


def test_serve_says_when_the_hosted_profile_is_on(start_autumn_server):
    hosted = start_autumn_server(hosted=True)
    full = start_autumn_server()
    assert (
        f"hosted profile: answering as hosted Autumn does (issuer {hosted.issuer};"
        in hosted.log_text()
    )
    assert "hosted profile" not in full.log_text()


# --- /cli: every route but the mint is hosted Autumn's session gate -----------------------

CLI_REQUESTS = [
    ("GET", "/cli/organizations"),
    ("GET", "/cli/api-keys"),
    ("DELETE", "/cli/api-keys/current"),
    ("DELETE", "/cli/api-keys/key_abc"),
    ("GET", "/cli/anything/else"),
    ("PUT", "/cli/api-keys"),
    ("GET", "/cli"),
    ("POST", "/cli/api-keys/current"),
    ("PATCH", "/cli/organizations"),
]


def test_every_other_cli_request_is_refused_whatever_the_bearer_and_changes_nothing(hosted_server):
    token = sign_in(hosted_server)["access_token"]
    keys = mint(hosted_server, token).json()
    before = hosted_server.stats()
    for headers in ({}, bearer(token), bearer(keys["sandbox_key"]), bearer(keys["prod_key"])):
        for method, path in CLI_REQUESTS:
            response = httpx2.request(method, hosted_server.url + path, headers=headers)
            assert (response.status_code, response.json()) == (401, NO_SESSION), (method, path)
    assert hosted_server.stats() == before
    for key in (keys["sandbox_key"], keys["prod_key"]):
        assert org_me(hosted_server, key).status_code == 200
    # the access token still mints
    assert mint(hosted_server, token).status_code == 200


# --- POST /cli/api-keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b'{"org_id": "org_x"}',
        b'{"name": "laptop"}',
        b'{"scopes": ["customers:read"], "extra": 1}',
        b"[]",
        b'"text"',
        b"null",
        b"{not json",
    ],
)
def test_a_mint_body_is_checked_before_the_token(hosted_server, content):
    assert post_mint(hosted_server, content=content).json() == INVALID_BODY
    token = sign_in(hosted_server)["access_token"]
    for headers in ({}, bearer("nope"), bearer(token)):
        response = post_mint(hosted_server, content=content, headers=headers)
        assert (response.status_code, response.json()) == (400, INVALID_BODY)
    assert hosted_server.stats()["key_pairs_minted"] == 0


@pytest.mark.parametrize("content", [None, b"", b"{}", b'{"resource": "https://api.example"}'])
def test_a_mint_without_body_gives_both_keys_for_the_consent_organization(hosted_server, content):
    token = sign_in(hosted_server, org="globex")["access_token"]
    response = post_mint(hosted_server, content=content, headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"sandbox_key", "prod_key", "org_id", "user_id", "client_id", "scopes"}
    assert body["sandbox_key"].startswith("am_sk_test_") and body["prod_key"].startswith(
        "am_sk_live_"
    )
    assert body["client_id"] == CLIENT_ID and body["scopes"] == CLI_KEY_SCOPES
    me = org_me(hosted_server, body["prod_key"]).json()
    assert me == {
        "id": body["org_id"],
        "name": "Globex",
        "slug": "globex",
        "env": "live",
        "user": {"id": body["user_id"], "email": hosted_server.email, "name": "demo"},
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, NO_BEARER),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, NO_BEARER),
        ({"Authorization": "bearer lower-case-scheme"}, NO_BEARER),
        (bearer("not-a-token"), BAD_TOKEN),
    ],
)
def test_a_mint_without_a_valid_token_is_401(hosted_server, headers, expected):
    response = post_mint(hosted_server, headers=headers)
    assert (response.status_code, response.json()) == (401, expected)


def test_a_revoked_or_expired_token_cannot_mint_but_its_keys_keep_working(start_autumn_server):
    server = start_autumn_server(hosted=True, access_token_ttl=2)
    token = sign_in(server)["access_token"]
    keys = mint(server, token).json()
    revoked = httpx2.post(
        server.url + REVOKE_PATH,
        data={"token": token, "token_type_hint": "access_token", "client_id": CLIENT_ID},
    )
    assert revoked.status_code == 200
    refused = mint(server, token)
    assert (refused.status_code, refused.json()) == (401, BAD_TOKEN)
    assert org_me(server, keys["sandbox_key"]).status_code == 200

    expiring = sign_in(server)["access_token"]
    time.sleep(2.2)
    assert mint(server, expiring).json() == BAD_TOKEN


def test_a_user_without_organization_gets_no_keys(hosted_server):
    add_user(hosted_server, "loner@autumn.local", "pw-loner")
    auth = authorize(hosted_server, email="loner@autumn.local", password="pw-loner")
    token = fetch_token(hosted_server, auth)["access_token"]
    response = mint(hosted_server, token)
    assert (response.status_code, response.json()) == (400, NO_ORG)


def scope_answers(server, requested) -> tuple[int, dict]:
    token = sign_in(server)["access_token"]
    response = mint(server, token, {"scopes": requested})
    return response.status_code, response.json()


def test_mint_scopes_may_only_narrow(any_server, profile):
    env = {"env": "sandbox"} if profile == "hosted" else {}
    status, body = scope_answers(any_server, ["customers:read", "features:write"])
    assert (status, body["scopes"]) == (200, ["customers:read", "features:write"])
    customers = httpx2.get(any_server.url + "/v1/customers", headers=bearer(body["sandbox_key"]))
    assert customers.status_code == 200
    # the legacy names the CLI asks for are accepted, and answered in modern names
    assert scope_answers(any_server, ["customers:create", "apiKeys:list"])[1]["scopes"] == [
        "customers:write",
        "apiKeys:read",
    ]
    assert scope_answers(any_server, ["balances:read"]) == (
        403,
        {
            "message": "Insufficient scopes. Missing: balances:read",
            "code": "insufficient_scopes",
            **env,
        },
    )
    assert scope_answers(any_server, ["customers:read", "billing:write", "analytics:read"]) == (
        403,
        {
            "message": "Insufficient scopes. Missing: billing:write, analytics:read",
            "code": "insufficient_scopes",
            **env,
        },
    )
    invalid = {"message": "Invalid scopes", "code": "invalid_request", **env}
    for unknown in (["customers:fly"], ["customers:read", 7], "customers:read", {"a": 1}):
        assert scope_answers(any_server, unknown) == (400, invalid)
    assert any_server.stats()["key_pairs_minted"] == 2


def test_unknown_scope_names_are_refused_before_the_token_is_read(hosted_server):
    response = post_mint(hosted_server, content=b'{"scopes": ["nope:read"]}')
    assert (response.status_code, response.json()) == (400, INVALID_SCOPES)


def test_an_empty_scope_list_mints_unrestricted_keys_as_hosted_autumn_does(hosted_server):
    """Hosted Autumn passes `[]` through (`requestedScopes ?? token scopes`), and a key
    without scopes passes every scope check (its fail-open for keys made before scopes)."""
    status, body = scope_answers(hosted_server, [])
    assert (status, body["scopes"]) == (200, [])
    check = httpx2.post(
        hosted_server.url + "/v1/check", headers=bearer(body["sandbox_key"]), json={}
    )
    assert check.status_code == 200


# --- the token endpoint -------------------------------------------------------------------


def test_the_token_answer_has_no_refresh_token(hosted_server):
    auth = authorize(hosted_server)
    before = int(time.time())
    response = exchange(hosted_server, auth.params["code"], auth.verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "expires_at", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert before + 3600 <= body["expires_at"] <= int(time.time()) + 3600
    assert body["scope"] == auth.client.scope
    assert response.headers["cache-control"] == "no-store"
    refresh = httpx2.post(
        hosted_server.url + TOKEN_PATH,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": body["access_token"],
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_a_reused_code_is_an_invalid_code_and_the_first_token_stays(hosted_server):
    auth = authorize(hosted_server)
    first = exchange(hosted_server, auth.params["code"], auth.verifier)
    assert first.status_code == 200
    again = exchange(hosted_server, auth.params["code"], auth.verifier)
    assert (again.status_code, again.json()) == (401, INVALID_CODE)
    assert mint(hosted_server, first.json()["access_token"]).status_code == 200


def test_an_expired_code_is_an_invalid_code(start_autumn_server):
    server = start_autumn_server(hosted=True, code_ttl=1)
    auth = authorize(server)
    time.sleep(1.2)
    late = exchange(server, auth.params["code"], auth.verifier)
    assert (late.status_code, late.json()) == (401, INVALID_CODE)


@pytest.mark.parametrize(("profile_hosted", "ttl"), [(True, 600), (False, 60)])
def test_codes_live_600_seconds_on_the_hosted_profile(start_autumn_server, profile_hosted, ttl):
    server = start_autumn_server(hosted=profile_hosted)
    authorize(server)
    with sqlite3.connect(server.data_dir / "autumn-local.db") as conn:
        (lifetime,) = conn.execute(
            "SELECT expires_at - created_at FROM authorization_codes"
        ).fetchone()
    assert lifetime == pytest.approx(ttl)


def test_a_wrong_verifier_fails_and_uses_the_code_up(hosted_server):
    auth = authorize(hosted_server)
    wrong = exchange(hosted_server, auth.params["code"], auth.verifier, code_verifier="w" * 64)
    assert (wrong.status_code, wrong.json()) == (401, VERIFICATION_FAILED)
    right = exchange(hosted_server, auth.params["code"], auth.verifier)
    assert (right.status_code, right.json()) == (401, INVALID_CODE)


def test_a_redirect_uri_mismatch_is_400_and_uses_the_code_up(hosted_server):
    auth = authorize(hosted_server)
    other = exchange(
        hosted_server, auth.params["code"], auth.verifier, redirect_uri="http://localhost:31449/"
    )
    assert (other.status_code, other.json()) == (400, REDIRECT_MISMATCH)
    assert exchange(hosted_server, auth.params["code"], auth.verifier).json() == INVALID_CODE


def test_other_grant_types(hosted_server):
    def token(**data: str) -> tuple[int, dict]:
        response = httpx2.post(hosted_server.url + TOKEN_PATH, data=data)
        return response.status_code, response.json()

    assert token(client_id=CLIENT_ID) == (
        400,
        {"error": "unsupported_grant_type", "error_description": "missing required grant_type"},
    )
    device = "urn:ietf:params:oauth:grant-type:device_code"
    assert token(grant_type=device, client_id=CLIENT_ID, device_code="x") == (
        400,
        {
            "error": "unsupported_grant_type",
            "error_description": f"unsupported grant_type {device}",
        },
    )
    assert token(
        grant_type="authorization_code", client_id=CLIENT_ID, code="x", redirect_uri=REDIRECT_URI
    ) == (
        400,
        {
            "error": "invalid_request",
            "error_description": "Either code_verifier or client_secret is required",
        },
    )


def test_no_device_flow(hosted_server):
    response = httpx2.post(
        hosted_server.url + "/api/auth/oauth2/device",
        data={"client_id": CLIENT_ID, "scope": "customers:read"},
    )
    assert response.status_code == 404
    assert httpx2.get(hosted_server.url + "/device").status_code == 404


# --- the authorize endpoint and the consent page ------------------------------------------


def test_the_consent_page_is_hosted_autumns(hosted_server):
    page = open_consent_page(hosted_server)
    assert page.status_code == 200
    parsed = parse_page(page.text)
    assert parsed.text_by_id["client-name"] == "Autumn CLI (atmn)"
    assert parsed.text_by_id["user-email"] == hosted_server.email
    assert "Signed in as" in page.text
    form = parse_forms(page.text)[0]
    assert [(b.get("id"), b.get("value")) for b in form.buttons] == [
        ("cancel", "deny"),
        ("authorize", "approve"),
    ]
    assert parsed.text_by_id["cancel"].strip() == "Cancel"
    assert parsed.text_by_id["authorize"].strip() == "Authorize"
    assert [o["data-slug"] for o in form.selects["org_id"]] == ["acme", "globex"]
    assert "org_id" not in form.disabled
    lines = [li.strip() for li in parsed.text_by_id["permissions"].split("\n") if li.strip()]
    assert lines == HOSTED_PERMISSIONS
    body = page.text.split("</style>", 1)[1]  # the shared stylesheet has a .pairing rule
    assert "pairing" not in body.lower() and "pairing-code" not in parsed.text_by_id
    assert "Approve" not in page.text and "Deny" not in page.text


def test_the_full_profile_page_keeps_its_pairing_code(autumn_server):
    page = open_consent_page(autumn_server)
    assert "pairing-code" in parse_page(page.text).text_by_id
    assert [b.get("id") for b in parse_forms(page.text)[0].buttons] == ["approve", "deny"]


def test_one_organization_means_a_disabled_dropdown_and_keys_for_it(hosted_server):
    add_user(hosted_server, "solo@autumn.local", "pw-solo", "globex")
    page = open_consent_page(hosted_server, email="solo@autumn.local", password="pw-solo")
    form = parse_forms(page.text)[0]
    assert "org_id" in form.disabled
    assert [o["data-slug"] for o in form.selects["org_id"]] == ["globex"]
    # the scripted browser does not send a disabled dropdown, as a browser does not
    auth = authorize(hosted_server, email="solo@autumn.local", password="pw-solo")
    token = fetch_token(hosted_server, auth)["access_token"]
    keys = mint(hosted_server, token).json()
    assert org_me(hosted_server, keys["sandbox_key"]).json()["slug"] == "globex"


@pytest.mark.parametrize("org", ["acme", "globex"])
def test_the_organization_picked_is_the_one_the_keys_are_for(hosted_server, org):
    keys = mint(hosted_server, sign_in(hosted_server, org=org)["access_token"]).json()
    assert org_me(hosted_server, keys["sandbox_key"]).json()["slug"] == org


def test_the_organization_parameter_is_ignored(start_autumn_server):
    hosted = start_autumn_server(hosted=True)
    full = start_autumn_server()
    for server, expected in ((hosted, ["acme"]), (full, ["globex"])):
        page = open_consent_page(server, organization="globex")
        options = parse_forms(page.text)[0].selects["org_id"]
        assert [o["data-slug"] for o in options if "selected" in o] == expected


def test_authorize_redirects_straight_to_the_client_with_code_state_and_iss(hosted_server):
    auth = authorize(hosted_server, org="globex")
    assert auth.response.status_code == 302  # the answer to pressing Authorize
    assert auth.location.startswith(REDIRECT_URI + "?")
    pairs = query_pairs(auth.location)
    assert [name for name, _ in pairs] == ["code", "state", "iss"]
    assert dict(pairs)["state"] == auth.state
    assert (
        dict(pairs)["iss"]
        == hosted_server.issuer
        == f"http://localhost:{hosted_server.port}/api/auth"
    )


def test_cancel_sends_access_denied_with_state_and_iss(hosted_server):
    auth = authorize(hosted_server, action="deny")
    assert auth.location.startswith(REDIRECT_URI + "?")
    assert query_pairs(auth.location) == [
        ("error", "access_denied"),
        ("error_description", "User denied access"),
        ("state", auth.state),
        ("iss", hosted_server.issuer),
    ]
    assert hosted_server.stats()["authorizations_granted"] == 0


def test_errors_sent_back_to_the_client_carry_iss(hosted_server):
    refused = authorize(hosted_server, code_challenge_method="plain")
    params = refused.params
    assert params["error"] == "invalid_request" and params["state"] == refused.state
    assert params["iss"] == hosted_server.issuer


def test_hosted_iss_can_still_be_turned_off(start_autumn_server):
    server = start_autumn_server(hosted=True, disable=["iss"])
    assert [name for name, _ in query_pairs(authorize(server).location)] == ["code", "state"]
    denied = authorize(server, action="deny")
    assert "iss" not in denied.params and denied.params["error"] == "access_denied"


def test_endpoints_the_metadata_names_but_the_cli_never_uses_are_not_served(hosted_server):
    """jwks, registration, introspection, userinfo and end-session: 404 here (hosted Autumn
    serves them; no client of this stand-in needs them)."""
    for path in (
        "jwks",
        "oauth2/register",
        "oauth2/introspect",
        "oauth2/userinfo",
        "oauth2/end-session",
    ):
        assert httpx2.get(f"{hosted_server.url}/api/auth/{path}").status_code == 404, path


def test_state_is_not_required(start_autumn_server):
    hosted = start_autumn_server(hosted=True)
    full = start_autumn_server()
    assert "code" in authorize(hosted, state=None).params
    assert authorize(full, state=None).params["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("changes", "error", "description"),
    [
        ({"redirect_uri": "http://localhost:31453/"}, "invalid_redirect", "invalid redirect uri"),
        ({"redirect_uri": "https://evil.example/"}, "invalid_redirect", "invalid redirect uri"),
        ({"client_id": "someone-else"}, "invalid_client", "client_id is required"),
        ({"response_type": "token"}, "unsupported_response_type", "unsupported response type"),
    ],
)
def test_errors_before_the_redirect_uri_is_known_go_to_the_error_page(
    hosted_server, changes, error, description
):
    url, _ = oauth_client().create_authorization_url(
        hosted_server.url + AUTHORIZE_PATH, code_verifier="v" * 64, prompt="consent"
    )
    url = replace_params(url, **changes)
    first = httpx2.get(url)
    assert first.status_code == 302
    location = first.headers["location"]
    assert urlsplit(location).path == "/api/auth/error"
    assert query_pairs(location) == [("error", error), ("error_description", description)]
    # a person's browser ends there, never at the client
    outcome = browse(url, email=hosted_server.email, password=hosted_server.password)
    assert outcome.redirect_uri is None and outcome.response.status_code == 200
    assert parse_page(outcome.response.text).text_by_id["error-code"] == error


def test_the_scripted_browser_completes_and_cancels_the_hosted_page(hosted_server):
    url, _ = oauth_client().create_authorization_url(
        hosted_server.url + AUTHORIZE_PATH, code_verifier="v" * 64, prompt="consent"
    )
    approved = browse(
        url,
        email=hosted_server.email,
        password=hosted_server.password,
        org="globex",
        follow_callback=False,
    )
    assert approved.redirect_uri == REDIRECT_URI and approved.params == ["code", "state", "iss"]
    assert approved.steps[-1] == "approve org=globex"
    cancelled = browse(
        url,
        email=hosted_server.email,
        password=hosted_server.password,
        action="deny",
        follow_callback=False,
    )
    assert cancelled.params == ["error", "error_description", "state", "iss"]


# --- /v1 (both profiles) ------------------------------------------------------------------


def test_v1_401s_are_hosted_autumns_on_both_profiles(any_server):
    unknown = "am_sk_live_" + "Z" * 42
    cases = [
        ({}, "no_secret_key", "Secret key not found in Authorization header"),
        (bearer("sk_live_x"), "invalid_request", "Invalid authorization token prefix"),
        (bearer(unknown), "invalid_secret_key", "Invalid secret key: am_sk_live_ZZZZ" + "*" * 38),
    ]
    for headers, code, message in cases:
        response = httpx2.get(any_server.url + "/v1/organization/me", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": message, "code": code, "env": "sandbox"}
        assert "www-authenticate" not in response.headers


def test_a_dashboard_key_has_no_user(any_server):
    dashboard = any_server.create_key("acme", env="live")
    me = org_me(any_server, dashboard["key"])
    assert me.json() == {"id": dashboard["org_id"], "name": "Acme", "slug": "acme", "env": "live"}


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("/v1/check", "balances:read"),
        ("/v1/track", "balances:write"),
        ("/v1/attach", "billing:write"),
    ],
)
def test_a_cli_key_may_not_check_track_or_attach_a_dashboard_key_may(any_server, path, needed):
    keys = mint(any_server, sign_in(any_server)["access_token"]).json()
    body = {"customer_id": "cus_1", "feature_id": "messages", "product_id": "pro"}
    for key, env in ((keys["sandbox_key"], "sandbox"), (keys["prod_key"], "live")):
        refused = httpx2.post(any_server.url + path, headers=bearer(key), json=body)
        assert refused.status_code == 403
        assert refused.json() == {
            "message": f"Insufficient scopes. Missing: {needed}",
            "code": "insufficient_scopes",
            "env": env,
        }
    dashboard = any_server.create_key("acme")
    allowed = httpx2.post(any_server.url + path, headers=bearer(dashboard["key"]), json=body)
    assert allowed.status_code == 200 and allowed.json()["customer_id"] == "cus_1"
    no_key = httpx2.post(any_server.url + path, json=body)
    assert no_key.status_code == 401 and no_key.json()["code"] == "no_secret_key"
