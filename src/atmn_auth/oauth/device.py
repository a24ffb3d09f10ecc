"""The device authorization grant (RFC 8628, contract §6): sign in on another device.

For machines whose browser cannot reach this one's loopback port (SSH, containers,
Codespaces, WSL): `start` asks the server for a user code, the person enters it at the
verification address on any device, and `poll` asks the token endpoint at the server's
interval until they approve or deny or the code expires. PKCE is used where the server
supports it. Every request goes through the command's `Session`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from atmn_auth.api.session import Session, json_object, server_message
from atmn_auth.errors import AtmnError, OAuthFlowError
from atmn_auth.oauth.pkce import ServerInfo, Tokens, tokens_from
from atmn_auth.settings import SCOPES, Settings
from atmn_auth.text import printable

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5: each slow_down adds 5 seconds to the interval


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the server answered: the code to show, where to enter it, how long to poll."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float
    verifier: str | None

    def __repr__(self) -> str:  # the device code is a bearer secret until it is used
        return f"DeviceAuthorization(user_code={self.user_code!r}, expires_in={self.expires_in})"


def start(
    settings: Settings, session: Session, server: ServerInfo, *, organization: str | None
) -> DeviceAuthorization:
    """Asks for a user code (`organization` is preselected on the verification page)."""
    endpoint = server.device_authorization_endpoint
    if endpoint is None:
        raise OAuthFlowError("this server does not offer signing in with a code (RFC 8628)")
    form = {"client_id": settings.client_id, "scope": " ".join(SCOPES)}
    verifier = None
    if server.pkce_supported:
        from authlib.common.security import generate_token
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        verifier = generate_token(48)
        form |= {"code_challenge": create_s256_code_challenge(verifier)}
        form |= {"code_challenge_method": "S256"}
    if organization:
        form["organization"] = organization
    response = session.request("POST", endpoint, data=form)
    if response.status_code != 200:
        raise OAuthFlowError(
            f"the server refused to start a sign-in with a code: {server_message(response)}"
        )
    data = json_object(response, "the device authorization answer")
    device_code, user_code = data.get("device_code"), data.get("user_code")
    uri, complete = data.get("verification_uri"), data.get("verification_uri_complete")
    if not (isinstance(device_code, str) and device_code and isinstance(user_code, str)):
        raise OAuthFlowError("the device authorization answer has no device or user code")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise OAuthFlowError("the device authorization answer has no verification address")
    return DeviceAuthorization(
        device_code=device_code,
        user_code=printable(user_code, 20),
        verification_uri=printable(uri, 300),
        verification_uri_complete=printable(complete, 300) if isinstance(complete, str) else None,
        expires_in=_number(data.get("expires_in"), 600.0),
        interval=_number(data.get("interval"), 5.0),
        verifier=verifier,
    )


def poll(
    settings: Settings,
    session: Session,
    server: ServerInfo,
    device: DeviceAuthorization,
    *,
    tick: Callable[[float], None] = lambda left: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Tokens:
    """Polls the token endpoint until the person approves (tokens), denies or the code
    expires (`OAuthFlowError`). `tick` is called with the seconds left while waiting.
    Ctrl-C (KeyboardInterrupt) ends it at once."""
    deadline = clock() + device.expires_in
    interval = device.interval
    form = {"grant_type": DEVICE_GRANT, "device_code": device.device_code}
    form["client_id"] = settings.client_id
    if device.verifier:
        form["code_verifier"] = device.verifier
    while True:
        due = clock() + interval
        while (now := clock()) < due:
            if now >= deadline:
                raise _expired(device)
            tick(deadline - now)
            sleep(min(0.1, due - now))
        if clock() >= deadline:
            raise _expired(device)
        try:
            response = session.request("POST", server.token_endpoint, data=form)
        except AtmnError as exc:
            message = f"asking whether the code was approved failed: {exc.message}"
            raise OAuthFlowError(message) from None
        if response.status_code == 200:
            return tokens_from(json_object(response, "the token answer"))
        error = _error_of(response)
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
            continue
        if error == "access_denied":
            raise OAuthFlowError(f"the sign-in with code {device.user_code} was denied")
        if error == "expired_token":
            raise _expired(device)
        raise OAuthFlowError(f"the token endpoint answered {server_message(response)}")


def _expired(device: DeviceAuthorization) -> OAuthFlowError:
    return OAuthFlowError(
        f"the code {device.user_code} expired before it was approved; run the login again "
        "for a new one"
    )


def _error_of(response: Any) -> str | None:
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return None
    error = data.get("error") if isinstance(data, Mapping) else None
    return error if isinstance(error, str) else None


def _number(value: object, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 86400:
        return float(value)
    return default
