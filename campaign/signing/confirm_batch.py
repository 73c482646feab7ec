"""Group commit for confirmations: those that arrive while others are being written share one
statement and one commit.

A confirmation alone is one statement (`confirm_by_token`), but its commit notifies (the counters'
new values for the live counts, the verification worker), and PostgreSQL serialises the commits
of notifying transactions, disk flush included: in a rush the confirmations queue behind one
another's commits. Here a confirmation joins a queue; at most `flushers` batches per process are
being written at any time, and whatever queued meanwhile goes in the next one: alone when the
service is quiet (no added wait), by dozens in a rush. Each is judged as if the confirmations
had come one after the other (`confirm_by_tokens`: the same link clicked twice confirms once) and
each request is answered once its batch has committed. If a batch fails on its data (a deadlock
with another batch over the same signatures, clicked twice at once), its confirmations are
written one by one, so that one failure stays alone.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass, field

import asyncpg

from campaign.core import group_commit
from campaign.signing import signatures
from campaign.signing.signatures import Confirmation, ConfirmResult

log = logging.getLogger(__name__)

Outcome = tuple[ConfirmResult, Confirmation | None]


@dataclass(eq=False)
class _Confirming:
    token: str
    done: asyncio.Future[Outcome] = field(repr=False)


class ConfirmBatcher:
    """Per process; `confirm` is what the handler calls. Holds nothing once answered."""

    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 128, flushers: int = 2) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._flushers = flushers
        self._queue: collections.deque[_Confirming] = collections.deque()
        self._flushing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # written so far (tests, benchmarks)
        self.largest = 0

    async def confirm(self, token: str) -> Outcome:
        """`signatures.confirm`, written with the confirmations that arrive meanwhile."""
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append(_Confirming(token, done))
        if self._flushing < self._flushers:
            self._flushing += 1
            group_commit.spawn(self._tasks, self._drain())
        # A request cancelled here (its client went away) cancels only its wait: the batch it
        # is in is written all the same.
        return await done

    async def _drain(self) -> None:
        try:
            while self._queue:
                count = min(len(self._queue), self._max_batch)
                await self._write([self._queue.popleft() for _ in range(count)])
        finally:
            self._flushing -= 1

    async def _write(self, batch: list[_Confirming]) -> None:
        async def write_all() -> list[Outcome]:
            async with self._pool.acquire() as conn:
                return await signatures.confirm_many(conn, [c.token for c in batch])

        async def write_one(n: int) -> None:
            await self._write([batch[n]])

        outcomes = await group_commit.write_batch(
            batch,
            write_all,
            write_one,
            log=log,
            what="confirmations",
            interrupted="confirming interrupted",
        )
        if outcomes is None:
            return
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        for c, outcome in zip(batch, outcomes, strict=True):
            if not c.done.done():
                c.done.set_result(outcome)
