"""`Session`: the size cap, the timeout setting, plain-http refusal, and network failures
turned into one-line errors naming the host."""

from __future__ import annotations

import ssl

import httpx2
import pytest

from atmn_auth.api.session import USER_AGENT, Session
from atmn_auth.errors import (
    BackendUnreachable,
    BodyTooLarge,
    TLSVerificationError,
    UsageError,
)

from .helpers import Backend, one_line, raises, reply

MIB = 1 << 20
URL = "https://api.example.com/v1/organization/me"
PATH = ("GET", "/v1/organization/me")


def get(backend: Backend, url: str = URL, environ: dict[str, str] | None = None) -> httpx2.Response:
    with backend.session(environ) as session:
        return session.request("GET", url)


# --- the size cap ------------------------------------------------------------------------


def test_an_answer_over_one_mebibyte_is_refused() -> None:
    backend = Backend({PATH: reply(200, content=b"x" * (MIB + 1))})
    with pytest.raises(BodyTooLarge) as e:
        get(backend)
    assert "api.example.com sent an answer over 1048576 bytes" in e.value.message
    assert e.value.status == 200


def test_an_answer_of_exactly_one_mebibyte_is_read() -> None:
    backend = Backend({PATH: reply(200, content=b"x" * MIB)})
    assert len(get(backend).content) == MIB


def test_a_streamed_answer_is_cut_off_at_the_cap() -> None:
    def endless(request: httpx2.Request) -> httpx2.Response:
        def chunks():  # type: ignore[no-untyped-def]
            while True:
                yield b"{" * 65536

        return httpx2.Response(200, content=chunks())

    with pytest.raises(BodyTooLarge):
        get(Backend({PATH: endless}))


def test_answers_are_asked_for_uncompressed_as_json_by_atmn() -> None:
    backend = Backend({PATH: reply(200, {})})
    get(backend)
    headers = backend.requests[0].headers
    assert headers["accept-encoding"] == "identity"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"] == USER_AGENT


# --- ATMN_HTTP_TIMEOUT -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "1e999", "10s"])
def test_a_bad_timeout_setting_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError) as e:
        Session({"ATMN_HTTP_TIMEOUT": value}, transport=httpx2.MockTransport(reply(200)))
    assert "ATMN_HTTP_TIMEOUT must be a positive number of seconds" in e.value.message
    assert repr(value) in e.value.message
    assert e.value.exit_code == 2


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_timeout_setting_is_the_default(value: str) -> None:
    with Session({"ATMN_HTTP_TIMEOUT": value}, timeout=7.0) as session:
        assert session.timeout == 7.0


def test_the_timeout_setting_overrides_every_call() -> None:
    seen: list[object] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.extensions["timeout"]["read"])
        return httpx2.Response(200)

    with Session({"ATMN_HTTP_TIMEOUT": "2.5"}, transport=httpx2.MockTransport(record)) as s:
        s.request("GET", URL)
        s.request("GET", URL, timeout=5.0)
    assert seen == [2.5, 2.5]


# --- plain http --------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [None, "", "0", "false", "no", "off"])
def test_plain_http_to_another_host_is_refused_before_anything_is_sent(flag: str | None) -> None:
    backend = Backend({PATH: reply(200, {})})
    environ = {} if flag is None else {"ATMN_ALLOW_INSECURE_HTTP": flag}
    with pytest.raises(UsageError) as e:
        get(backend, "http://api.example.com/v1/organization/me", environ)
    assert "ATMN_ALLOW_INSECURE_HTTP=1" in e.value.message
    assert "api.example.com:80" in e.value.message
    assert backend.requests == []


@pytest.mark.parametrize("flag", ["1", "true", "yes"])
def test_plain_http_is_allowed_when_the_user_says_so(flag: str) -> None:
    backend = Backend({PATH: reply(200, {})})
    get(backend, "http://api.example.com/v1/organization/me", {"ATMN_ALLOW_INSECURE_HTTP": flag})
    assert len(backend.requests) == 1


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "127.0.0.5", "[::1]", "app.localhost", "LOCALHOST"]
)
def test_plain_http_to_this_machine_is_allowed(host: str) -> None:
    backend = Backend({PATH: reply(200, {})})
    get(backend, f"http://{host}:8080/v1/organization/me")
    assert len(backend.requests) == 1


