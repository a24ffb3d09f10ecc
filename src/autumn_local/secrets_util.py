"""Random identifiers, secret keys, hashing and redaction."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

KEY_PREFIXES = {"sandbox": "am_sk_test_", "live": "am_sk_live_"}
KEY_BODY_LENGTH = 42
KEY_PATTERN = re.compile(r"^am_sk_(test|live)_[A-Za-z0-9]{42}$")
_ALPHANUMERIC = string.ascii_letters + string.digits

# scrypt cost: ~16 MiB and a few tens of milliseconds per check.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def new_id(prefix: str) -> str:
    """`org_3kTq…`: a prefix and 24 random letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(24))


def new_secret_key(env: str) -> str:
    """A secret key: `am_sk_test_`/`am_sk_live_` and 42 random letters and digits."""
    body = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(KEY_BODY_LENGTH))
    return KEY_PREFIXES[env] + body


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str, salt_hex: str | None = None) -> tuple[str, str]:
    """(salt hex, scrypt hash hex) for `password`; a fresh random salt unless one is given."""
    salt = bytes.fromhex(salt_hex) if salt_hex else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return salt.hex(), digest.hex()


def check_password(password: str, salt_hex: str, hash_hex: str) -> bool:
    _, candidate = hash_password(password, salt_hex)
    return hmac.compare_digest(candidate, hash_hex)


def redact(secret: str) -> str:
    """Prefix and last 4 characters: `am_sk_test_…Ab12`."""
    for prefix in KEY_PREFIXES.values():
        if secret.startswith(prefix):
            return f"{prefix}…{secret[-4:]}"
    if len(secret) < 16:
        return "****"
    return f"{secret[:4]}…{secret[-4:]}"
