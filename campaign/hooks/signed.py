"""How a delivery is signed: HMAC-SHA256 with the endpoint's secret over `timestamp.body`, and
the secret itself, re-derived from its salt with SECRET_KEY (never stored)."""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "X-Campaign-Signature"
DELIVERY_HEADER = "X-Campaign-Delivery"
EVENT_HEADER = "X-Campaign-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def endpoint_secret(secret_key: str, salt: bytes) -> str:
    """The endpoint's signing secret: shown once to the organiser, re-derived to sign."""
    digest = hmac.new(secret_key.encode(), b"webhook:" + salt, hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver checks (the documented snippet does the same): the MAC, and a timestamp
    within `tolerance` seconds, so a captured request cannot be replayed later."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature_header(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
