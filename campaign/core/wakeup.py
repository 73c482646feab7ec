"""Workers woken by PostgreSQL: one LISTEN connection kept alive, and waiting on several events.

The mail and verification workers poll as a fallback; a NOTIFY on their channel wakes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from campaign.core.db import DB_ERRORS


async def wait_any(*events: asyncio.Event, within: float) -> None:
    """Return when one of the events is set, or after `within` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def keep_listening(
    dsn: str,
    channel: str,
    wake: asyncio.Event,
    stop: asyncio.Event,
    *,
    application_name: str,
    log: logging.Logger,
    what: str,
) -> None:
    """Keep one connection LISTENing on `channel`, setting `wake` on each notification.

    Reconnects when the connection drops, and sets `wake` after each (re)connection: whatever
    was notified while nobody listened is then picked up by the worker's next round.
    """
    while not stop.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(
                dsn, timeout=10, server_settings={"application_name": application_name}
            )
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
            await conn.add_listener(channel, lambda *_args: wake.set())
            wake.set()
            while not stop.is_set() and not lost.is_set():
                await wait_any(stop, lost, within=30)
                if not stop.is_set() and not lost.is_set():
                    # A silently dropped connection is only noticed by using it.
                    await conn.fetchval("SELECT 1", timeout=10)
        except DB_ERRORS as exc:
            log.warning("%s: listening connection lost (%s)", what, type(exc).__name__)
        except Exception:  # polling still does the work; keep trying to listen
            log.exception("%s: listener failed", what)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(*DB_ERRORS):
                    await conn.close(timeout=5)
        if not stop.is_set():
            wake.set()
            await wait_any(stop, within=1.0)
