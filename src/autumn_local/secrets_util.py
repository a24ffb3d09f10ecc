"""Random identifiers, secret keys, hashing and redaction."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import threading
from concurrent.futures import ThreadPoolExecutor

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


#: How many scrypt computations may run at once: each takes ~16 MiB, so parallel sign-ins
#: queue here instead of growing the server's memory without bound.
HASH_SLOTS = 2


class HashPool:
    """Password hashes computed on `slots` worker threads of their own, never more at once.

    Dedicated threads, not a semaphore around the request threads: the C library keeps
    each thread's freed 16 MiB for that thread (its malloc arena), so hashing on many
    request threads in turn would still grow memory with the number of threads.
    `running` and `peak` count hashes in progress.
    """

    def __init__(self, slots: int = HASH_SLOTS) -> None:
        self.slots = slots
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.running = 0
        self.peak = 0

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.slots, thread_name_prefix="scrypt")
            return self._executor

    def _scrypt(self, password: bytes, salt: bytes) -> bytes:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return hashlib.scrypt(
                password, salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
            )
        finally:
            with self._lock:
                self.running -= 1

    def scrypt(self, password: str, salt: bytes) -> bytes:
        secret = password.encode("utf-8", "surrogatepass")
        return self._pool().submit(self._scrypt, secret, salt).result()


#: The one pool every password hash in this process goes through.
HASHING = HashPool()


def hash_password(password: str, salt_hex: str | None = None) -> tuple[str, str]:
    """(salt hex, scrypt hash hex) for `password`; a fresh random salt unless one is given."""
    salt = bytes.fromhex(salt_hex) if salt_hex else secrets.token_bytes(16)
    return salt.hex(), HASHING.scrypt(password, salt).hex()


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
