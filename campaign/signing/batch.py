"""Group commit for signings: those that arrive while others are being written share one round of
statements and one commit.

One signing alone costs PostgreSQL two statements and a commit of its own; in a rush the commits
are what saturate the database: each one flushes the WAL, takes the lock that serialises the
commits of notifying transactions (the outbox's NOTIFY), and wakes every listener. Here a signing
joins a queue; at most `flushers` batches per process are being written at any time, and whatever
queued meanwhile goes in the next one: alone when the service is quiet (no added wait), by dozens
in a rush. A batch is the anti-abuse counting of all its signings in one statement, then their
signatures, tokens and emails in another; each signing's request is answered once its batch has
committed, so a 202 still means the signature is stored; the mail workers are woken after the
commit, not by it (migration 0009), once for the batches of 50 ms. Signings of an address that
had already signed go on one by one, as before (campaign/signatures.py: `sign_existing`). Every
MERGE_EVERY signatures written, the search index's pending list is merged in the background, so
that no batch has to (migration 0010). Each time the signatures this process has written double
(ANALYZE_FIRST, then twice as many...), the tables a rush fills are analysed in the background
(`signatures.analyze_rush_tables`): every connection's cached plans over them are made again.

Judged one by one: signings written together are counted against the limits as if they had come
one after the other, and the same address twice in a batch is created by the first and refreshed
by the second. If a batch fails on its data (it should not: everything was validated), its
signings are written one by one so that one bad signing fails alone.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

import asyncpg

from campaign.core import group_commit
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.letter.campaigns import Campaign
from campaign.signing import abuse, signatures
from campaign.signing.signatures import SignOutcome
from campaign.signing.validation import SigningRequest

log = logging.getLogger(__name__)

# How long the mail workers' wake-up waits, so that it covers the batches committed meanwhile.
WAKE_DELAY = 0.05

# Signatures written between two merges of the search index's pending list (about 1 MB of it).
MERGE_EVERY = 500

# Signatures written before the first ANALYZE of the tables a rush fills; the next at twice as many.
# PostgreSQL keeps the generic plan of a prepared statement (asyncpg prepares every query) until
# the statistics of its tables change; made while a table was nearly empty (a new campaign, the
# start of a rush), it reads the whole table at every execution: the foreign-key checks of the
# batches, the limits' campaign-wide sum and the mail worker's claims read 59 million rows in 20 s
# of signing (bench/RESULTS.md). Autovacuum would analyse them, but only a minute or more later.
# Doubling bounds that: a plan is made for at least half the rows it meets, and a rush of a
# million signatures costs twelve ANALYZEs.
ANALYZE_FIRST = 256


@dataclass(eq=False)
class _Signing:
    campaign: Campaign
    req: SigningRequest
    signals: abuse.Signals
    done: asyncio.Future[tuple[abuse.Assessment, bool]] = field(repr=False)


class SigningBatcher:
    """Per process; `sign` is what handlers call. Holds no signing once they are answered."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        max_batch: int = 128,
        flushers: int = 2,
        merge_every: int | None = MERGE_EVERY,
        analyze_first: int | None = ANALYZE_FIRST,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._max_batch = max_batch
        self._flushers = flushers
        self._queue: collections.deque[_Signing] = collections.deque()
        self._flushing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._waking: asyncio.Task[None] | None = None
        self._merge_every = merge_every
        self._unmerged = 0  # signatures written since the last merge was started
        self._merging: asyncio.Task[None] | None = None
        self._written = 0  # signatures written by this batcher
        self._analyze_at = analyze_first
        self._analyzing: asyncio.Task[None] | None = None
        self.batches = 0  # written so far (tests, benchmarks)
        self.largest = 0
        self.merges = 0  # of the search index's pending list, done so far
        self.analyses = 0  # of the tables a rush fills, done so far

    async def sign(
        self, campaign: Campaign, req: SigningRequest, signals: abuse.Signals
    ) -> SignOutcome:
        """`signatures.sign`, written with the signings that arrive meanwhile."""
        done: asyncio.Future[tuple[abuse.Assessment, bool]] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append(_Signing(campaign, req, signals, done))
        if self._flushing < self._flushers:
            self._flushing += 1
            self._spawn(self._drain())
        # A request cancelled here (its client went away) cancels only its wait: the batch
        # it is in is written all the same.
        flags, created = await done
        if created:
            return SignOutcome.CREATED
        async with self._pool.acquire() as conn:
            return await signatures.sign_existing(conn, self._settings, campaign, req, flags)

    async def _drain(self) -> None:
        try:
            while self._queue:
                first = self._queue[0].campaign.id
                batch: list[_Signing] = []
                kept: list[_Signing] = []
                while self._queue and len(batch) < self._max_batch:
                    item = self._queue.popleft()
                    (batch if item.campaign.id == first else kept).append(item)
                self._queue.extendleft(reversed(kept))  # another campaign's: next batch
                await self._write(batch)
        finally:
            self._flushing -= 1

    async def _write(
        self, batch: list[_Signing], assessed: list[abuse.Assessment] | None = None
    ) -> None:
        campaign = batch[0].campaign

        async def write_all() -> tuple[list[abuse.Assessment], list[bool]]:
            nonlocal assessed
            async with self._pool.acquire() as conn:
                if assessed is None:
                    assessed = await abuse.assess_many(
                        conn,
                        self._settings,
                        campaign.id,
                        [(s.req.email, s.signals) for s in batch],
                    )
                created = await signatures.sign_new_many(
                    conn,
                    self._settings,
                    campaign,
                    [(s.req, flags) for s, flags in zip(batch, assessed, strict=True)],
                )
            return assessed, created

        async def write_one(n: int) -> None:
            # Counted once: a signing retried alone keeps the assessment its batch made.
            await self._write([batch[n]], None if assessed is None else [assessed[n]])

        written = await group_commit.write_batch(
            batch, write_all, write_one, log=log, what="signings", interrupted="signing interrupted"
        )
        if written is None:
            return
        flags_of, created = written
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        if self._waking is None:
            self._waking = self._spawn(self._wake_mail_workers())
        self._unmerged += sum(created)
        self._written += sum(created)
        if (
            self._analyze_at is not None
            and self._written >= self._analyze_at
            and self._analyzing is None
        ):
            self._analyze_at = 2 * self._written
            self._analyzing = self._spawn(self._analyze_rush_tables())
        if (
            self._merge_every is not None
            and self._unmerged >= self._merge_every
            and self._merging is None
        ):
            self._unmerged = 0
            self._merging = self._spawn(self._merge_search_pending())
        for s, flags, made in zip(batch, flags_of, created, strict=True):
            if not s.done.done():
                s.done.set_result((flags, made))

    def _spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task[None]:
        return group_commit.spawn(self._tasks, work)

    async def _wake_mail_workers(self) -> None:
        """NOTIFY the mail workers of every process, outside the signings' transactions (their
        commits would otherwise queue behind one another: migration 0009), once for the
        batches of WAKE_DELAY. If it fails, the workers' polling finds the messages."""
        await asyncio.sleep(WAKE_DELAY)
        self._waking = None  # a batch committed from now on schedules the next one
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(Q["wake_mail_workers"])
        except Exception as exc:
            log.warning("could not wake the mail workers (%s): they will poll", exc)

    async def _analyze_rush_tables(self) -> None:
        """Fresh statistics for the tables a rush fills (ANALYZE_FIRST). If it cannot (the
        service's role does not own them), autovacuum still analyses them, later."""
        try:
            done = await self._maintain(signatures.analyze_rush_tables, "analyse the rush's tables")
            if done:
                self.analyses += 1
            elif done is None:
                self._analyze_at = None  # not worth trying again in this process
        finally:
            self._analyzing = None

    async def _merge_search_pending(self) -> None:
        """Merges the search index's pending list (migration 0010). If it cannot (the service's
        role does not own the index), autovacuum and the inserts themselves still do."""
        try:
            done = await self._maintain(
                signatures.merge_search_pending, "merge the search index's pending list"
            )
            if done:
                self.merges += 1
            elif done is None:
                self._merge_every = None  # not worth trying again in this process
        finally:
            self._merging = None

    async def _maintain(
        self, work: Callable[[asyncpg.Connection], Awaitable[object]], what: str
    ) -> bool | None:
        """Background upkeep of the tables, outside any signing: True when done, False when it
        failed (logged; tried again next time), None when the service's role may not do it."""
        try:
            async with self._pool.acquire() as conn:
                await work(conn)
        except asyncpg.InsufficientPrivilegeError as exc:
            log.warning("could not %s (%s): left to autovacuum", what, exc)
            return None
        except Exception as exc:
            log.warning("could not %s (%s)", what, exc)
            return False
        return True
