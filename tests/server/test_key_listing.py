"""Listing and revoking keys by id, naming minted keys, last use (contract §7)."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime

import httpx2
import pytest

from support.oauth_flow import bearer, mint, sign_in

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIELDS = {"id", "name", "env", "last4", "created_at", "last_used_at", "created_via"}
INVALID_KEY = {"message": "Invalid secret key", "code": "invalid_secret_key"}


def rejected_on_v1(key: str) -> dict[str, str]:
    """Hosted Autumn's /v1 answer to an unknown or revoked key (contract §4)."""
    masked = key[:15] + "*" * (len(key) - 15)
    return {
        "message": f"Invalid secret key: {masked}",
        "code": "invalid_secret_key",
        "env": "sandbox",
    }


def list_keys(server, key: str) -> httpx2.Response:
    return httpx2.get(server.url + "/cli/api-keys", headers=bearer(key))


def revoke(server, key: str, key_id: str) -> httpx2.Response:
    return httpx2.delete(f"{server.url}/cli/api-keys/{key_id}", headers=bearer(key))


def customers(server, key: str) -> httpx2.Response:
    return httpx2.get(server.url + "/v1/customers", headers=bearer(key))


def by_last4(listed: list[dict], key: str) -> dict:
    (entry,) = [k for k in listed if k["last4"] == key[-4:]]
    return entry


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_lists_the_keys_of_the_presenting_keys_organization_and_environment(autumn_server):
    token = sign_in(autumn_server, org="acme")["access_token"]
    first = mint(autumn_server, token).json()
    second = mint(autumn_server, token, {"name": "laptop · billing-app"}).json()
    dashboard = autumn_server.create_key("acme", name="Production server")
    other_org = autumn_server.create_key("globex", name="Globex key")
    dashboard_live = autumn_server.create_key("acme", env="live", name="Live dashboard")

    response = list_keys(autumn_server, first["sandbox_key"])
    assert response.status_code == 200
    listed = response.json()["list"]
    assert all(set(entry) == FIELDS for entry in listed)
    assert [e["last4"] for e in listed] == [
        first["sandbox_key"][-4:],
        second["sandbox_key"][-4:],
        dashboard["key"][-4:],
    ]
    assert {e["env"] for e in listed} == {"sandbox"}
    minted = by_last4(listed, first["sandbox_key"])
    assert minted["id"].startswith("key_") and minted["created_via"] == "oauth"
    assert re.fullmatch(r"CLI Key - \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", minted["name"])
    assert ISO.match(minted["created_at"])
    assert abs(parse_iso(minted["created_at"]) - time.time()) < 120
    assert by_last4(listed, second["sandbox_key"])["name"] == "laptop · billing-app"
    made = by_last4(listed, dashboard["key"])
    assert made == {**made, "id": dashboard["id"], "created_via": "dashboard"}
    assert made["name"] == "Production server" and made["last_used_at"] is None

    # never a key, nor its hash, nor any other organization's or environment's key
    text = response.text
    for secret in (first["sandbox_key"], first["prod_key"], dashboard["key"], other_org["key"]):
        assert secret not in text and secret[-20:] not in text
    assert other_org["key"][-4:] not in {e["last4"] for e in listed}

    live = list_keys(autumn_server, first["prod_key"]).json()["list"]
    assert {e["env"] for e in live} == {"live"}
    assert [e["last4"] for e in live] == [
        first["prod_key"][-4:],
        second["prod_key"][-4:],
        dashboard_live["key"][-4:],
    ]
    assert by_last4(live, second["prod_key"])["name"] == "laptop · billing-app"

    globex = list_keys(autumn_server, other_org["key"]).json()["list"]
    assert [e["id"] for e in globex] == [other_org["id"]]


