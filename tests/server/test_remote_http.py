"""autumn-local listening beyond loopback (`--host`) over plain http: authlib refuses OAuth
there, at any host name but a loopback one. The refusal is an RFC 6749 error a client can
read (400 `insecure_transport`, saying where sign-in is answered), not a 500 and a
traceback; the same requests at 127.0.0.1 go on as ever. The scenario runs in a private
network namespace (support.netns) whose `lo` also has a TEST-NET address."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx2

from support.autumn_server import AutumnServer
from support.netns import TEST_NET, run_scenario
from support.oauth_flow import ALL_SCOPES, CLIENT_ID

SERVER_ADDRESS = f"{TEST_NET}.1"
ENDPOINTS = {  # what each is sent: enough to get past the transport check
    "token": {"grant_type": "authorization_code", "code": "nope", "client_id": CLIENT_ID},
    "device": {"client_id": CLIENT_ID, "scope": ALL_SCOPES},
    "revoke": {"token": "nope", "client_id": CLIENT_ID},
}


def scenario(data_dir: Path) -> dict[str, Any]:
    everywhere = "0.0.0.0"  # noqa: S104
    server = AutumnServer(data_dir, host=everywhere).start()
    seen: dict[str, Any] = {"log": ""}
    try:
        for host in (SERVER_ADDRESS, "127.0.0.1"):
            for name, form in ENDPOINTS.items():
                url = f"http://{host}:{server.port}/api/auth/oauth2/{name}"
                response = httpx2.post(url, data=form, timeout=30)
                body = response.json() if response.content else None
                seen[f"{name}@{host}"] = [response.status_code, body]
    finally:
        server.stop()
        seen["log"] = server.log_text()
    return seen


def test_oauth_over_http_elsewhere_than_loopback_is_a_readable_refusal(tmp_path: Path) -> None:
    seen = run_scenario(__file__, tmp_path / "data", [SERVER_ADDRESS], timeout=60)

    for name in ENDPOINTS:
        status, body = seen[f"{name}@{SERVER_ADDRESS}"]
        assert status == 400, (name, status, body)
        assert body["error"] == "insecure_transport"
        assert "localhost, 127.0.0.1 or [::1]" in body["error_description"]
        # at loopback the request reaches the OAuth endpoint itself
        status, body = seen[f"{name}@127.0.0.1"]
        assert status != 500 and (body or {}).get("error") != "insecure_transport", (name, body)
    assert seen["device@127.0.0.1"][0] == 200
    assert "Traceback" not in seen["log"]


if __name__ == "__main__":
    print(json.dumps(scenario(Path(sys.argv[1]))))
