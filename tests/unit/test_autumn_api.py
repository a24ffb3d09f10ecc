"""`Autumn`: what each contract call sends, and what each answer becomes for the user."""

from __future__ import annotations

import json

import httpx2
import pytest

from atmn_auth.api.autumn import Autumn
from atmn_auth.api.metadata import EXTENSIONS
from atmn_auth.errors import AtmnError, BackendError, InvalidKey

from .helpers import ACME, LIVE_KEY, SANDBOX_KEY, Backend, one_line, reply

BACKEND = "https://api.example.com"
TOKEN = "oauth-access-token-123"
ORGS = ("GET", "/cli/organizations")
MINT = ("POST", "/cli/api-keys")
ME = ("GET", "/v1/organization/me")
REVOKE = ("DELETE", "/cli/api-keys/current")
ALL_EXTENSIONS = frozenset(EXTENSIONS)


def call(
    backend: Backend,
    method: str,
    *args: object,
    extensions: frozenset[str] = ALL_EXTENSIONS,
    **kwargs: object,
) -> object:
    """`Autumn.<method>` against `backend`, a server advertising `extensions` (§X)."""
    with backend.session() as session:
        autumn = Autumn(session, BACKEND + "/", extensions=extensions)
        return getattr(autumn, method)(*args, **kwargs)


# --- §2 organizations --------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 405])
def test_a_server_without_the_organizations_extension_lists_none(status: int) -> None:
    backend = Backend({ORGS: reply(status, {"message": "Not found"})})
    assert call(backend, "organizations", TOKEN) is None


def test_organizations_are_asked_for_with_the_access_token() -> None:
    backend = Backend({ORGS: reply(200, {"list": [ACME]})})
    orgs = call(backend, "organizations", TOKEN)
    assert [o.slug for o in orgs] == ["acme"]  # type: ignore[attr-defined]
    assert str(backend.requests[0].url) == BACKEND + "/cli/organizations"
    assert backend.bearers() == [f"Bearer {TOKEN}"]


def test_entries_without_an_id_or_not_objects_are_skipped() -> None:
    listed = [
        {"name": "No Id", "slug": "noid"},
        "org_string",
        None,
        {"id": 42, "name": "Numeric id", "slug": "numeric"},
        {"id": "org_beta", "name": "Beta", "slug": "beta"},
    ]
    backend = Backend({ORGS: reply(200, {"list": listed, "bound_org_id": None})})
    orgs = call(backend, "organizations", TOKEN)
    assert [(o.id, o.label()) for o in orgs] == [("org_beta", "Beta (beta)")]  # type: ignore[attr-defined]


def test_names_from_the_server_cannot_drive_the_terminal() -> None:
    hostile = {
        "id": "org_x",
        "name": "\x1b]0;pwned\x07Ev\u202eil\x1b[2J\nInjected: line",
        "slug": "ev\x1b[31mil",
    }
    backend = Backend({ORGS: reply(200, {"list": [hostile]})})
    (org,) = call(backend, "organizations", TOKEN)  # type: ignore[misc]
    for text in (org.name, org.slug, org.label()):
        assert not any(ord(ch) < 32 or ord(ch) == 0x7F for ch in text), text
        assert "\u202e" not in text
    assert "Injected: line" in org.name  # the words stay, on the same line


def test_a_list_answer_without_list_is_a_backend_error() -> None:
    backend = Backend({ORGS: reply(200, {"organizations": [ACME]})})
    with pytest.raises(BackendError, match="no `list`"):
        call(backend, "organizations", TOKEN)


def test_a_refused_listing_reports_the_servers_message() -> None:
    backend = Backend({ORGS: reply(401, {"message": "Token expired"})})
    with pytest.raises(BackendError, match="listing organizations failed: Token expired") as e:
        call(backend, "organizations", TOKEN)
    assert e.value.status == 401


# --- §3 minting --------------------------------------------------------------------------


def minted(**body: object) -> dict[str, object]:
    return {"sandbox_key": SANDBOX_KEY, "prod_key": LIVE_KEY, "org_id": "org_acme", **body}


def test_mint_sends_org_id_when_given() -> None:
    backend = Backend({MINT: reply(200, minted())})
    keys = call(backend, "mint_keys", TOKEN, org_id="org_acme")
    assert keys.all() == (SANDBOX_KEY, LIVE_KEY)  # type: ignore[attr-defined]
    assert keys.org_id == "org_acme"  # type: ignore[attr-defined]
    request = backend.requests[0]
    assert json.loads(request.content) == {"org_id": "org_acme"}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_mint_sends_no_body_without_an_org() -> None:
    backend = Backend({MINT: reply(200, minted(org_id=None))})
    keys = call(backend, "mint_keys", TOKEN, org_id=None)
    assert backend.requests[0].content == b""
    assert keys.org_id is None  # type: ignore[attr-defined]


