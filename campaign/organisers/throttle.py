"""Login throttling, shared by every process (PostgreSQL).

Failures are counted per (account, address) pair, per address, and per account whatever the
address. Past a free allowance each failure delays the next attempt (doubling, capped): a guesser
slows down. The pair's allowance is small; the account's is larger and its delay capped lower, so
a guesser rotating addresses gets a few tries a minute at most, while a stranger can at worst
make the organiser wait a minute or two. The answer is the same for an account that does not
exist (the key is the address typed). Keys are hashed: the table holds neither addresses nor the
emails people typed.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import asyncpg

from campaign.core.db import Q

PAIR_FREE = 5
ADDRESS_FREE = 20
FIRST_DELAY = 2.0
MAX_DELAY = 15 * 60.0
ACCOUNT_FREE = 10
ACCOUNT_MAX_DELAY = 120.0
FORGET_AFTER = 3600.0


def _key(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"{kind}:{value}".encode()).digest()


def keys(email: str, address: str) -> tuple[bytes, bytes, bytes]:
    """(pair key, address key, account key)."""
    return _key("pair", f"{email}|{address}"), _key("addr", address), _key("acct", email)


async def wait_seconds(conn: asyncpg.Connection, email: str, address: str) -> int:
    """Seconds to wait before trying again (0: go ahead)."""
    wait: int = await conn.fetchval(Q["admin_throttle_wait"], list(keys(email, address)))
    return wait


async def failed(conn: asyncpg.Connection, email: str, address: str) -> None:
    pair, addr, account = keys(email, address)
    for key, free, longest in (
        (pair, PAIR_FREE, MAX_DELAY),
        (addr, ADDRESS_FREE, MAX_DELAY),
        (account, ACCOUNT_FREE, ACCOUNT_MAX_DELAY),
    ):
        await conn.execute(Q["admin_throttle_fail"], key, free, FIRST_DELAY, longest, FORGET_AFTER)


async def succeeded(conn: asyncpg.Connection, email: str, address: str) -> None:
    """A good password clears the pair's failures (not the address's: others share it; not the
    account's: a guesser elsewhere is still guessing)."""
    await conn.execute(Q["admin_throttle_clear"], keys(email, address)[0])


_checking: set[bytes] = set()  # accounts whose password this process is checking right now


@contextlib.contextmanager
def one_at_a_time(email: str) -> Iterator[bool]:
    """False while this process already checks a password for `email`: concurrent guesses would
    all pass `wait_seconds` before the first failure is recorded."""
    key = _key("acct", email)
    if key in _checking:
        yield False
        return
    _checking.add(key)
    try:
        yield True
    finally:
        _checking.discard(key)
