"""`AutumnClient`'s recovery on both profiles: a key deleted under a running program (in the
dashboard: the stand-in's admin command, as hosted Autumn cannot revoke from the command
line) gets a 401; the client signs in again once, stores the new keys in the `.env` the
key came from, and retries the request, which succeeds."""

from __future__ import annotations

import threading
from pathlib import Path

from atmn_auth import AutumnClient
from atmn_auth.auth.recovery import LoginReauthenticator
from atmn_auth.keyformat import redact
from atmn_auth.term.console import Console
from support import scripted_browser
from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_VAR,
    SANDBOX_VAR,
    RecordingProxy,
    keys_page,
    logged_in,
    no_whole_key,
    revoke_on_server,
    slugs,
)


class Browser:
    """Stands in for opening a browser: a person who signs in and approves `org`."""

    def __init__(self, server: AutumnServer, org: str) -> None:
        self.server, self.org = server, org
        self.opened = 0
        self.failures: list[BaseException] = []

    def __call__(self, url: str) -> bool:
        self.opened += 1

        def browse() -> None:
            try:
                scripted_browser.run(
                    url, email=self.server.email, password=self.server.password, org=self.org
                )
            except BaseException as exc:  # surfaced by the test
                self.failures.append(exc)

        threading.Thread(target=browse, name="scripted-browser", daemon=True).start()
        return True


def test_a_deleted_key_is_replaced_through_one_sign_in_and_the_request_succeeds(
    any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, any_server)
    before = project.keys()
    told: list[str] = []
    browser = Browser(any_server, "acme")
    # BROWSER marks a browser as available without a display; the opener is what runs.
    environ = {"ATMN_BACKEND_URL": proxy.url, "BROWSER": "scripted"}
    reauthenticator = LoginReauthenticator(
        cwd=project.dir,
        environ=environ,
        interactive=True,
        console=Console(info=told.append, interactive=False, opener=browser),
        timeout=30,
    )
    sign_ins = any_server.stats()["authorizations_granted"]

    with AutumnClient(cwd=project.dir, environ=environ, reauthenticator=reauthenticator) as autumn:
        assert autumn.get("/v1/customers").status_code == 200
        revoke_on_server(any_server, before[SANDBOX_VAR])
        seen = len(proxy.requests)

        response = autumn.get("/v1/customers")
        again = autumn.get("/v1/organization/me")

    assert browser.failures == []
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert (again.status_code, again.json()["slug"]) == (200, "acme")
    assert (browser.opened, any_server.stats()["authorizations_granted"]) == (1, sign_ins + 1)
    after = project.keys()
    replaced = [after[var] != before[var] for var in (SANDBOX_VAR, LIVE_VAR)]
    assert replaced == [True, True]
    working = project.working()
    assert working == ["acme", "acme"]
    assert project.env_file.read_bytes().startswith(b"# my app\n")
    assert told[-2] == (
        f"Signed in again for Acme (acme): new keys saved to {project.env_file}; "
        "retrying the request."
    )
    # the live key it replaced was not rejected, nor revoked: it still works, and is named
    old_live = before[LIVE_VAR]
    assert told[-1] == (
        f"Replaced {redact(old_live)}: kept, not revoked, so it may still work; "
        f"once nothing uses it, delete it in the Autumn dashboard: {keys_page(old_live)}"
    )
    assert slugs(any_server.url, [old_live]) == ["acme"]
    clean = no_whole_key(*told)
    assert clean

    recovery = proxy.requests[seen:]
    assert proxy.failed(recovery) == ["GET /v1/customers -> 401"], proxy.summary()
    if any_server.hosted:
        assert proxy.cli_routes_but_mint() == []
        (mint,) = proxy.seen("POST", "/cli/api-keys")
        assert mint.body == b""
