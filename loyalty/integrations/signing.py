"""Webhook signatures: X-Loyalty-Signature = "sha256=" + hex HMAC-SHA256(secret, f"{ts}.{body}").

The receiver's side of this (the recipe in docs/api.md) is `signature_verify`; a test proves the
documented snippet accepts a real delivery.
"""

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


def signature_make(*, secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_verify(
    *, secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> bool:
    """True when `signature` signs `body` at `timestamp` and the timestamp is recent."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    expected = signature_make(secret=secret, timestamp=timestamp, body=body)
    return age <= TOLERANCE_SECONDS and hmac.compare_digest(expected, signature)
