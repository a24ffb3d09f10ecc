"""Autumn secret-key formats (contract §3)."""

from __future__ import annotations

import re
from typing import Literal

KeyKind = Literal["sandbox", "live"]

SANDBOX_PREFIX = "am_sk_test_"
LIVE_PREFIX = "am_sk_live_"
PREFIXES: dict[KeyKind, str] = {"sandbox": SANDBOX_PREFIX, "live": LIVE_PREFIX}

SANDBOX_VAR = "AUTUMN_SECRET_KEY"
LIVE_VAR = "AUTUMN_PROD_SECRET_KEY"
KEY_VARS: dict[KeyKind, str] = {"sandbox": SANDBOX_VAR, "live": LIVE_VAR}

_KEY_RE = re.compile(r"am_sk_(test|live)_[A-Za-z0-9]{42}")


def key_kind(key: str) -> KeyKind | None:
    """The kind a well-formed key is, or None when it is not an Autumn secret key."""
    match = _KEY_RE.fullmatch(key)
    if not match:
        return None
    return "sandbox" if match.group(1) == "test" else "live"


def is_valid_key(key: str, kind: KeyKind) -> bool:
    return key_kind(key) == kind
