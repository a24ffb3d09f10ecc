"""The pairing code the consent page shows, so a person can match it with their terminal."""

from __future__ import annotations

import base64
import hashlib


def pairing_code(state: str) -> str:
    """The pairing code for an authorization request's `state`, as `XXXX-XXXX`.

    Contract §1: "The consent page shows a pairing code derived from the request's
    `state`: the first 8 characters of the unpadded base32 of SHA-256(state), shown as
    `XXXX-XXXX`. The CLI shows the same code, so a person can see that the page belongs
    to the sign-in their terminal started."

    Base32 is RFC 4648's alphabet (uppercase A-Z, 2-7); `state` is hashed as UTF-8.
    """
    digest = hashlib.sha256(state.encode("utf-8")).digest()
    letters = base64.b32encode(digest).decode("ascii").rstrip("=")[:8]
    return f"{letters[:4]}-{letters[4:]}"
