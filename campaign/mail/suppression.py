"""The suppression list: addresses that asked never to be emailed again, by any campaign.

The database keeps only the SHA-256 of the normalised address, and checks it whenever a message
is queued (trigger `outbox_suppress`, migration 0007): every kind of email except the ones that
answer what the address itself just asked for (the confirmation link, « already signed »).

The opt-out link carries that hash sealed with `SECRET_KEY` (below): it needs no row of its own
(it works after any purge), names nobody in the URL, cannot be forged for an address one does not
receive mail at, and — unlike a bare hash — lets nobody who sees it test guesses of the address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import asyncpg

from campaign.core.db import Q

SOURCES = ("invitation", "mailing", "organiser", "import")


def address_hash(address: str) -> bytes:
    """What the list keeps of an address (the same as SQL's `email_hash`)."""
    return hashlib.sha256(address.strip().lower().encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


def _mac(secret_key: str, purpose: bytes, data: bytes) -> bytes:
    return hmac.new(secret_key.encode(), purpose + data, hashlib.sha256).digest()


def _signature(secret_key: str, digest: bytes) -> str:
    return _b64(_mac(secret_key, b"optout:", digest)[:16])


def opt_out_token(secret_key: str, address: str) -> str:
    """The link's token: the address hash encrypted under `SECRET_KEY`, deterministically (SIV):
    `tag` = HMAC(key, hash) cut to 16 bytes, then the hash XOR HMAC(key, tag). 64 characters; the
    tag authenticates it. (Before, the link carried the bare hash: `read_token` still accepts
    those links, which are in mailboxes already, but none is made any more.)"""
    digest = address_hash(address)
    tag = _mac(secret_key, b"optout-tag:", digest)[:16]
    pad = _mac(secret_key, b"optout-pad:", tag)
    return _b64(tag + bytes(a ^ b for a, b in zip(digest, pad, strict=True)))


def read_token(secret_key: str, token: str) -> bytes | None:
    """The address hash an opt-out token stands for; None if it is malformed or forged."""
    if len(token) > 80 or not all(c.isalnum() or c in "-_." for c in token):
        return None
    if "." in token:
        return _read_legacy_token(secret_key, token)
    raw = _unb64(token)
    if raw is None or len(raw) != 48:
        return None
    tag, sealed = raw[:16], raw[16:]
    pad = _mac(secret_key, b"optout-pad:", tag)
    digest = bytes(a ^ b for a, b in zip(sealed, pad, strict=True))
    if not hmac.compare_digest(tag, _mac(secret_key, b"optout-tag:", digest)[:16]):
        return None
    return digest


def _read_legacy_token(secret_key: str, token: str) -> bytes | None:
    """A link made before the hash was sealed: `hash.signature` (both base64)."""
    if token.count(".") != 1:
        return None
    encoded, signature = token.split(".")
    digest = _unb64(encoded)
    if digest is None or len(digest) != 32:
        return None
    if not hmac.compare_digest(signature, _signature(secret_key, digest)):
        return None
    return digest


async def suppress(conn: asyncpg.Connection, digest: bytes, source: str) -> bool:
    """Adds the address to the list and cancels what is still queued for it (except messages it
    asked for); True if it was not on the list yet. One transaction."""
    async with conn.transaction():
        added: bool = await conn.fetchval(Q["suppression_add"], digest, source)
        await conn.execute(Q["suppression_cancel_queued"], digest)
    return added


async def is_suppressed(conn: asyncpg.Connection, address: str) -> bool:
    found: bool = await conn.fetchval(Q["suppression_exists"], address_hash(address))
    return found


async def count(conn: asyncpg.Connection) -> int:
    n: int = await conn.fetchval(Q["suppression_count"])
    return n
