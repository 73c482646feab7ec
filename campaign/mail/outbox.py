"""The mail outbox, the queue API: messages queued in the transaction that needs them, claimed
by a worker (campaign/mail/worker.py), their outcome recorded.

Delivery is at least once with a lease: a claimed row is `sending` until its lease runs out, so a
worker that dies mid-send does not lose the message; every outcome is recorded only by the worker
that still holds the row, so a late duplicate cannot record twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import asyncpg
import msgspec

from campaign.core import group_commit
from campaign.core.db import Q, convert_all
from campaign.mail.addresses import cap_key

log = logging.getLogger(__name__)

CHANNEL = "outbox"  # NOTIFYed when messages are queued: the workers listen to it


class ClaimedMail(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    template: str
    recipient: str
    signature_id: int | None
    token_id: int | None
    attempts: int
    mailing_id: int | None = None  # a mailing's message (campaign/reach/mailings.py)
    invitation_id: int | None = None


# One typed function per query.


async def enqueue(
    conn: asyncpg.Connection,
    *,
    template: str,
    recipient: str,
    signature_id: int | None,
    token_id: int | None,
) -> int:
    """Queues a message; call it inside the caller's transaction so both commit or neither."""
    outbox_id: int = await conn.fetchval(
        Q["outbox_enqueue"], template, recipient, signature_id, token_id
    )
    return outbox_id


async def claim(pool: asyncpg.Pool, *, limit: int, lease_seconds: float) -> list[ClaimedMail]:
    rows = await pool.fetch(Q["outbox_claim"], limit, lease_seconds)
    return convert_all(rows, ClaimedMail)


async def claim_mailings(
    pool: asyncpg.Pool, *, limit: int, lease_seconds: float
) -> list[ClaimedMail]:
    """Messages of the mailings being sent, as many as their rates allow (all workers together)."""
    rows = await pool.fetch(Q["outbox_claim_mailings"], limit, lease_seconds)
    return convert_all(rows, ClaimedMail)


async def next_mailing_slot(pool: asyncpg.Pool) -> float | None:
    """Seconds until a mailing being sent may send its next message (None: none is sending)."""
    at: datetime | None = await pool.fetchval(Q["outbox_next_mailing_slot"])
    if at is None:
        return None
    return max(0.0, (at - datetime.now(UTC)).total_seconds())


async def newest_id(pool: asyncpg.Pool) -> int:
    newest: int = await pool.fetchval(Q["outbox_newest"])
    return newest


async def release(pool: asyncpg.Pool, mails: list[ClaimedMail]) -> int:
    """Gives back claimed messages (their worker stops): due at once for another worker, the
    interrupted attempt not counted. Returns how many were given back; bounded (TimeoutError),
    as the worker is stopping."""
    status = await pool.execute(
        Q["outbox_release"], [m.id for m in mails], [m.attempts for m in mails], timeout=5
    )
    return int(status.split()[-1])


# The three outcomes return False when the row is no longer ours (its lease ran out and another
# worker claimed it): the outcome is then dropped.


async def mark_sent(pool: asyncpg.Pool, mails: list[ClaimedMail]) -> set[int]:
    """The ids of those recorded as sent."""
    rows = await pool.fetch(
        Q["outbox_mark_sent"], [m.id for m in mails], [m.attempts for m in mails]
    )
    return {row["id"] for row in rows}


@dataclass(eq=False)
class _Sent:
    mail: ClaimedMail
    done: asyncio.Future[bool] = field(repr=False)


class SentLog:
    """Records the messages sent, those whose sends end while others are being recorded together:
    one statement and one commit for a dozen messages in a rush, none added when quiet."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._waiting: list[_Sent] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, mail: ClaimedMail) -> bool:
        """`mark_sent` for this message: False when the row is no longer ours."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Sent(mail, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="outbox-sent-log")
        # A caller cancelled (the worker stops) cancels only its wait: the record is written.
        return await done

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[_Sent]) -> None:
        async def write_all() -> set[int]:
            return await mark_sent(self._pool, [s.mail for s in batch])

        async def write_one(n: int) -> None:
            await self._write([batch[n]])

        # Not recorded: each caller sees why, and the lease brings the row back. Interrupted:
        # each caller's wait is cancelled, as the worker's stop gives its claims back.
        recorded = await group_commit.write_batch(
            batch, write_all, write_one, log=log, what="sent messages", interrupted=None
        )
        if recorded is None:
            return
        for s in batch:
            if not s.done.done():
                s.done.set_result(s.mail.id in recorded)


async def cap_recipients(
    pool: asyncpg.Pool, mails: list[ClaimedMail], keys: list[bytes], day: date, cap: int
) -> set[int]:
    """Counts these messages against their recipients' daily cap (`keys`: keyed hashes of the
    canonical addresses) and cancels those beyond it; returns the ids cancelled."""
    rows = await pool.fetch(Q["outbox_cap_recipients"], [m.id for m in mails], keys, day, cap)
    return {row["id"] for row in rows}


async def mailed_today(conn: asyncpg.Connection, secret_key: str, address: str) -> bool:
    """Whether this address's mailbox (any alias of it) was sent an email today (UTC), as the
    per-recipient cap counts."""
    used: bool = await conn.fetchval(
        Q["outbox_cap_used"], datetime.now(UTC).date(), cap_key(secret_key, address)
    )
    return used


async def forget_caps(pool: asyncpg.Pool, before: date) -> None:
    await pool.execute(Q["outbox_cap_forget"], before)


async def mark_retry(pool: asyncpg.Pool, mail: ClaimedMail, delay: float, reason: str) -> bool:
    status = await pool.execute(Q["outbox_mark_retry"], mail.id, mail.attempts, delay, reason)
    return _updated(status)


async def hold(pool: asyncpg.Pool, mail: ClaimedMail, delay: float, reason: str) -> bool:
    """Back in the queue for `delay` seconds, the attempt not counted (relay refused our
    credentials: the message is not at fault and must never be marked failed for it)."""
    return _updated(await pool.execute(Q["outbox_hold"], mail.id, mail.attempts, delay, reason))


async def mark_failed(pool: asyncpg.Pool, mail: ClaimedMail, reason: str) -> bool:
    return _updated(await pool.execute(Q["outbox_mark_failed"], mail.id, mail.attempts, reason))


def _updated(status: str) -> bool:
    return status == "UPDATE 1"