@pytest.mark.parametrize("host", ["localhost.evil.example", "127.0.0.1.nip.io", "[::2]"])
def test_hosts_that_only_look_local_are_refused(host: str) -> None:
    backend = Backend({PATH: reply(200, {})})
    with pytest.raises(UsageError):
        get(backend, f"http://{host}/v1/organization/me")
    assert backend.requests == []


# --- network failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (URL, "api.example.com:443"),
        ("http://localhost/v1/organization/me", "localhost:80"),
        ("http://[::1]:8080/v1/organization/me", "[::1]:8080"),
    ],
)
def test_a_refused_connection_names_host_and_port(url: str, where: str) -> None:
    backend = Backend({PATH: raises(httpx2.ConnectError, "connection refused")})
    with pytest.raises(BackendUnreachable) as e:
        get(backend, url)
    assert e.value.message.startswith(f"cannot reach {where} (connection refused). ")
    local = where.startswith(("127.", "localhost", "[::1]"))
    hint = "Start it with `autumn-local serve`." if local else "set HTTPS_PROXY."
    assert e.value.message.endswith(hint)
    assert e.value.timed_out is False
    assert not isinstance(e.value, TLSVerificationError)


@pytest.mark.parametrize(
    "error", [httpx2.ReadTimeout, httpx2.ConnectTimeout, httpx2.WriteTimeout, httpx2.PoolTimeout]
)
def test_a_timeout_is_told_apart(error: type[httpx2.TimeoutException]) -> None:
    backend = Backend({PATH: raises(error, "timed out")})
    with pytest.raises(BackendUnreachable) as e:
        get(backend)
    assert e.value.timed_out is True
    assert e.value.message.startswith("api.example.com:443 did not answer in time")


def test_a_refusing_proxy_is_named_as_the_proxy() -> None:
    backend = Backend({PATH: raises(httpx2.ProxyError, "407 Proxy Authentication Required")})
    with pytest.raises(BackendUnreachable) as e:
        get(backend)
    assert "the proxy" in e.value.message
    assert "would not connect to api.example.com:443" in e.value.message


def test_an_unverifiable_certificate_says_how_to_trust_a_ca() -> None:
    def bad_cert(request: httpx2.Request) -> httpx2.Response:
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause.verify_message = "self-signed certificate in certificate chain"
        raise httpx2.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]", request=request) from cause

    with pytest.raises(TLSVerificationError) as e:
        get(Backend({PATH: bad_cert}))
    message = e.value.message
    assert "cannot verify the TLS certificate of api.example.com:443" in message
    assert "self-signed certificate in certificate chain" in message
    assert "SSL_CERT_FILE=" in message
    assert one_line(message)


def test_an_os_error_reads_as_words() -> None:
    def refused(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("x", request=request) from ConnectionRefusedError(
            111, "Connection refused"
        )

    with pytest.raises(BackendUnreachable) as e:
        get(Backend({PATH: refused}))
    assert e.value.message == (
        "cannot reach api.example.com:443 (connection refused). "
        "Check your connection; behind a proxy, set HTTPS_PROXY."
    )


def test_a_hostile_error_text_stays_one_line() -> None:
    backend = Backend({PATH: raises(httpx2.ConnectError, "bad\r\n\x1b[2Jthing")})
    with pytest.raises(BackendUnreachable) as e:
        get(backend)
    assert one_line(e.value.message) and "\x1b" not in e.value.message


@pytest.mark.parametrize("url", ["https://[::1", "https://[zz]/x", "https://a\nb/"])
def test_a_malformed_url_is_a_usage_error(url: str) -> None:
    backend = Backend()
    with pytest.raises(UsageError):
        get(backend, url)
    assert backend.requests == []
