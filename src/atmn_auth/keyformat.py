"""Autumn secret keys (contract §3): their formats, the variables that hold them, and how
to show one without showing it."""

from __future__ import annotations

import re
from pathlib import Path
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


def redact(secret: str | None) -> str:
    """`am_sk_test_…Ab12` for keys; `abcd…wxyz`-style prefix and last 4 for anything else.

    Short values are fully masked: showing 8 of 10 characters would not hide them.
    """
    if not secret:
        return "(none)"
    for prefix in PREFIXES.values():
        if secret.startswith(prefix) and len(secret) >= len(prefix) + 12:
            return f"{prefix}…{_shown(secret[-4:])}"
    if len(secret) < 16:
        return "****"
    return f"{_shown(secret[:4])}…{_shown(secret[-4:])}"


#: Anything shaped like an Autumn key, well formed or not (a key typed one character
#: short is still all but a whole key).
_KEY_LIKE = re.compile(r"am_sk_(?:test|live)_[A-Za-z0-9]{8,}")


def redact_keys_in(text: str) -> str:
    """`text` with every Autumn key in it shown as `redact` shows one."""
    return _KEY_LIKE.sub(lambda match: redact(match.group(0)), text)


def _shown(part: str) -> str:
    """`part` of a value as it may reach a terminal: a malformed key (a pasted escape
    sequence, a newline) shows `?` for every character that is not printable ASCII."""
    return "".join(ch if "!" <= ch <= "~" else "?" for ch in part)


def key_name(env_file: Path) -> str:
    """What a login calls the keys it mints: `atmn: <project directory> on <hostname>`,
    so a list of keys tells which machine and project each one serves."""
    import socket

    project = env_file.resolve().parent.name or str(env_file.resolve().parent)
    host = socket.gethostname().split(".")[0] or "this machine"
    return f"atmn: {project} on {host}"
