"""The device flow's polling (RFC 8628 §3.4-3.5), against a scripted token endpoint and a
fake clock: it waits the server's interval, slows down by 5 s when told, and ends with
one clear line on denial or expiry. (The stand-in's own answers are tested end to end in
tests/server/test_device.py and tests/login/test_device_login.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from atmn_auth.errors import OAuthFlowError
from atmn_auth.oauth import device
from atmn_auth.oauth.pkce import ServerInfo
from atmn_auth.settings import load_settings

from .helpers import Backend

TOKEN = "/api/auth/oauth2/token"
SERVER = ServerInfo(
    issuer="https://api.example.com",
    authorization_endpoint="https://api.example.com/api/auth/oauth2/authorize",
    token_endpoint="https://api.example.com" + TOKEN,
    revocation_endpoint=None,
    iss_supported=False,
    device_authorization_endpoint="https://api.example.com/api/auth/oauth2/device",
)
SETTINGS = load_settings(prod=False, local=False, environ={})
STARTED = device.DeviceAuthorization(
    device_code="dev-secret-code",
    user_code="WDJB-MJHT",
    verification_uri="https://api.example.com/device",
    verification_uri_complete="https://api.example.com/device?user_code=WDJB-MJHT",
    expires_in=60,
    interval=5,
    verifier="v" * 48,
)
TOKENS = {"access_token": "at-123", "token_type": "Bearer", "refresh_token": "rt-456"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def answers(*bodies: tuple[int, dict[str, str]]) -> tuple[Backend, list[float]]:
    """A token endpoint giving `bodies` in turn; the clock times of the polls it saw."""
    clock_times: list[float] = []
    queue: Iterator[tuple[int, dict[str, str]]] = iter(bodies)

    def reply(request: httpx2.Request) -> httpx2.Response:
        clock_times.append(CLOCK.now)
        status, body = next(queue)
        return httpx2.Response(status, json=body)

    return Backend({("POST", TOKEN): reply}), clock_times


CLOCK = Clock()


def run(backend: Backend) -> device.Tokens:
    with backend.session() as session:
        return device.poll(SETTINGS, session, SERVER, STARTED, clock=CLOCK, sleep=CLOCK.sleep)


@pytest.fixture(autouse=True)
def _fresh_clock() -> None:
    CLOCK.now = 1000.0


def test_it_waits_the_interval_and_takes_the_tokens() -> None:
    backend, polls = answers(
        (400, {"error": "authorization_pending"}),
        (400, {"error": "authorization_pending"}),
        (200, TOKENS),
    )
    tokens = run(backend)
    assert tokens.access_token == "at-123" and tokens.refresh_token == "rt-456"
    assert [round(t - 1000, 1) for t in polls] == [5.0, 10.0, 15.0]
    form = dict(httpx2.QueryParams(backend.requests[0].content.decode()))
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert form["device_code"] == "dev-secret-code" and form["code_verifier"] == "v" * 48


def test_slow_down_adds_five_seconds_to_every_later_wait() -> None:
    backend, polls = answers(
        (400, {"error": "slow_down"}), (400, {"error": "authorization_pending"}), (200, TOKENS)
    )
    run(backend)
    gaps = [round(b - a, 1) for a, b in zip([1000.0, *polls], polls, strict=False)]
    assert gaps == [5.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("error", "said"),
    [("access_denied", "WDJB-MJHT was denied"), ("expired_token", "WDJB-MJHT expired")],
)
def test_denial_and_expiry_end_it_in_one_line(error: str, said: str) -> None:
    backend, _ = answers((400, {"error": "authorization_pending"}), (400, {"error": error}))
    with pytest.raises(OAuthFlowError, match=said) as failure:
        run(backend)
    assert "\n" not in failure.value.message
    assert "dev-secret-code" not in failure.value.message


def test_it_stops_at_the_code_lifetime_without_a_server_verdict() -> None:
    backend, polls = answers(*[(400, {"error": "authorization_pending"})] * 20)
    with pytest.raises(OAuthFlowError, match="expired before it was approved"):
        run(backend)
    assert len(polls) == 11  # every 5 s up to the 60 s lifetime, then no more
    assert polls[-1] - 1000 <= 60