def test_revoked_keys_are_not_listed(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    spare = autumn_server.create_key("acme")
    assert (
        httpx2.delete(
            autumn_server.url + "/cli/api-keys/current", headers=bearer(spare["key"])
        ).status_code
        == 204
    )
    listed = list_keys(autumn_server, keys["sandbox_key"]).json()["list"]
    assert [e["last4"] for e in listed] == [keys["sandbox_key"][-4:]]


BAD_AUTHORIZATIONS = [
    {},
    {"Authorization": "Bearer am_sk_test_short"},
    {"Authorization": "Bearer am_sk_test_" + "A" * 42},
    {"Authorization": "Basic Zm9vOmJhcg=="},
]


@pytest.mark.parametrize("headers", BAD_AUTHORIZATIONS)
def test_bad_presenting_keys_get_401(autumn_server, headers):
    target = autumn_server.create_key("acme")
    listing = httpx2.get(autumn_server.url + "/cli/api-keys", headers=headers)
    assert (listing.status_code, listing.json()) == (401, INVALID_KEY)
    deleting = httpx2.delete(f"{autumn_server.url}/cli/api-keys/{target['id']}", headers=headers)
    assert (deleting.status_code, deleting.json()) == (401, INVALID_KEY)
    assert customers(autumn_server, target["key"]).status_code == 200


def test_an_access_token_is_not_a_presenting_key(autumn_server):
    token = sign_in(autumn_server)["access_token"]
    mint(autumn_server, token)
    assert list_keys(autumn_server, token).json() == INVALID_KEY


def test_revoked_presenting_key_gets_401(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    spare = autumn_server.create_key("acme")
    listed = list_keys(autumn_server, keys["sandbox_key"]).json()["list"]
    assert (
        revoke(autumn_server, spare["key"], by_last4(listed, keys["sandbox_key"])["id"]).status_code
        == 204
    )
    assert list_keys(autumn_server, keys["sandbox_key"]).status_code == 401


def test_revoke_by_id(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    dashboard = autumn_server.create_key("acme", name="CI")

    response = revoke(autumn_server, keys["sandbox_key"], dashboard["id"])
    assert response.status_code == 204 and response.content == b""
    assert customers(autumn_server, dashboard["key"]).json() == rejected_on_v1(dashboard["key"])
    assert dashboard["id"] not in {
        e["id"] for e in list_keys(autumn_server, keys["sandbox_key"]).json()["list"]
    }
    # already revoked, and never existing: 404 with a message
    for key_id in (dashboard["id"], "key_doesnotexist", "current2", "%20"):
        again = revoke(autumn_server, keys["sandbox_key"], key_id)
        assert again.status_code == 404
        assert set(again.json()) == {"message", "code"}
    assert customers(autumn_server, keys["sandbox_key"]).status_code == 200


def test_a_key_of_the_other_environment_is_not_found_and_stays(autumn_server):
    """Deleting by id is scoped like listing (contract §7): a sandbox key, the less guarded
    of the two, cannot revoke the organization's live keys, nor a live key sandbox ones; the
    answer is the one for a key that does not exist."""
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    live_dashboard = autumn_server.create_key("acme", env="live", name="Production server")
    live_ids = {e["id"] for e in list_keys(autumn_server, keys["prod_key"]).json()["list"]}
    sandbox_ids = {e["id"] for e in list_keys(autumn_server, keys["sandbox_key"]).json()["list"]}
    assert live_dashboard["id"] in live_ids and len(live_ids) == 2 and len(sandbox_ids) == 1

    unknown = revoke(autumn_server, keys["sandbox_key"], "key_" + "x" * 24)
    assert unknown.status_code == 404 and unknown.json()["code"] == "key_not_found"
    for live_id in sorted(live_ids):
        response = revoke(autumn_server, keys["sandbox_key"], live_id)
        assert response.status_code == 404, "a sandbox key revoked a live key"
        assert response.json() == unknown.json()
    (sandbox_id,) = sandbox_ids
    response = revoke(autumn_server, keys["prod_key"], sandbox_id)
    assert response.status_code == 404, "a live key revoked a sandbox key"
    assert response.json() == unknown.json()

    # every key still works and is still listed
    for key in (keys["prod_key"], live_dashboard["key"], keys["sandbox_key"]):
        assert customers(autumn_server, key).status_code == 200
    assert {e["id"] for e in list_keys(autumn_server, keys["prod_key"]).json()["list"]} == live_ids
    # a key of the same environment still revokes by id
    assert revoke(autumn_server, keys["prod_key"], live_dashboard["id"]).status_code == 204
    assert customers(autumn_server, live_dashboard["key"]).status_code == 401


def test_a_key_of_another_organization_is_not_found_and_stays(autumn_server):
    acme = autumn_server.create_key("acme")
    globex = autumn_server.create_key("globex")
    response = revoke(autumn_server, acme["key"], globex["id"])
    assert response.status_code == 404
    unknown = revoke(autumn_server, acme["key"], "key_" + "x" * 24)
    assert response.json() == unknown.json()  # nothing tells the two apart
    assert customers(autumn_server, globex["key"]).status_code == 200


def test_a_key_revokes_itself_by_id(autumn_server):
    key = autumn_server.create_key("acme")
    assert revoke(autumn_server, key["key"], key["id"]).status_code == 204
    assert customers(autumn_server, key["key"]).json() == rejected_on_v1(key["key"])
    assert revoke(autumn_server, key["key"], key["id"]).status_code == 401


def test_delete_current_keeps_its_meaning(autumn_server):
    key = autumn_server.create_key("acme")
    other = autumn_server.create_key("acme")
    url = autumn_server.url + "/cli/api-keys/current"
    assert httpx2.delete(url, headers=bearer(key["key"])).status_code == 204
    assert customers(autumn_server, key["key"]).status_code == 401
    assert customers(autumn_server, other["key"]).status_code == 200


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["x", "n" * 100, "Café ✓ — 日本", "my-app on host.local (2025-01-31)", " padded "],
)
def test_mint_stores_a_valid_name_verbatim_for_both_keys(autumn_server, name):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"], {"name": name})
    assert keys.status_code == 200
    body = keys.json()
    assert (
        by_last4(list_keys(autumn_server, body["sandbox_key"]).json()["list"], body["sandbox_key"])[
            "name"
        ]
        == name
    )
    assert (
        by_last4(list_keys(autumn_server, body["prod_key"]).json()["list"], body["prod_key"])[
            "name"
        ]
        == name
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "n" * 101,
        "line\nbreak",
        "bell\a",
        "esc\x1b[31m",
        "rtl\u202eoverride",
        "   ",
        5,
        None,
        ["a"],
    ],
)
def test_mint_refuses_a_bad_name(autumn_server, name):
    token = sign_in(autumn_server)["access_token"]
    response = mint(autumn_server, token, {"name": name})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "code"} and body["message"].startswith("name must")
    assert autumn_server.stats()["key_pairs_minted"] == 0


