"""A failed code exchange does not use the code up (RFC 6749 §10.5, RFC 7636 §4.6).

The code is single use once an exchange *succeeds*; a guess with a wrong `code_verifier`,
redirect URI or client must leave it to the client it was issued to, or anyone who saw the
code (a log, a proxy, another app on the machine) could burn the real sign-in.
"""

from __future__ import annotations

import httpx2
import pytest

from support.oauth_flow import CLIENT_ID, REDIRECT_URI, TOKEN_PATH, authorize, bearer


def exchange(server, code: str, verifier: str, **changes: str) -> httpx2.Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **changes,
    }
    return httpx2.post(server.url + TOKEN_PATH, data=data)


WRONG_ATTEMPTS = {
    "wrong verifier": ({"code_verifier": "w" * 64}, "invalid_grant"),
    "malformed verifier": ({"code_verifier": "short"}, "invalid_request"),
    "no verifier": ({"code_verifier": ""}, "invalid_request"),
    "other redirect uri": ({"redirect_uri": "http://127.0.0.1:31448/"}, "invalid_grant"),
    "unknown client": ({"client_id": "someone-else"}, "invalid_client"),
}


@pytest.mark.parametrize("attempt", sorted(WRONG_ATTEMPTS))
def test_a_failed_exchange_leaves_the_code_to_the_right_verifier(autumn_server, attempt):
    changes, error = WRONG_ATTEMPTS[attempt]
    auth = authorize(autumn_server)
    code = auth.params["code"]

    refused = exchange(autumn_server, code, auth.verifier, **changes)
    assert refused.status_code in (400, 401)
    assert refused.json()["error"] == error

    token = exchange(autumn_server, code, auth.verifier)
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    orgs = httpx2.get(autumn_server.url + "/cli/organizations", headers=bearer(access))
    assert orgs.status_code == 200


def test_many_wrong_verifiers_then_the_right_one(autumn_server):
    auth = authorize(autumn_server)
    code = auth.params["code"]
    for guess in "abcde":
        assert exchange(autumn_server, code, guess * 64).json()["error"] == "invalid_grant"
    assert exchange(autumn_server, code, auth.verifier).status_code == 200


def test_after_a_success_the_code_is_used_up_even_for_the_right_verifier(autumn_server):
    auth = authorize(autumn_server)
    code = auth.params["code"]
    first = exchange(autumn_server, code, auth.verifier)
    assert first.status_code == 200
    again = exchange(autumn_server, code, auth.verifier)
    assert again.json()["error"] == "invalid_grant"
    access = first.json()["access_token"]
    orgs = httpx2.get(autumn_server.url + "/cli/organizations", headers=bearer(access))
    assert orgs.status_code == 401  # a second use revokes what the first one got
