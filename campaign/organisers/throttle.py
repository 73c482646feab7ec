"""Login throttling, shared by every process (PostgreSQL).

Failures are counted per (account, address) pair and per address. Past a free allowance each
failure delays the next attempt (doubling, capped): a guesser slows down, and a stranger cannot
lock an organiser out, since their failures never delay the organiser's own (account, address)
pair. Keys are hashed: the table holds neither addresses nor the emails people typed.
"""

from __future__ import annotations

import hashlib

import asyncpg

from campaign.core.db import Q

PAIR_FREE = 5
ADDRESS_FREE = 20
FIRST_DELAY = 2.0
MAX_DELAY = 15 * 60.0
FORGET_AFTER = 3600.0


def _key(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"{kind}:{value}".encode()).digest()


def keys(email: str, address: str) -> tuple[bytes, bytes]:
    """(pair key, address key)."""
    return _key("pair", f"{email}|{address}"), _key("addr", address)


async def wait_seconds(conn: asyncpg.Connection, email: str, address: str) -> int:
    """Seconds to wait before trying again (0: go ahead)."""
    wait: int = await conn.fetchval(Q["admin_throttle_wait"], list(keys(email, address)))
    return wait


async def failed(conn: asyncpg.Connection, email: str, address: str) -> None:
    pair, addr = keys(email, address)
    for key, free in ((pair, PAIR_FREE), (addr, ADDRESS_FREE)):
        await conn.execute(
            Q["admin_throttle_fail"], key, free, FIRST_DELAY, MAX_DELAY, FORGET_AFTER
        )


async def succeeded(conn: asyncpg.Connection, email: str, address: str) -> None:
    """A good password clears the pair's failures (not the address's: others share it)."""
    await conn.execute(Q["admin_throttle_clear"], keys(email, address)[0])
