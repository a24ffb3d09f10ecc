"""Minting keys with an access token and using them on /v1 (contract sections 2-5)."""

from __future__ import annotations

import json
import re

import httpx2

from support.oauth_flow import CLI_KEY_SCOPES, authorize, bearer, fetch_token, mint, sign_in

KEY = re.compile(r"^am_sk_(test|live)_[A-Za-z0-9]{42}$")


def org_me(server, key: str) -> httpx2.Response:
    return httpx2.get(server.url + "/v1/organization/me", headers=bearer(key))


def customers(server, key: str) -> httpx2.Response:
    return httpx2.get(server.url + "/v1/customers", headers=bearer(key))


def test_minted_keys_work_for_the_consent_organization(autumn_server):
    token = sign_in(autumn_server, org="globex")
    response = mint(autumn_server, token["access_token"])
    assert response.status_code == 200
    body = response.json()
    assert KEY.match(body["sandbox_key"]) and body["sandbox_key"].startswith("am_sk_test_")
    assert KEY.match(body["prod_key"]) and body["prod_key"].startswith("am_sk_live_")
    assert body["client_id"] == "hAWUopQqLnsSwuRgeRzIBzKslwXmQUSr"
    assert body["scopes"] == CLI_KEY_SCOPES
    assert body["user_id"].startswith("user_")

    sandbox = org_me(autumn_server, body["sandbox_key"]).json()
    live = org_me(autumn_server, body["prod_key"]).json()
    user = {"id": body["user_id"], "email": autumn_server.email, "name": "demo"}
    assert sandbox == {
        "id": body["org_id"],
        "name": "Globex",
        "slug": "globex",
        "env": "sandbox",
        "user": user,
    }
    assert live["env"] == "live" and live["slug"] == "globex"
    listed = customers(autumn_server, body["sandbox_key"])
    assert listed.status_code == 200 and listed.json()["list"] == []


def organization_ids(server, access_token: str) -> dict[str, str]:
    orgs = httpx2.get(server.url + "/cli/organizations", headers=bearer(access_token))
    return {o["slug"]: o["id"] for o in orgs.json()["list"]}


def test_a_token_bound_to_one_organization_does_not_mint_for_another(autumn_server):
    token = sign_in(autumn_server, org="acme")["access_token"]
    ids = organization_ids(autumn_server, token)
    refused = mint(autumn_server, token, {"org_id": ids["globex"]})
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "This access token was approved for another organization.",
        "code": "organization_mismatch",
    }
    assert autumn_server.stats()["key_pairs_minted"] == 0
    # naming the approved organization is fine
    body = mint(autumn_server, token, {"org_id": ids["acme"]}).json()
    assert org_me(autumn_server, body["sandbox_key"]).json()["slug"] == "acme"


def test_an_unbound_token_mints_for_any_organization_of_the_user(start_autumn_server):
    server = start_autumn_server(disable=["bind"])
    token = sign_in(server, org="acme")["access_token"]
    ids = organization_ids(server, token)
    body = mint(server, token, {"org_id": ids["globex"]}).json()
    assert body["org_id"] == ids["globex"]
    assert org_me(server, body["sandbox_key"]).json()["slug"] == "globex"


def test_minting_for_an_organization_the_user_is_not_in_is_forbidden(autumn_server):
    added = autumn_server.admin("orgs", "add", "initech", "--name", "Initech", check=True)
    initech_id = re.search(r"\((org_\w+)\)", added.stdout)[1]
    token = sign_in(autumn_server)
    for org_id in (initech_id, "org_doesnotexist"):
        response = mint(autumn_server, token["access_token"], {"org_id": org_id})
        assert response.status_code == 403
        assert set(response.json()) == {"message", "code"}
    assert autumn_server.stats()["key_pairs_minted"] == 0


def test_user_without_organization_gets_400(autumn_server):
    autumn_server.admin("users", "add", "loner@autumn.local", "--password", "pw-loner", check=True)
    auth = authorize(autumn_server, email="loner@autumn.local", password="pw-loner")
    token = fetch_token(autumn_server, auth)
    response = mint(autumn_server, token["access_token"])
    assert response.status_code == 400
    assert response.json()["message"] == "No organization found. Please select an organization."
    assert response.json()["code"]


def test_bad_access_tokens_get_401(autumn_server):
    for headers in ({}, bearer("nope"), {"Authorization": "Basic Zm9vOmJhcg=="}):
        response = httpx2.post(autumn_server.url + "/cli/api-keys", headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"message", "code"}
        response = httpx2.get(autumn_server.url + "/cli/organizations", headers=headers)
        assert response.status_code == 401


def test_access_token_is_not_a_secret_key_and_vice_versa(autumn_server):
    token = sign_in(autumn_server)
    keys = mint(autumn_server, token["access_token"]).json()
    assert org_me(autumn_server, token["access_token"]).status_code == 401
    assert mint(autumn_server, keys["sandbox_key"]).status_code == 401


