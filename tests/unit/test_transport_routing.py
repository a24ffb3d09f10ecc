"""Which proxy a request goes through, read from the environment as curl and urllib do."""

from __future__ import annotations

import httpx2
import pytest

from atmn_auth.api.transport import proxies_from, proxy_for, shown_proxy


def route(url: str, **environ: str) -> str | None:
    return proxy_for(httpx2.URL(url), proxies_from(environ))


def test_no_proxy_variables_means_direct() -> None:
    assert route("https://api.example.com/") is None


def test_https_proxy_is_used_for_https() -> None:
    assert route("https://api.example.com/", HTTPS_PROXY="http://proxy:3128") == (
        "http://proxy:3128"
    )


def test_http_proxy_is_used_for_http_only() -> None:
    env = {"HTTP_PROXY": "http://plain:3128"}
    assert route("http://api.example.com/", **env) == "http://plain:3128"
    assert route("https://api.example.com/", **env) is None


def test_https_proxy_is_not_used_for_http() -> None:
    assert route("http://api.example.com/", HTTPS_PROXY="http://secure:3128") is None


def test_all_proxy_is_the_fallback() -> None:
    env = {"ALL_PROXY": "http://all:1080", "HTTP_PROXY": "http://plain:3128"}
    assert route("https://api.example.com/", **env) == "http://all:1080"
    assert route("http://api.example.com/", **env) == "http://plain:3128"


def test_lowercase_wins_over_uppercase() -> None:
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}
    assert route("https://api.example.com/", **env) == "http://lower:1"


def test_an_empty_lowercase_value_leaves_the_uppercase_one() -> None:
    env = {"https_proxy": "", "HTTPS_PROXY": "http://upper:2"}
    assert route("https://api.example.com/", **env) == "http://upper:2"


def test_a_proxy_without_a_scheme_is_http() -> None:
    assert route("https://api.example.com/", HTTPS_PROXY="proxy.corp:3128") == (
        "http://proxy.corp:3128"
    )


@pytest.mark.parametrize(
    ("no_proxy", "host", "direct"),
    [
        ("example.com", "api.example.com", True),
        (".example.com", "api.example.com", True),
        ("example.com", "example.com", True),
        ("example.com", "badexample.com", False),
        ("other.org, example.com", "api.example.com", True),
        ("*", "anything.example.net", True),
        ("api.example.com:8443", "api.example.com:8443", True),
        ("api.example.com:8443", "api.example.com", False),
        ("other.org", "api.example.com", False),
    ],
)
def test_no_proxy(no_proxy: str, host: str, direct: bool) -> None:
    got = route(f"https://{host}/", HTTPS_PROXY="http://proxy:3128", NO_PROXY=no_proxy)
    assert (got is None) is direct


def test_lowercase_no_proxy_wins() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "other.org", "NO_PROXY": "*"}
    assert route("https://api.example.com/", **env) == "http://proxy:3128"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/",
        "http://LOCALHOST:8080/",
        "http://127.0.0.1:8080/",
        "http://127.0.0.5/",
        "http://[::1]:8080/",
        "http://foo.localhost/",
        "https://localhost/",
    ],
)
def test_this_machine_is_never_proxied(url: str) -> None:
    env = {"HTTP_PROXY": "http://p:1", "HTTPS_PROXY": "http://p:1", "ALL_PROXY": "http://p:1"}
    assert route(url, **env) is None


def test_shown_proxy_hides_credentials() -> None:
    shown = shown_proxy("http://alice:s3cret@proxy.corp:3128")
    assert shown == "http://proxy.corp:3128"
    assert "s3cret" not in shown_proxy("alice:s3cret@proxy.corp:3128")