def test_minted_keys_never_show_whole_in_a_repr() -> None:
    backend = Backend({MINT: reply(200, minted())})
    keys = call(backend, "mint_keys", TOKEN, org_id=None)
    assert SANDBOX_KEY not in repr(keys) and LIVE_KEY not in repr(keys)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (minted(sandbox_key=None), "sandbox"),
        (minted(sandbox_key=SANDBOX_KEY + "\nEVIL=1"), "sandbox"),
        (minted(prod_key=LIVE_KEY[:-1]), "live"),
        (minted(prod_key=12345), "live"),
        (minted(sandbox_key=LIVE_KEY, prod_key=SANDBOX_KEY), "sandbox"),
        (minted(prod_key=SANDBOX_KEY), "live"),
    ],
    ids=["missing", "newline", "short", "not-a-string", "swapped", "sandbox-as-live"],
)
def test_a_malformed_minted_key_is_one_line_saying_nothing_was_written(
    body: dict[str, object], kind: str
) -> None:
    backend = Backend({MINT: reply(200, body)})
    with pytest.raises(AtmnError) as e:
        call(backend, "mint_keys", TOKEN, org_id=None)
    message = e.value.message
    assert f"the server's {kind} key is missing or malformed" in message
    assert "nothing was written" in message
    assert one_line(message)
    assert "EVIL" not in message and SANDBOX_KEY not in message


def test_a_refused_mint_reports_the_servers_message() -> None:
    backend = Backend({MINT: reply(403, {"message": "Not a member", "code": "forbidden"})})
    with pytest.raises(BackendError, match="minting API keys failed: Not a member") as e:
        call(backend, "mint_keys", TOKEN, org_id="org_other")
    assert e.value.status == 403


# --- §4 organization/me ------------------------------------------------------------------


def test_organization_me_sends_the_key_and_returns_its_organization() -> None:
    backend = Backend({ME: reply(200, ACME)})
    org = call(backend, "organization_me", SANDBOX_KEY)
    assert org.label() == "Acme (acme)"  # type: ignore[attr-defined]
    assert org.as_json() == ACME  # type: ignore[attr-defined]
    assert backend.bearers() == [f"Bearer {SANDBOX_KEY}"]


def test_a_401_means_the_key_is_rejected() -> None:
    backend = Backend({ME: reply(401, {"message": "Invalid secret key"})})
    with pytest.raises(InvalidKey, match="rejected the key: Invalid secret key") as e:
        call(backend, "organization_me", SANDBOX_KEY)
    assert e.value.status == 401


def test_a_500_is_a_backend_error_with_the_servers_message() -> None:
    backend = Backend({ME: reply(500, {"message": "database \x1b[31mdown\ncheck status"})})
    with pytest.raises(BackendError) as e:
        call(backend, "organization_me", SANDBOX_KEY)
    assert e.value.status == 500
    assert "database [31mdown check status" in e.value.message
    assert one_line(e.value.message) and "\x1b" not in e.value.message
    assert not isinstance(e.value, InvalidKey)


def test_a_500_without_a_message_names_the_status() -> None:
    backend = Backend({ME: reply(500, content=b"")})
    with pytest.raises(BackendError, match="HTTP 500"):
        call(backend, "organization_me", SANDBOX_KEY)


def test_a_non_json_answer_names_its_content_type() -> None:
    html = b"<!doctype html><h1>502 Bad Gateway</h1>"
    backend = Backend({ME: reply(200, content=html, headers={"content-type": "text/html"})})
    with pytest.raises(BackendError, match="HTTP 200 with text/html, not JSON"):
        call(backend, "organization_me", SANDBOX_KEY)


def test_a_json_answer_that_is_not_an_object_is_a_backend_error() -> None:
    backend = Backend({ME: reply(200, ["Acme"])})
    with pytest.raises(BackendError, match="not an object"):
        call(backend, "organization_me", SANDBOX_KEY)


def test_an_answer_without_name_or_slug_is_a_backend_error() -> None:
    backend = Backend({ME: reply(200, {"id": "org_acme"})})
    with pytest.raises(BackendError, match="without an organization name or slug"):
        call(backend, "organization_me", SANDBOX_KEY)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_reported_and_never_followed(status: int) -> None:
    target = "https://collector.evil.example/steal"
    backend = Backend({ME: reply(status, headers={"location": target})})
    with pytest.raises(BackendError) as e:
        call(backend, "organization_me", SANDBOX_KEY)
    assert f"a redirect to {target} (not followed)" in e.value.message
    assert [r.url.host for r in backend.requests] == ["api.example.com"]
    assert not any(r.url.host == "collector.evil.example" for r in backend.requests)


