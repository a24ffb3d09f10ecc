"""The threaded server under simultaneous requests: no lost writes, codes still single-use."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx2

from support.oauth_flow import (
    CLIENT_ID,
    REDIRECT_URI,
    TOKEN_PATH,
    authorize,
    bearer,
    mint,
    sign_in,
)


def test_simultaneous_mints_all_succeed_with_distinct_keys(autumn_server):
    token = sign_in(autumn_server)["access_token"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: mint(autumn_server, token), range(16)))
    assert [r.status_code for r in responses] == [200] * 16
    keys = {r.json()["sandbox_key"] for r in responses} | {r.json()["prod_key"] for r in responses}
    assert len(keys) == 32
    assert autumn_server.stats()["key_pairs_minted"] == 16
    me = httpx2.get(autumn_server.url + "/v1/organization/me", headers=bearer(keys.pop()))
    assert me.status_code == 200


def test_a_code_raced_by_simultaneous_exchanges_is_redeemed_once(autumn_server):
    auth = authorize(autumn_server)
    form = {
        "grant_type": "authorization_code",
        "code": auth.params["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_verifier": auth.verifier,
    }

    def exchange(_: int) -> int:
        return httpx2.post(autumn_server.url + TOKEN_PATH, data=form, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(exchange, range(6)))
    assert statuses == [200, 400, 400, 400, 400, 400]
    assert autumn_server.stats()["tokens_issued"] == 1
