"""`atmn logout` (`run_logout`): keys out of `.env`, each revoked, every outcome in words;
a value that is not an Autumn key is never sent anywhere."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from atmn_auth.commands.invocation import Invocation
from atmn_auth.commands.logout import run_logout
from atmn_auth.settings import load_settings
from atmn_auth.term.console import Console

from .helpers import ACME, LIVE_KEY, OTHER_SANDBOX_KEY, SANDBOX_KEY, Backend, raises, reply

REVOKE = ("DELETE", "/cli/api-keys/current")
ME = ("GET", "/v1/organization/me")
WORKS = reply(200, ACME)
SHOWN_SANDBOX = "am_sk_test_…S1S1"
SHOWN_LIVE = "am_sk_live_…L2L2"


def logout(
    cwd: Path,
    backend: Backend,
    *,
    environ: dict[str, str] | None = None,
    keep_keys: bool = False,
    local: bool = False,
) -> tuple[int, list[str]]:
    environ = environ or {}
    settings = load_settings(prod=False, local=local, environ=environ)
    lines: list[str] = []
    # results and warnings in one list, in order; warnings without their `! ` mark
    console = Console(out=lines.append, err=lambda line: lines.append(line.removeprefix("! ")))
    with Invocation(
        settings, cwd=cwd, environ=environ, console=console, session=backend.session(environ)
    ) as inv:
        code = run_logout(inv, keep_keys=keep_keys)
    return code, lines


@pytest.fixture
def dotenv(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text(
        f"DATABASE_URL=postgres://db\nAUTUMN_SECRET_KEY={SANDBOX_KEY}\n"
        f"AUTUMN_PROD_SECRET_KEY={LIVE_KEY}\n# end\n",
        encoding="utf-8",
    )
    return path


def test_revoked_keys_are_removed_and_reported(dotenv: Path) -> None:
    backend = Backend({REVOKE: reply(204)})
    code, lines = logout(dotenv.parent, backend)
    assert code == 0
    assert dotenv.read_text(encoding="utf-8") == "DATABASE_URL=postgres://db\n# end\n"
    assert lines == [
        f"Removed AUTUMN_SECRET_KEY ({SHOWN_SANDBOX}) from {dotenv}.",
        f"Removed AUTUMN_PROD_SECRET_KEY ({SHOWN_LIVE}) from {dotenv}.",
        f"Revoked {SHOWN_SANDBOX} on the server.",
        f"Revoked {SHOWN_LIVE} on the server.",
    ]
    assert backend.bearers() == [f"Bearer {SANDBOX_KEY}", f"Bearer {LIVE_KEY}"]
    assert {str(r.url) for r in backend.requests} == {
        "https://api.useautumn.com/cli/api-keys/current"
    }


def test_a_key_the_server_no_longer_knows_was_already_invalid(dotenv: Path) -> None:
    code, lines = logout(dotenv.parent, Backend({REVOKE: reply(401, {"message": "Invalid"})}))
    assert code == 0
    assert f"{SHOWN_SANDBOX} was already invalid on the server." in lines
    assert f"{SHOWN_LIVE} was already invalid on the server." in lines


@pytest.mark.parametrize("status", [404, 405])
def test_a_server_that_cannot_revoke_says_where_to_do_it(dotenv: Path, status: int) -> None:
    code, lines = logout(dotenv.parent, Backend({REVOKE: reply(status), ME: WORKS}))
    assert code == 0
    assert STILL_WORKS in lines
    assert f"  {SHOWN_SANDBOX}: delete it in the Autumn dashboard: {SANDBOX_PAGE}" in lines
    assert not any("Revoked" in line or "already invalid" in line for line in lines)
    assert "AUTUMN_SECRET_KEY" not in dotenv.read_text(encoding="utf-8")


def test_hosted_autumn_gets_no_revocation_request_and_the_keys_are_said_to_work(
    tmp_path: Path,
) -> None:
    """Hosted Autumn advertises no extension (§X): nothing is sent; the person is told once
    that both keys still work, where to delete each, and the Authorized Apps link."""
    (tmp_path / ".env").write_text(
        f"AUTUMN_SECRET_KEY={SANDBOX_KEY}\nAUTUMN_PROD_SECRET_KEY={LIVE_KEY}\n", encoding="utf-8"
    )
    backend = Backend({REVOKE: reply(204), ME: WORKS}, extensions=())
    code, lines = logout(tmp_path, backend)
    assert code == 0
    # the server is only asked whether each key still works, before saying that it does
    assert sorted(r.url.path for r in backend.requests) == [ME[1], ME[1]]
    assert lines.count(STILL_WORKS) == 1
    assert f"  {SHOWN_SANDBOX}: delete it in the Autumn dashboard: {SANDBOX_PAGE}" in lines
    assert any(line.startswith("  am_sk_live_") and line.endswith(LIVE_PAGE) for line in lines)
    assert any(
        "Authorized Apps: https://app.useautumn.com/settings?tab=apps" in line for line in lines
    )


def test_hosted_autumns_answer_to_a_route_it_lacks_is_never_read_as_revoked(
    dotenv: Path,
) -> None:
    """§H: 401 no_auth_header, whatever the bearer: the key is not "already invalid"."""
    hosted = reply(401, {"message": "Unauthorized - no session found", "code": "no_auth_header"})
    code, lines = logout(dotenv.parent, Backend({REVOKE: hosted, ME: WORKS}))
    assert code == 0
    assert STILL_WORKS in lines
    assert not any("already invalid" in line for line in lines)


STILL_WORKS = (
    "Warning: https://api.useautumn.com cannot revoke keys from the command line, so these "
    "keys still work:"
)
SANDBOX_PAGE = "https://app.useautumn.com/sandbox/dev?tab=api_keys"
LIVE_PAGE = "https://app.useautumn.com/dev?tab=api_keys"


def test_a_key_the_server_no_longer_accepts_is_not_said_to_work(tmp_path: Path) -> None:
    """Deleted in the dashboard already: "already invalid", and only the other one is in
    the warning; a key the server could not be asked about "may still work"."""
    (tmp_path / ".env").write_text(
        f"AUTUMN_SECRET_KEY={SANDBOX_KEY}\nAUTUMN_PROD_SECRET_KEY={LIVE_KEY}\n", encoding="utf-8"
    )

    def me(request: httpx2.Request) -> httpx2.Response:
        if SANDBOX_KEY in request.headers["authorization"]:
            return httpx2.Response(401, json={"code": "invalid_secret_key"})
        return httpx2.Response(503, json={"message": "down"})

    _, lines = logout(tmp_path, Backend({ME: me}, extensions=()))
    assert f"{SHOWN_SANDBOX} was already invalid on the server." in lines
    assert (
        "Warning: https://api.useautumn.com cannot revoke keys from the command line, so this "
        "key may still work:"
    ) in lines
    assert not any(line.startswith(f"  {SHOWN_SANDBOX}") for line in lines)


def test_local_mode_says_how_autumn_local_revokes_it(dotenv: Path) -> None:
    _, lines = logout(dotenv.parent, Backend({REVOKE: reply(404)}), local=True)
    assert any("`autumn-local keys revoke --last4 " in line for line in lines)


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (reply(500, {"message": "try later"}), "revoking the key: try later"),
        (raises(httpx2.ConnectError, "connection refused"), "cannot reach api.useautumn.com:443"),
        (raises(httpx2.ReadTimeout), "did not answer in time"),
    ],
    ids=["500", "unreachable", "timeout"],
)
def test_a_failed_revocation_warns_that_the_key_may_still_work(
    dotenv: Path, route: object, reason: str
) -> None:
    code, lines = logout(dotenv.parent, Backend({REVOKE: route}))  # type: ignore[dict-item]
    assert code == 0
    warning = next(
        line for line in lines if line.startswith(f"Warning: could not revoke {SHOWN_SANDBOX}")
    )
    assert reason in warning
    assert warning.endswith(
        f"It may still work: delete it in the Autumn dashboard: {SANDBOX_PAGE}."
    )
    assert "AUTUMN_SECRET_KEY" not in dotenv.read_text(encoding="utf-8")  # removed all the same


def test_a_value_that_is_not_an_autumn_key_is_never_sent(tmp_path: Path) -> None:
    secret = "sk_live_stripe_secret_do_not_leak_42"
    (tmp_path / ".env").write_text(
        f"AUTUMN_SECRET_KEY={secret}\nAUTUMN_PROD_SECRET_KEY={LIVE_KEY}\n", encoding="utf-8"
    )
    backend = Backend({REVOKE: reply(204)})
    code, lines = logout(tmp_path, backend)
    assert code == 0
    assert not backend.sent(secret)
    assert backend.bearers() == [f"Bearer {LIVE_KEY}"]
    assert any(
        line.startswith("Not revoking ") and "not an Autumn secret key" in line for line in lines
    )
    assert not any(secret in line for line in lines)


def test_keep_keys_sends_nothing(dotenv: Path) -> None:
    backend = Backend({REVOKE: reply(204)})
    code, lines = logout(dotenv.parent, backend, keep_keys=True)
    assert code == 0
    assert backend.requests == []
    assert f"Kept {SHOWN_SANDBOX} active on the server (--keep-keys)." in lines


def test_every_distinct_key_in_the_file_is_revoked_once(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"AUTUMN_SECRET_KEY={OTHER_SANDBOX_KEY}\nAUTUMN_SECRET_KEY={SANDBOX_KEY}\n"
        f"AUTUMN_PROD_SECRET_KEY={SANDBOX_KEY}\n",
        encoding="utf-8",
    )
    backend = Backend({REVOKE: reply(204)})
    _, lines = logout(tmp_path, backend)
    assert sorted(backend.bearers()) == sorted(
        [f"Bearer {OTHER_SANDBOX_KEY}", f"Bearer {SANDBOX_KEY}"]
    )
    assert any("and 1 older definition from" in line for line in lines)


def test_nothing_to_do_without_a_dotenv(tmp_path: Path) -> None:
    backend = Backend({REVOKE: reply(204)})
    code, lines = logout(tmp_path, backend)
    assert code == 0
    assert backend.requests == []
    assert lines == [
        f"Nothing to do: there is no {tmp_path / '.env'}, so no "
        "AUTUMN_SECRET_KEY or AUTUMN_PROD_SECRET_KEY."
    ]
    assert not (tmp_path / ".env").exists()


def test_a_key_left_in_the_process_environment_is_a_warning(dotenv: Path) -> None:
    backend = Backend({REVOKE: reply(204)})
    _, lines = logout(dotenv.parent, backend, environ={"AUTUMN_SECRET_KEY": OTHER_SANDBOX_KEY})
    warning = next(line for line in lines if "process environment" in line)
    assert warning.startswith("Warning: AUTUMN_SECRET_KEY is still set in the process environment")
    assert "run `unset AUTUMN_SECRET_KEY`" in warning
    assert not backend.sent(OTHER_SANDBOX_KEY)  # not logout's to revoke
