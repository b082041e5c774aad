"""Random secrets handed out once (session ids, reset links, client secrets, access tokens)
and the digests kept in the database instead of them.

Every secret here carries 256 random bits, so a plain SHA-256 is enough to make a stolen
table worthless; a slow password hash would only slow down every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
