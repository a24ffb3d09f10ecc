"""`atmn env` (`run_env`) against a scripted server: what it prints, its exit code, its
`--json`, and which key it sends (only a well-formed one of the right kind)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from atmn_auth.commands.env import run_env
from atmn_auth.commands.invocation import Invocation
from atmn_auth.settings import load_settings
from atmn_auth.term.console import Console

from .helpers import ACME, LIVE_KEY, SANDBOX_KEY, Backend, raises, reply

ME = ("GET", "/v1/organization/me")
HOSTED = "https://api.useautumn.com"


def write_env(directory: Path, text: str) -> Path:
    path = directory / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def env(
    tmp_path: Path,
    backend: Backend | None,
    *,
    environ: dict[str, str] | None = None,
    prod: bool = False,
    local: bool = False,
    as_json: bool = False,
) -> tuple[int, list[str]]:
    environ = environ or {}
    settings = load_settings(prod=prod, local=local, environ=environ)
    lines: list[str] = []
    with Invocation(
        settings,
        cwd=tmp_path,
        environ=environ,
        console=Console(out=lines.append),
        offline=backend is None,
        session=None if backend is None else backend.session(environ),
    ) as inv:
        code = run_env(inv, as_json=as_json)
    return code, lines


def field(lines: list[str], name: str) -> str:
    prefix = f"{name}:"
    return next(line[len(prefix) :].strip() for line in lines if line.startswith(prefix))


def as_report(lines: list[str]) -> dict[str, Any]:
    (text,) = lines
    report: dict[str, Any] = json.loads(text)
    return report


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_env(
        tmp_path, f"# keys\nAUTUMN_SECRET_KEY={SANDBOX_KEY}\nAUTUMN_PROD_SECRET_KEY={LIVE_KEY}\n"
    )
    return tmp_path


# --- accepted ----------------------------------------------------------------------------


def test_an_accepted_key_exits_0_naming_its_organization(project: Path) -> None:
    backend = Backend({ME: reply(200, ACME)})
    code, lines = env(project, backend)
    assert code == 0
    assert field(lines, "Server") == "accepted: organization Acme (acme)"
    assert field(lines, "From") == str(project / ".env")
    assert field(lines, "Key") == "am_sk_test_…S1S1"
    assert not any(line.startswith("Next:") for line in lines)
    assert set(backend.bearers()) == {f"Bearer {SANDBOX_KEY}"}
    assert any(str(r.url) == HOSTED + "/v1/organization/me" for r in backend.requests)


def test_the_key_is_never_printed_whole(project: Path) -> None:
    for as_json in (False, True):
        _, lines = env(project, Backend({ME: reply(401, {"message": "nope"})}), as_json=as_json)
        assert not any(SANDBOX_KEY in line or LIVE_KEY in line for line in lines)


def test_prod_reads_and_sends_the_live_key(project: Path) -> None:
    backend = Backend({ME: reply(200, {**ACME, "env": "live"})})
    code, lines = env(project, backend, prod=True)
    assert code == 0
    assert field(lines, "Environment") == "live (-p)"
    assert field(lines, "Variable") == "AUTUMN_PROD_SECRET_KEY"
    assert set(backend.bearers()) == {f"Bearer {LIVE_KEY}"}


def test_a_server_saying_the_key_is_of_the_other_kind_is_a_warning(project: Path) -> None:
    code, lines = env(project, Backend({ME: reply(200, {**ACME, "env": "live"})}))
    assert code == 0
    assert "! Warning: the server says this is a live key, not a sandbox one." in lines


def test_the_process_environment_wins_over_dotenv(project: Path) -> None:
    backend = Backend({ME: reply(200, ACME)})
    environ = {"AUTUMN_SECRET_KEY": "am_sk_test_" + "E5" * 21}
    code, lines = env(project, backend, environ=environ)
    assert code == 0
    assert field(lines, "From") == "the process environment"
    assert set(backend.bearers()) == {f"Bearer {environ['AUTUMN_SECRET_KEY']}"}
    assert any(line.startswith("  " + str(project / ".env")) for line in lines)  # also defined


# --- rejected ----------------------------------------------------------------------------


def test_a_rejected_key_exits_1_and_says_to_log_in(project: Path) -> None:
    backend = Backend({ME: reply(401, {"message": "Invalid secret key"})})
    code, lines = env(project, backend)
    assert code == 1
    server = field(lines, "Server")
    assert server.startswith("rejected (401)") and "Invalid secret key" in server
    assert field(lines, "Next") == f"run `atmn login` to write new keys to {project / '.env'}"


def test_a_rejected_key_against_the_local_server_says_login_dash_l(project: Path) -> None:
    backend = Backend({ME: reply(401, {"message": "Invalid secret key"})})
    code, lines = env(project, backend, local=True)
    assert code == 1
    assert "`atmn -l login`" in field(lines, "Next")
    assert any(str(r.url) == "http://localhost:8080/v1/organization/me" for r in backend.requests)


def test_a_rejected_key_from_the_environment_says_to_unset_it(tmp_path: Path) -> None:
    backend = Backend({ME: reply(401, {"message": "Invalid secret key"})})
    code, lines = env(tmp_path, backend, environ={"AUTUMN_SECRET_KEY": SANDBOX_KEY})
    assert code == 1
    assert field(lines, "Next").startswith("run `unset AUTUMN_SECRET_KEY`")
    assert "`atmn login`" in field(lines, "Next")


def test_a_rejected_key_can_be_replaced_by_signing_in_again(project: Path) -> None:
    asked: list[str] = []

    class Declines:
        def select(self, message: str, choices: Any, default: str | None) -> str:
            raise AssertionError("no menu before the person agrees to sign in")

        def confirm(self, message: str, default: bool) -> bool:
            asked.append(message)
            return False  # the person declined: the report stands

    settings = load_settings(prod=False, local=False, environ={})
    backend = Backend({ME: reply(401, {"message": "Invalid secret key"})})
    console = Console(out=lambda _: None, interactive=True, prompter=Declines())
    inv = Invocation(settings, cwd=project, environ={}, console=console, session=backend.session())
    with inv:
        code = run_env(inv)
    assert (code, asked) == (1, ["AUTUMN_SECRET_KEY was rejected. Sign in again now?"])


# --- no answer, or not the contract's ----------------------------------------------------


def test_an_unreachable_server_exits_1_and_says_to_check_it(project: Path) -> None:
    backend = Backend({ME: raises(httpx2.ConnectError, "connection refused")})
    code, lines = env(project, backend)
    assert code == 1
    assert (
        field(lines, "Server")
        == "unreachable: cannot reach api.useautumn.com:443 (connection refused). "
        "Check your connection; behind a proxy, set HTTPS_PROXY."
    )
    assert field(lines, "Next") == (
        f"check that {HOSTED} is the right server and is up, then run `atmn env` again"
    )


def test_a_timeout_is_reported_as_such(project: Path) -> None:
    code, lines = env(project, Backend({ME: raises(httpx2.ReadTimeout, "read timed out")}))
    assert code == 1
    assert field(lines, "Server").startswith("timed out: api.useautumn.com:443 did not answer")
    assert "is the right server and is up" in field(lines, "Next")


def test_an_unexpected_answer_is_reported_with_the_servers_words(project: Path) -> None:
    code, lines = env(project, Backend({ME: reply(500, {"message": "database down"})}))
    assert code == 1
    assert field(lines, "Server") == "unexpected answer: /v1/organization/me answered database down"
    assert "is the right server and is up" in field(lines, "Next")


# --- keys that are never sent -------------------------------------------------------------


def test_a_missing_key_sends_nothing_and_says_to_log_in(tmp_path: Path) -> None:
    backend = Backend({ME: reply(200, ACME)})
    code, lines = env(tmp_path, backend)
    assert code == 1
    assert backend.requests == []
    assert "AUTUMN_SECRET_KEY is not set" in field(lines, "Format")
    assert field(lines, "Next") == f"run `atmn login` to write new keys to {tmp_path / '.env'}"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("sk_live_stripe_not_autumn_1234567890", "does not hold an Autumn secret key"),
        (LIVE_KEY, "holds a live key; it should hold a sandbox key"),
        ("", "is set but empty"),
    ],
    ids=["malformed", "wrong-kind", "empty"],
)
def test_a_key_that_cannot_be_right_is_never_sent(tmp_path: Path, value: str, says: str) -> None:
    write_env(tmp_path, f"AUTUMN_SECRET_KEY={value}\n")
    backend = Backend({ME: reply(200, ACME)})
    code, lines = env(tmp_path, backend)
    assert code == 1
    assert backend.requests == []
    assert says in field(lines, "Format")
    assert field(lines, "Server") == "not asked: there is no well-formed key to send"


def test_offline_checks_the_format_only(project: Path) -> None:
    code, lines = env(project, None)
    assert code == 0
    assert field(lines, "Server") == "not checked (--offline)"


# --- --json ------------------------------------------------------------------------------


def test_json_for_an_accepted_key(project: Path) -> None:
    code, lines = env(project, Backend({ME: reply(200, ACME)}), as_json=True)
    report = as_report(lines)
    assert code == 0
    assert report["usable"] is True
    assert {k: report[k] for k in ("environment", "backend_url", "variable", "source")} == {
        "environment": "sandbox",
        "backend_url": HOSTED,
        "variable": "AUTUMN_SECRET_KEY",
        "source": "dotenv",
    }
    assert report["key"] == "am_sk_test_…S1S1"
    assert report["path"] == report["env_file"] == str(project / ".env")
    assert (report["format"], report["server"]) == ("ok", "accepted")
    assert report["organization"] == ACME
    assert report["definitions"] == [
        {
            "source": "dotenv",
            "path": str(project / ".env"),
            "key": "am_sk_test_…S1S1",
            "in_use": True,
        }
    ]
    assert report["next_step"] is None and report["warnings"] == []


def test_json_for_a_rejected_key(project: Path) -> None:
    backend = Backend({ME: reply(401, {"message": "Invalid secret key"})})
    code, lines = env(project, backend, as_json=True)
    report = as_report(lines)
    assert code == 1
    assert (report["usable"], report["server"], report["organization"]) == (False, "rejected", None)
    assert "Invalid secret key" in report["server_message"]
    assert "`atmn login`" in report["next_step"]


@pytest.mark.parametrize(
    ("error", "status"),
    [(httpx2.ConnectError, "unreachable"), (httpx2.ConnectTimeout, "timed_out")],
)
def test_json_for_no_answer(project: Path, error: type[httpx2.TransportError], status: str) -> None:
    code, lines = env(project, Backend({ME: raises(error)}), as_json=True)
    report = as_report(lines)
    assert (code, report["usable"], report["server"]) == (1, False, status)


def test_json_for_a_missing_key(tmp_path: Path) -> None:
    code, lines = env(tmp_path, Backend(), as_json=True)
    report = as_report(lines)
    assert code == 1
    assert (report["format"], report["server"], report["key"], report["source"]) == (
        "missing",
        "not_checked",
        None,
        None,
    )
    assert report["env_file"] == str(tmp_path / ".env")


# --- bugs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"name": "Acme"}, "accepted: organization Acme"),
        ({"id": "org_acme", "name": "Acme"}, "accepted: organization Acme (org_acme)"),
    ],
)
def test_an_organization_without_a_slug_is_shown_without_none(
    project: Path, body: dict[str, str], shown: str
) -> None:
    code, lines = env(project, Backend({ME: reply(200, body)}))
    assert code == 0
    assert field(lines, "Server") == shown
