"""How a server is set up: where its data lives, its issuer, lifetimes, disabled extensions,
and whether it answers as hosted Autumn does (`--hosted`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import platformdirs

#: Extensions `--disable` can turn off, to behave like hosted Autumn.
FEATURES = ("organizations", "metadata", "iss", "revoke-key", "bind", "device", "keys")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_CODE_TTL = 60.0
DEFAULT_ACCESS_TOKEN_TTL = 15 * 60
#: Hosted Autumn's lifetimes (Better Auth's oauth-provider): codes 600 s, access tokens 1 h.
HOSTED_CODE_TTL = 600.0
HOSTED_ACCESS_TOKEN_TTL = 3600
#: Where hosted Autumn's OAuth server lives under its backend URL: the issuer is
#: `{backend}{HOSTED_ISSUER_PATH}`.
HOSTED_ISSUER_PATH = "/api/auth"
#: Extensions the hosted profile never offers, whatever `--disable` says (contract §H).
HOSTED_OFF = frozenset({"organizations", "revoke-key", "device", "keys"})
#: RFC 8628: how long a device code and its user code live, and the polling interval.
DEFAULT_DEVICE_TTL = 600
DEFAULT_DEVICE_INTERVAL = 5
#: Failed sign-ins allowed per account and per browser session (per client address for
#: clients that are not on loopback) within the window (seconds).
DEFAULT_SIGN_IN_LIMIT = 10
DEFAULT_SIGN_IN_WINDOW = 300.0
#: Device authorization requests (RFC 8628) stored per client address within the window
#: (seconds): a login asks once; the outside test stored 3,000 in 30 s from one client.
DEFAULT_DEVICE_REQUEST_LIMIT = 20
DEFAULT_DEVICE_REQUEST_WINDOW = 60.0
#: Device requests that may wait for approval at once, from everyone (RFC 8628 §5.1: each
#: pending user code is one more a guess can hit).
DEFAULT_DEVICE_PENDING_LIMIT = 100


class Limits(TypedDict, total=False):
    """The device flow's lifetimes and the throttles' limits, as `ServerConfig` fields: what
    `autumn-local serve` passes on to `server.build` by name (those left out keep the
    defaults above)."""

    device_ttl: int
    device_interval: int
    sign_in_limit: int
    sign_in_window: float
    device_request_limit: int
    device_request_window: float
    device_pending_limit: int


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("autumn-local"))


@dataclass(frozen=True)
class ServerConfig:
    """`issuer` is the OAuth issuer; `base_url` the backend URL it lives under (the same
    URL for the full profile, `issuer` minus `/api/auth` for the hosted one)."""

    data_dir: Path
    issuer: str
    code_ttl: float = DEFAULT_CODE_TTL
    access_token_ttl: int = DEFAULT_ACCESS_TOKEN_TTL
    device_ttl: int = DEFAULT_DEVICE_TTL
    device_interval: int = DEFAULT_DEVICE_INTERVAL
    sign_in_limit: int = DEFAULT_SIGN_IN_LIMIT
    sign_in_window: float = DEFAULT_SIGN_IN_WINDOW
    device_request_limit: int = DEFAULT_DEVICE_REQUEST_LIMIT
    device_request_window: float = DEFAULT_DEVICE_REQUEST_WINDOW
    device_pending_limit: int = DEFAULT_DEVICE_PENDING_LIMIT
    disabled: frozenset[str] = field(default_factory=frozenset)
    #: Answer as hosted Autumn does (contract §H) instead of with the stand-in's extensions.
    hosted: bool = False
    base_url: str = ""

    def enabled(self, feature: str) -> bool:
        """Whether an extension is on: not `--disable`d, and not one the hosted profile
        lacks. `metadata`, `iss` and `bind` stay as `--disable` says on both profiles."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}")
        if self.hosted and feature in HOSTED_OFF:
            return False
        return feature not in self.disabled

    @property
    def backend_url(self) -> str:
        return self.base_url or self.issuer
