"""Tokens sent in email links.

The database never holds a token: only its SHA-256 (to find it) and a random salt. The token is
HMAC(secret key, salt), so the mail worker can rebuild it when it renders the message, and a copy of
the database alone cannot produce a working link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TypeVar

import asyncpg

from campaign.core.db import convert

T = TypeVar("T")

SALT_BYTES = 16  # 128 bits from `secrets`: the entropy of the token


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def derive(secret_key: str, salt: bytes) -> str:
    digest = hmac.new(secret_key.encode(), b"token:" + salt, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def looks_like_token(text: str) -> bool:
    """43 URL-safe base64 characters; anything else is rejected before touching the database."""
    return len(text) == 43 and all(c.isalnum() or c in "-_" for c in text)


def issue(secret_key: str) -> tuple[bytes, bytes]:
    """A new token's salt and the SHA-256 of the token: all the database keeps of it."""
    salt = new_salt()
    return salt, token_hash(derive(secret_key, salt))


async def find(conn: asyncpg.Connection, query: str, token: str, type_: type[T]) -> T | None:
    """The row a link's token points at (`query` takes the token's hash), as `type_`; None for a
    malformed or unknown token."""
    if not looks_like_token(token):
        return None
    row = await conn.fetchrow(query, token_hash(token))
    return None if row is None else convert(row, type_)
