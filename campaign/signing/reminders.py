"""The one reminder of a signature still pending after REMINDER_AFTER_HOURS (town-hall mail is
slow): a fresh confirmation link in its own email (`reminder`), once per signature.

Never for a flagged (suspect), confirmed, rejected or withdrawn signature; the suppression list
(the outbox's trigger) and the per-recipient daily cap (the mail worker) apply to it as to every
email. `reminded_at` records it in the transaction that queues it, so it never goes twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg

from campaign.core import tokens
from campaign.core.clock import Clock
from campaign.core.db import DB_ERRORS, Q
from campaign.core.settings import Settings

log = logging.getLogger(__name__)

BATCH = 200  # signatures reminded per transaction
POLL_SECONDS = 300.0  # how often the mail-sending processes look for signatures to remind


async def send_due(pool: asyncpg.Pool, settings: Settings, clock: Clock) -> int:
    """Queues the reminders due at `clock.now()`; returns how many were queued."""
    if settings.reminder_after_hours <= 0:
        return 0
    before = clock.now() - timedelta(hours=settings.reminder_after_hours)
    queued = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(Q["reminders_due"], before, BATCH)
            if not due:
                return queued
            links = [tokens.issue(settings.secret_key) for _ in due]
            written = await conn.fetch(
                Q["reminders_write"],
                [row["id"] for row in due],
                [salt for salt, _ in links],
                [token_hash for _, token_hash in links],
                settings.token_ttl_days,
            )
        queued += len(written)
        log.info("%d reminder(s) queued", len(written))
        if len(due) < BATCH:
            return queued


async def run(
    pool: asyncpg.Pool,
    settings: Settings,
    stop: asyncio.Event,
    *,
    clock: Clock | None = None,
    poll: float = POLL_SECONDS,
) -> None:
    """Looks for reminders to send every `poll` seconds until `stop` (wherever mail is sent)."""
    clock = clock or Clock()
    while not stop.is_set():
        try:
            await send_due(pool, settings, clock)
        except DB_ERRORS as exc:
            log.warning("reminders: database unavailable (%s)", type(exc).__name__)
        except Exception:
            log.exception("reminders: round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