def test_organization_of_is_best_effort() -> None:
    backend = Backend({ME: reply(503, {"message": "maintenance"})})
    assert call(backend, "organization_of", SANDBOX_KEY) is None


@pytest.mark.parametrize("status", [200, 401])
def test_a_deeply_nested_json_answer_is_a_one_line_error(status: int) -> None:
    body = b"[" * 5000
    backend = Backend(
        {ME: reply(status, content=body, headers={"content-type": "application/json"})}
    )
    with pytest.raises(BackendError):
        call(backend, "organization_me", SANDBOX_KEY)


# --- §5 revoking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (204, "revoked"),
        (200, "revoked"),
        (401, "already_invalid"),
        (404, "unsupported"),
        (405, "unsupported"),
    ],
)
def test_revoke_outcomes(status: int, outcome: str) -> None:
    backend = Backend({REVOKE: reply(status)})
    assert call(backend, "revoke_key", SANDBOX_KEY) == outcome
    (request,) = backend.requests
    assert (request.method, str(request.url)) == ("DELETE", BACKEND + "/cli/api-keys/current")
    assert request.headers["authorization"] == f"Bearer {SANDBOX_KEY}"


def test_revoke_reports_any_other_answer() -> None:
    backend = Backend({REVOKE: reply(500, {"message": "try later"})})
    with pytest.raises(BackendError, match="revoking the key: try later"):
        call(backend, "revoke_key", SANDBOX_KEY)


def test_revoke_quietly_tries_every_key_and_raises_nothing() -> None:
    def flaky(request: httpx2.Request) -> httpx2.Response:
        if SANDBOX_KEY in request.headers["authorization"]:
            raise httpx2.ConnectError("refused", request=request)
        return httpx2.Response(204)

    backend = Backend({REVOKE: flaky})
    with backend.session() as session:
        autumn = Autumn(session, BACKEND)
        from atmn_auth.api.autumn import MintedKeys

        gone = autumn.revoke_quietly(MintedKeys(SANDBOX_KEY, LIVE_KEY, None))
    assert gone is False  # the server never confirmed the sandbox key's revocation
    assert backend.bearers() == [f"Bearer {SANDBOX_KEY}", f"Bearer {LIVE_KEY}"]


# --- §3 with a name (§7) -----------------------------------------------------------------


def test_a_name_is_sent_when_the_server_advertises_key_names() -> None:
    backend = Backend({MINT: reply(200, minted())})
    call(backend, "mint_keys", TOKEN, org_id="org_acme", name="ci")
    assert json.loads(backend.requests[0].content) == {"org_id": "org_acme", "name": "ci"}


def test_hosted_autumn_is_sent_no_body_at_all() -> None:
    """§3: hosted Autumn refuses any body field but resource/scopes (400), and advertises
    neither `mint_org_id` nor `key_names`: one request, no body, no retry."""
    backend = Backend({MINT: reply(200, minted())}, extensions=())
    keys = call(backend, "mint_keys", TOKEN, org_id="org_acme", name="ci", extensions=frozenset())
    assert len(backend.requests) == 1
    assert backend.requests[0].content == b""
    assert keys.org_id == "org_acme"  # type: ignore[attr-defined]


def test_the_scopes_the_server_gave_say_which_calls_will_be_refused() -> None:
    scopes = ["customers:read", "customers:write", "balances:read", "organisation:read"]
    backend = Backend({MINT: reply(200, {**minted(), "scopes": scopes})})
    keys = call(backend, "mint_keys", TOKEN)
    assert keys.scopes == tuple(scopes)  # type: ignore[attr-defined]
    assert keys.refused_calls() == ["track", "attach"]  # type: ignore[attr-defined]


def test_without_extensions_nothing_that_needs_one_is_sent() -> None:
    """A server that advertises nothing (hosted Autumn): §2, §5 and §7 calls answer as a
    server without them would, and send nothing."""
    backend = Backend({}, extensions=())
    none = frozenset[str]()
    assert call(backend, "organizations", TOKEN, extensions=none) is None
    assert call(backend, "revoke_key", SANDBOX_KEY, extensions=none) == "unsupported"
    assert call(backend, "list_keys", SANDBOX_KEY, extensions=none) is None
    assert backend.requests == []


def test_v1_calls_carry_the_api_version_the_official_cli_sends() -> None:
    backend = Backend({ME: reply(200, {**ACME, "env": "sandbox"})})
    call(backend, "organization_me", SANDBOX_KEY)
    assert backend.requests[0].headers["x-api-version"] == "2.1.0"


# --- §7 listing and revoking by id --------------------------------------------------------

LIST = ("GET", "/cli/api-keys")