# --- last use ------------------------------------------------------------------------------


def stored_last_use(server, key_id: str) -> float | None:
    with sqlite3.connect(server.data_dir / "autumn-local.db") as conn:
        return conn.execute("SELECT last_used_at FROM api_keys WHERE id = ?", (key_id,)).fetchone()[
            0
        ]


def backdate_last_use(server, key_id: str, seconds: float) -> None:
    with sqlite3.connect(server.data_dir / "autumn-local.db") as conn:
        conn.execute(
            "UPDATE api_keys SET last_used_at = last_used_at - ? WHERE id = ?", (seconds, key_id)
        )


def test_last_used_at_is_set_by_use_and_written_at_most_once_a_minute(autumn_server):
    used = autumn_server.create_key("acme", name="used")
    watcher = autumn_server.create_key("acme", name="watcher")

    def entry() -> dict:
        listed = list_keys(autumn_server, watcher["key"]).json()["list"]
        return next(e for e in listed if e["id"] == used["id"])

    assert entry()["last_used_at"] is None
    before = time.time()
    assert customers(autumn_server, used["key"]).status_code == 200
    first = entry()["last_used_at"]
    assert ISO.match(first) and before - 1 <= parse_iso(first) <= time.time() + 1
    stored = stored_last_use(autumn_server, used["id"])

    time.sleep(1.1)  # a later second: a write now would show
    for _ in range(5):
        assert customers(autumn_server, used["key"]).status_code == 200
    assert entry()["last_used_at"] == first
    assert stored_last_use(autumn_server, used["id"]) == stored

    backdate_last_use(autumn_server, used["id"], 61)
    customers(autumn_server, used["key"])
    renewed = stored_last_use(autumn_server, used["id"])
    assert renewed is not None and renewed > stored and abs(renewed - time.time()) < 5


def test_listing_and_revoking_count_as_use(autumn_server):
    lister = autumn_server.create_key("acme", name="lister")
    revoker = autumn_server.create_key("acme", name="revoker")
    victim = autumn_server.create_key("acme", name="victim")
    list_keys(autumn_server, lister["key"])
    assert stored_last_use(autumn_server, lister["id"]) is not None
    assert stored_last_use(autumn_server, revoker["id"]) is None
    revoke(autumn_server, revoker["key"], victim["id"])
    assert stored_last_use(autumn_server, revoker["id"]) is not None
    # a failed attempt with an unknown key marks nothing
    assert stored_last_use(autumn_server, victim["id"]) is None


# --- --disable keys ------------------------------------------------------------------------


def test_disable_keys_behaves_like_a_server_without_section_7(start_autumn_server):
    server = start_autumn_server(disable=["keys"])
    token = sign_in(server)["access_token"]
    refused = mint(server, token, {"name": "laptop"})
    assert refused.status_code == 400
    assert refused.json() == {"message": "Unknown field: name", "code": "unknown_field"}
    keys = mint(server, token).json()
    other = server.create_key("acme")

    assert list_keys(server, keys["sandbox_key"]).status_code == 404
    assert revoke(server, keys["sandbox_key"], other["id"]).status_code == 404
    assert customers(server, other["key"]).status_code == 200
    current = httpx2.delete(server.url + "/cli/api-keys/current", headers=bearer(other["key"]))
    assert current.status_code == 204
    assert customers(server, other["key"]).status_code == 401


def test_disable_keys_and_revoke_key_turn_off_delete_current_too(start_autumn_server):
    server = start_autumn_server(disable=["keys", "revoke-key"])
    key = server.create_key("acme")
    current = httpx2.delete(server.url + "/cli/api-keys/current", headers=bearer(key["key"]))
    assert current.status_code == 404
    assert customers(server, key["key"]).status_code == 200


def test_a_data_directory_from_before_section_7_still_works(start_autumn_server, tmp_path):
    """Keys minted by an older server (no created_via, no last_used_at) are listed."""
    server = start_autumn_server(data_dir=tmp_path / "data")
    keys = mint(server, sign_in(server)["access_token"]).json()
    server.stop()
    with sqlite3.connect(server.data_dir / "autumn-local.db") as conn:
        conn.execute("DROP INDEX IF EXISTS api_keys_org")
        conn.execute("ALTER TABLE api_keys DROP COLUMN created_via")
        conn.execute("ALTER TABLE api_keys DROP COLUMN last_used_at")
    server.start()
    listed = list_keys(server, keys["sandbox_key"]).json()["list"]
    assert by_last4(listed, keys["sandbox_key"])["created_via"] == "oauth"
