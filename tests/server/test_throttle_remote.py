"""Clients that reach a `--host` address from elsewhere are still counted per address.

On loopback the sign-in and device-code limits count per account and per browser session
(every local process is 127.0.0.1: test_sign_in_throttle.py, test_device.py). A client on a
real network address is counted per address as well: many fresh sessions from one address
cannot get past the limit. The scenario runs in a private network namespace (support.netns)
where `lo` also has TEST-NET-1 addresses: `autumn-local serve --host 0.0.0.0` there, and
clients connecting to 192.0.2.1 from 192.0.2.2-6 and from 127.0.0.1. This module is both
the test and, run as a script, the scenario inside the namespace (it prints what it saw).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from support.autumn_server import AutumnServer
from support.netns import TEST_NET, run_scenario
from support.oauth_flow import ALL_SCOPES, CLIENT_ID
from support.scripted_browser import parse_forms

SERVER_ADDRESS = f"{TEST_NET}.1"
CLIENTS = {name: f"{TEST_NET}.{n}" for n, name in enumerate("abcde", start=2)}
SIGN_IN_LIMIT = 3
DEVICE_LIMIT = 10  # the device page's (throttle.DEFAULT_LIMIT)
WRONG_CODE = "BCDF-GHJK"


# --- inside the namespace -------------------------------------------------------------------


@contextmanager
def browser(server: AutumnServer, address: str) -> Iterator[httpx2.Client]:
    """A fresh browser (its own session cookie) connecting from `address`."""
    host = "127.0.0.1" if address.startswith("127.") else SERVER_ADDRESS
    transport = httpx2.HTTPTransport(local_address=address)
    base = f"http://{host}:{server.port}"
    with httpx2.Client(base_url=base, transport=transport, timeout=30) as client:
        yield client


def sign_in(client: httpx2.Client, email: str, password: str) -> int:
    form = parse_forms(client.get("/sign-in").text)[0]
    data = {**form.fields, "email": email, "password": password}
    return client.post("/sign-in", data=data).status_code


def enter_code(client: httpx2.Client, code: str) -> int:
    form = parse_forms(client.get("/device").text)[0]
    data = {**form.fields, "user_code": code, "action": "continue"}
    return client.post("/device", data=data).status_code


def code_from_fresh_session(server: AutumnServer, address: str, code: str) -> int:
    with browser(server, address) as client:
        assert sign_in(client, server.email, server.password) == 302
        return enter_code(client, code)


def scenario(data_dir: Path) -> dict[str, Any]:
    # Every interface of the private namespace: its loopback and the TEST-NET addresses.
    everywhere = "0.0.0.0"  # noqa: S104
    server = AutumnServer(
        data_dir, host=everywhere, sign_in_limit=SIGN_IN_LIMIT, sign_in_window=300
    ).start()
    seen: dict[str, Any] = {}
    try:
        # Sign-in: wrong passwords for unknown accounts from fresh sessions at one address.
        guesses = []
        for n in range(SIGN_IN_LIMIT):
            with browser(server, CLIENTS["a"]) as guesser:
                guesses.append(sign_in(guesser, f"nobody{n}@example.com", "guess"))
        seen["sign_in_guesses"] = guesses
        for where, address in (("same", CLIENTS["a"]), ("other", CLIENTS["b"])):
            with browser(server, address) as person:
                seen[f"sign_in_{where}_address"] = sign_in(person, server.email, server.password)
        with browser(server, "127.0.0.1") as person:
            seen["sign_in_loopback"] = sign_in(person, server.email, server.password)

        # Device codes: one wrong code from each of many fresh sessions at one address.
        # (The code is asked for at loopback: authlib refuses OAuth over plain http to any
        # other host name, and the CLI runs on the server's machine.)
        response = httpx2.post(
            f"http://127.0.0.1:{server.port}/api/auth/oauth2/device",
            data={"client_id": CLIENT_ID, "scope": ALL_SCOPES},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        user_code = response.json()["user_code"]
        seen["code_guesses"] = [
            code_from_fresh_session(server, CLIENTS["c"], WRONG_CODE) for _ in range(DEVICE_LIMIT)
        ]
        seen["code_same_address"] = code_from_fresh_session(server, CLIENTS["c"], user_code)
        seen["code_other_address"] = code_from_fresh_session(server, CLIENTS["d"], user_code)
        seen["code_loopback"] = code_from_fresh_session(server, "127.0.0.1", user_code)
    finally:
        server.stop()
    return seen


# --- the test -------------------------------------------------------------------------------


def test_clients_on_other_addresses_are_counted_per_address(tmp_path: Path) -> None:
    seen = run_scenario(
        __file__, tmp_path / "data", [SERVER_ADDRESS, *CLIENTS.values()], timeout=110
    )

    # Sign-in: the address that guessed is held back, even with the right password and a
    # new session; another address, and loopback, sign the same account in.
    assert seen["sign_in_guesses"] == [401] * SIGN_IN_LIMIT
    assert seen["sign_in_same_address"] == 429
    assert seen["sign_in_other_address"] == 302
    assert seen["sign_in_loopback"] == 302

    # Device codes: each fresh session's wrong code counts against its address, which is
    # then held back even for the right code; a person elsewhere enters it (the account's
    # count does not stop a session that entered no wrong code).
    assert seen["code_guesses"] == [400] * DEVICE_LIMIT
    assert seen["code_same_address"] == 429
    assert seen["code_other_address"] == 200
    assert seen["code_loopback"] == 200


if __name__ == "__main__":
    print(json.dumps(scenario(Path(sys.argv[1]))))