def entry(**fields: object) -> dict[str, object]:
    return {
        "id": "key_abc123",
        "name": "ci",
        "env": "sandbox",
        "last4": "S1S1",
        "created_at": "2025-01-31T12:00:00Z",
        "last_used_at": None,
        "created_via": "oauth",
        **fields,
    }


def test_keys_are_listed_with_the_key_as_bearer() -> None:
    backend = Backend({LIST: reply(200, {"list": [entry()]})})
    (listed,) = call(backend, "list_keys", SANDBOX_KEY)  # type: ignore[misc]
    assert backend.bearers() == [f"Bearer {SANDBOX_KEY}"]
    assert str(backend.requests[0].url) == BACKEND + "/cli/api-keys"
    assert (listed.id, listed.label(), listed.redacted()) == (
        "key_abc123",
        "ci (sandbox)",
        "am_sk_test_…S1S1",
    )
    assert listed.created_at.isoformat() == "2025-01-31T12:00:00+00:00"
    assert listed.last_used_at is None
    assert listed.is_key(SANDBOX_KEY) and not listed.is_key(LIVE_KEY)


@pytest.mark.parametrize("status", [404, 405])
def test_a_server_without_section_7_lists_nothing(status: int) -> None:
    backend = Backend({LIST: reply(status, content=b"<h1>Not Found</h1>")})
    assert call(backend, "list_keys", SANDBOX_KEY) is None


def test_a_rejected_key_cannot_list() -> None:
    backend = Backend({LIST: reply(401, {"message": "Invalid secret key"})})
    with pytest.raises(InvalidKey, match="Invalid secret key"):
        call(backend, "list_keys", SANDBOX_KEY)


def test_a_list_without_list_is_a_backend_error() -> None:
    backend = Backend({LIST: reply(200, {"keys": []})})
    with pytest.raises(BackendError, match="no `list`"):
        call(backend, "list_keys", SANDBOX_KEY)


def test_entries_the_cli_could_not_use_safely_are_left_out() -> None:
    """An id goes into a URL path: `current` (the presenting key, §5), a slash, a dot-dot
    or a query would revoke something else than the key shown."""
    hostile = [
        entry(id="current"),
        entry(id="../../v1/organization/me"),
        entry(id="key_a/b"),
        entry(id="key_a?x=1"),
        entry(id=""),
        entry(id=42),
        entry(env="production"),
        entry(last4="S1S"),
        entry(last4="\x1b[2J"),
        "key_string",
        entry(id="key_good", name="\x1b]0;pwned\x07ci\u202e\nInjected", created_at="yesterday"),
    ]
    backend = Backend({LIST: reply(200, {"list": hostile})})
    (kept,) = call(backend, "list_keys", SANDBOX_KEY)  # type: ignore[misc]
    assert kept.id == "key_good"
    assert not any(ord(ch) < 32 or ch == "\u202e" for ch in kept.label())
    assert "Injected" in kept.name
    assert kept.created_at is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2025-01-31T12:00:00Z", "2025-01-31T12:00:00+00:00"),
        ("2025-01-31T13:00:00+01:00", "2025-01-31T12:00:00+00:00"),
        ("2025-01-31T12:00:00", "2025-01-31T12:00:00+00:00"),
        ("2025-01-31T12:00:00.123456Z", "2025-01-31T12:00:00.123456+00:00"),
    ],
)
def test_times_are_read_in_utc(text: str, shown: str) -> None:
    from atmn_auth.api.autumn import parse_time

    parsed = parse_time(text)
    assert parsed is not None and parsed.isoformat() == shown


@pytest.mark.parametrize(
    ("status", "outcome"), [(204, "revoked"), (200, "revoked"), (404, "not_found")]
)
def test_revoking_by_id(status: int, outcome: str) -> None:
    backend = Backend({("DELETE", "/cli/api-keys/key_abc123"): reply(status)})
    assert call(backend, "revoke_key_by_id", SANDBOX_KEY, "key_abc123") == outcome
    (request,) = backend.requests
    assert str(request.url) == BACKEND + "/cli/api-keys/key_abc123"
    assert request.headers["authorization"] == f"Bearer {SANDBOX_KEY}"


def test_revoking_by_id_with_a_rejected_key() -> None:
    backend = Backend({("DELETE", "/cli/api-keys/key_abc123"): reply(401)})
    with pytest.raises(InvalidKey):
        call(backend, "revoke_key_by_id", SANDBOX_KEY, "key_abc123")


@pytest.mark.parametrize("key_id", ["current", "../current", "a/b", "", "key?x=1"])
def test_an_id_that_would_name_another_path_is_never_sent(key_id: str) -> None:
    backend = Backend()
    with pytest.raises(BackendError):
        call(backend, "revoke_key_by_id", SANDBOX_KEY, key_id)
    assert backend.requests == []