def rejected_on_v1(key: str) -> dict[str, str]:
    """Hosted Autumn's /v1 answer to an unknown or revoked key (contract §4): the key's
    first 15 characters, then a `*` for each one after them."""
    masked = key[:15] + "*" * (len(key) - 15)
    return {
        "message": f"Invalid secret key: {masked}",
        "code": "invalid_secret_key",
        "env": "sandbox",
    }


NO_KEY = {
    "message": "Secret key not found in Authorization header",
    "code": "no_secret_key",
    "env": "sandbox",
}
NOT_A_KEY = {
    "message": "Invalid authorization token prefix",
    "code": "invalid_request",
    "env": "sandbox",
}


def test_missing_malformed_and_unknown_keys_get_hosted_autumns_401s(autumn_server):
    unknown = "am_sk_test_" + "A" * 42
    cases = [
        ({}, NO_KEY),
        ({"Authorization": unknown}, NO_KEY),  # no Bearer scheme
        ({"Authorization": "Basic Zm9vOmJhcg=="}, NO_KEY),
        ({"Authorization": "Bearer"}, NO_KEY),
        (bearer("am_sk_test_short"), rejected_on_v1("am_sk_test_short")),
        (bearer(unknown), rejected_on_v1(unknown)),
        (bearer("sk_live_notautumn"), NOT_A_KEY),
    ]
    for headers, expected in cases:
        for path in ("/v1/organization/me", "/v1/customers"):
            response = httpx2.get(autumn_server.url + path, headers=headers)
            assert (response.status_code, response.json()) == (401, expected), headers
            assert "www-authenticate" not in response.headers
    assert rejected_on_v1(unknown)["message"] == "Invalid secret key: am_sk_test_AAAA" + "*" * 38


def test_keys_revoked_by_admin_command_stop_working(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    last4 = keys["sandbox_key"][-4:]
    result = autumn_server.admin("keys", "revoke", "--last4", last4)
    assert result.returncode == 0, result.stderr
    assert org_me(autumn_server, keys["sandbox_key"]).json() == rejected_on_v1(keys["sandbox_key"])
    assert org_me(autumn_server, keys["prod_key"]).status_code == 200

    listed = json.loads(autumn_server.admin("keys", "list", "--json", check=True).stdout)
    by_env = {k["env"]: k for k in listed}
    assert by_env["sandbox"]["revoked"] is True and by_env["live"]["revoked"] is False
    assert by_env["sandbox"]["key"] == f"am_sk_test_…{last4}"

    key_id = by_env["live"]["id"]
    assert autumn_server.admin("keys", "revoke", key_id).returncode == 0
    assert org_me(autumn_server, keys["prod_key"]).status_code == 401
    assert autumn_server.admin("keys", "revoke", key_id).returncode == 1
    assert autumn_server.stats()["keys_revoked"] == 2


def test_revoke_all(autumn_server):
    token = sign_in(autumn_server)
    first = mint(autumn_server, token["access_token"]).json()
    second = mint(autumn_server, token["access_token"]).json()
    assert autumn_server.admin("keys", "revoke", "--all").returncode == 0
    for keys in (first, second):
        for key in (keys["sandbox_key"], keys["prod_key"]):
            assert org_me(autumn_server, key).status_code == 401


def test_key_revokes_itself_with_delete_current(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    url = autumn_server.url + "/cli/api-keys/current"
    first = httpx2.delete(url, headers=bearer(keys["sandbox_key"]))
    assert first.status_code == 204
    assert first.content == b""
    assert customers(autumn_server, keys["sandbox_key"]).json() == rejected_on_v1(
        keys["sandbox_key"]
    )
    assert httpx2.delete(url, headers=bearer(keys["sandbox_key"])).status_code == 401
    assert httpx2.delete(url).status_code == 401
    assert customers(autumn_server, keys["prod_key"]).status_code == 200


def test_keys_and_revocations_survive_a_restart(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    httpx2.delete(autumn_server.url + "/cli/api-keys/current", headers=bearer(keys["prod_key"]))
    password = autumn_server.password

    autumn_server.restart()

    assert autumn_server.password == password
    assert org_me(autumn_server, keys["sandbox_key"]).status_code == 200
    assert org_me(autumn_server, keys["prod_key"]).status_code == 401


def test_keys_are_stored_only_as_hashes(autumn_server):
    keys = mint(autumn_server, sign_in(autumn_server)["access_token"]).json()
    database = b"".join(p.read_bytes() for p in autumn_server.data_dir.glob("autumn-local.db*"))
    for secret in (keys["sandbox_key"], keys["prod_key"]):
        assert secret.encode() not in database
        assert secret[-20:].encode() not in database
    listed = autumn_server.admin("keys", "list").stdout
    assert keys["sandbox_key"] not in listed and keys["sandbox_key"][-4:] in listed


def test_stats_count_one_sign_in(autumn_server):
    token = sign_in(autumn_server)
    mint(autumn_server, token["access_token"])
    assert autumn_server.stats() == {
        "authorizations_granted": 1,
        "tokens_issued": 1,
        "key_pairs_minted": 1,
        "keys_revoked": 0,
        "users": 1,
        "organizations": 2,
    }
