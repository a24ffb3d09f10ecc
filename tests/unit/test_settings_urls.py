"""Which server: `ATMN_BACKEND_URL` / `ATMN_OAUTH_ISSUER` checked once, as one-line
usage errors, before anything is sent."""

from __future__ import annotations

import pytest

from atmn_auth.errors import UsageError
from atmn_auth.settings import (
    CLIENT_ID,
    HOSTED_BACKEND,
    HOSTED_WEB,
    LOCAL_BACKEND,
    LOCAL_WEB,
    check_url,
    load_settings,
)

from .helpers import one_line


def settings(environ: dict[str, str], *, prod: bool = False, local: bool = False):  # type: ignore[no-untyped-def]
    return load_settings(prod=prod, local=local, environ=environ)


def test_defaults_are_hosted_autumn_and_the_sandbox_key() -> None:
    s = settings({})
    assert (s.backend_url, s.web_url, s.client_id, s.issuer) == (
        HOSTED_BACKEND,
        HOSTED_WEB,
        CLIENT_ID,
        None,
    )
    assert (s.kind, s.key_var, s.login_command()) == (
        "sandbox",
        "AUTUMN_SECRET_KEY",
        "atmn login",
    )


def test_local_and_prod_combine() -> None:
    s = settings({}, prod=True, local=True)
    assert (s.backend_url, s.web_url) == (LOCAL_BACKEND, LOCAL_WEB)
    assert (s.kind, s.key_var, s.login_command()) == (
        "live",
        "AUTUMN_PROD_SECRET_KEY",
        "atmn -l login",
    )


def test_the_backend_override_wins_and_loses_its_trailing_slash() -> None:
    s = settings({"ATMN_BACKEND_URL": "  https://autumn.corp.example/api/  "}, local=True)
    assert s.backend_url == "https://autumn.corp.example/api"


def test_client_id_and_issuer_overrides() -> None:
    s = settings(
        {"ATMN_OAUTH_CLIENT_ID": " my-client ", "ATMN_OAUTH_ISSUER": "https://auth.example.com"}
    )
    assert (s.client_id, s.issuer) == ("my-client", "https://auth.example.com")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[::1", "is not a valid URL"),
        ("https://[zz]/", "is not a valid URL"),
        ("https://api.example.com:99999", "is not a valid URL"),
        ("https://api.example.com:80a", "is not a valid URL"),
        ("host:8080:1", "must be an http:// or https:// URL with a host"),
        ("http://host:8080:1", "is not a valid URL"),
        ("api.example.com", "must be an http:// or https:// URL with a host"),
        ("ftp://api.example.com", "must be an http:// or https:// URL with a host"),
        ("https://", "must be an http:// or https:// URL with a host"),
        ("https://:8080", "must be an http:// or https:// URL with a host"),
        ("https://api.example.com\r\nX-Evil: 1", "holds spaces or control characters"),
        ("https://api.example.com/\nevil", "holds spaces or control characters"),
        ("https://api.example.com/\x1b[2J", "holds spaces or control characters"),
        ("https://api example.com", "holds spaces or control characters"),
        ("https://api.example.com\t/", "holds spaces or control characters"),
        ("http://api.example.com", "is plain http"),
    ],
)
def test_a_bad_backend_url_is_a_one_line_usage_error(url: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        settings({"ATMN_BACKEND_URL": url})
    message = e.value.message
    assert message.startswith("ATMN_BACKEND_URL ")
    assert says in message
    assert one_line(message) and "\x1b" not in message
    assert e.value.exit_code == 2


def test_plain_http_names_the_way_out() -> None:
    with pytest.raises(UsageError, match="ATMN_ALLOW_INSECURE_HTTP=1"):
        settings({"ATMN_BACKEND_URL": "http://autumn.corp.example"})


def test_plain_http_is_accepted_when_allowed() -> None:
    env = {"ATMN_BACKEND_URL": "http://autumn.corp.example", "ATMN_ALLOW_INSECURE_HTTP": "1"}
    assert settings(env).backend_url == "http://autumn.corp.example"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080",
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://[::1]:8080",
        "http://autumn.localhost:8080",
        "https://api.example.com",
        "HTTPS://api.example.com",
    ],
)
def test_good_urls_pass(url: str) -> None:
    assert check_url(url, "ATMN_BACKEND_URL", {}) == url


def test_a_bad_issuer_is_refused_naming_the_issuer_variable() -> None:
    with pytest.raises(UsageError) as e:
        settings({"ATMN_OAUTH_ISSUER": "http://auth.example.com"})
    assert e.value.message.startswith("ATMN_OAUTH_ISSUER ")


def test_surrounding_whitespace_such_as_a_trailing_newline_is_ignored() -> None:
    assert settings({"ATMN_BACKEND_URL": "https://api.example.com/\n"}).backend_url == (
        "https://api.example.com"
    )


def test_empty_overrides_are_unset() -> None:
    s = settings({"ATMN_BACKEND_URL": "  ", "ATMN_OAUTH_ISSUER": "", "ATMN_OAUTH_CLIENT_ID": ""})
    assert (s.backend_url, s.issuer, s.client_id) == (HOSTED_BACKEND, None, CLIENT_ID)
