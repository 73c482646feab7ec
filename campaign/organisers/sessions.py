"""Server-side sessions of organisers, in PostgreSQL (every process sees them).

The browser holds a random session id; the database holds only its SHA-256. A login always
issues a new id (a planted one never becomes a logged-in session); a session ends after 30
minutes unused or 12 hours after login, whichever comes first, and at logout on the server.
"""

from __future__ import annotations

import hashlib
import secrets

import asyncpg
import msgspec

from campaign.core.db import Q
from campaign.core.settings import Settings

IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 3600
_SECURE_NAME = "__Host-jc_admin"
# `__Host-` cookies must be Secure, which a browser refuses over plain http: in development the
# cookie goes without the prefix (still HttpOnly, SameSite=Strict, host-only, path /).
_PLAIN_NAME = "jc_admin"


class SessionUser(msgspec.Struct, frozen=True, kw_only=True):
    """The organiser behind a live session."""

    id: int
    email: str
    role: str


def secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def cookie_name(settings: Settings) -> str:
    return _SECURE_NAME if secure(settings) else _PLAIN_NAME


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def _looks_valid(session_id: str) -> bool:
    return 20 <= len(session_id) <= 100


async def start(conn: asyncpg.Connection, organiser_id: int) -> str:
    """A new session for the organiser; returns the id for the cookie (never stored)."""
    session_id = secrets.token_urlsafe(32)
    await conn.execute(
        Q["admin_create_session"], _hash(session_id), organiser_id, ABSOLUTE_SECONDS, IDLE_SECONDS
    )
    return session_id


async def resume(conn: asyncpg.Connection, session_id: str | None) -> SessionUser | None:
    """The organiser of a live session (and the session marked as used), or None."""
    if not session_id or not _looks_valid(session_id):
        return None
    row = await conn.fetchrow(Q["admin_touch_session"], _hash(session_id), IDLE_SECONDS)
    return None if row is None else SessionUser(id=row["id"], email=row["email"], role=row["role"])


async def end(conn: asyncpg.Connection, session_id: str | None) -> None:
    if session_id and _looks_valid(session_id):
        await conn.execute(Q["admin_delete_session"], _hash(session_id))
