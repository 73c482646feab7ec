"""Mailings as the tests wait for them."""

from __future__ import annotations

import asyncio

import asyncpg


async def wait_done(db: asyncpg.Connection, mailing_id: int, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = await db.fetchval("SELECT status FROM mailings WHERE id = $1", mailing_id)
        if status == "done":
            return
        assert loop.time() < deadline, f"mailing {mailing_id} still {status}"
        await asyncio.sleep(0.1)
