"""What the public may see of the signatories: the embargo on names, and the newest ones.

**Embargo.** A campaign with `embargo` on hides every name until its `launch_at`: the list page,
the signatories API, the newest signatories on the home page and the territory pages show no name
(and no count that a search could turn into a name), while the counts stay live. Whether names
are hidden is decided on each request from the runtime's clock (`campaign/clock.py`), so at the
launch instant the list opens by itself, in every process, without a restart or a manual step.

**Newest signatories.** The home page and `GET …/signatories/latest` show the last few public
signatories. Each process keeps them in memory and reads them again only when the campaign's
counts moved (and at most once a second, and at least every half minute), so a crowd watching
the home page costs the database one small indexed query per second per process, not one per
reader. The page takes what is in memory; the API, which browsers ask right after the counts
moved, waits for the next read when the last one is under a second old and older than the
change (at most a second), so that no reader is left with a list older than the counts it saw.
If the database is away, the last list read is shown (the counts, from memory, too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime

import asyncpg

from campaign.core.clock import loop_time
from campaign.core.db import DB_ERRORS, Q, convert_all
from campaign.counts.cache import CountsCache
from campaign.counts.refresh import UNREAD, Refresh, Version
from campaign.letter.campaigns import Campaign
from campaign.signing.signatures import Signatory

log = logging.getLogger(__name__)

LATEST_SIZE = 8


def names_hidden(campaign: Campaign, now: datetime) -> bool:
    """The embargo holds: names are hidden until the launch instant."""
    return campaign.embargo and now < campaign.launch_at


def seconds_until_names(campaign: Campaign, now: datetime) -> int | None:
    """While the embargo holds, whole seconds until it lifts (at least 1); else None. Caches of
    a hidden list must not outlive the embargo."""
    if not names_hidden(campaign, now):
        return None
    return max(1, int((campaign.launch_at - now).total_seconds()))


@dataclass(slots=True)
class _Entry:
    version: Version
    at: float
    items: list[Signatory]


@dataclass(eq=False)
class LatestSignatories:
    """The newest public signatories of each campaign, as this process last read them."""

    pool: asyncpg.Pool
    counts: CountsCache
    _: KW_ONLY
    size: int = LATEST_SIZE
    refresh: Refresh = field(default_factory=Refresh)
    monotonic: Callable[[], float] = loop_time

    def __post_init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.reads = 0
        """Queries made so far (to watch the cache work)."""

    def _fresh(self, entry: _Entry | None, version: Version, now: float, wait: bool) -> bool:
        return entry is not None and self.refresh.fresh(
            entry.version, now - entry.at, version, wait=wait
        )

    def version_read(self, campaign_id: int) -> Version | None:
        """The counts' version the kept list was read at (None: never read)."""
        entry = self._entries.get(campaign_id)
        return None if entry is None else entry.version

    async def get(self, campaign_id: int, *, wait: bool = False) -> list[Signatory]:
        """The newest public signatories. `wait`: when the counts moved since the last read,
        read again even if that means waiting for the end of the read interval (≤ 1 s)."""
        version, now = self.counts.version(campaign_id), self.monotonic()
        entry = self._entries.get(campaign_id)
        if self._fresh(entry, version, now, wait):
            assert entry is not None
            return entry.items
        lock = self._locks.setdefault(campaign_id, asyncio.Lock())
        async with lock:  # one reader per campaign; the others get its result
            entry = self._entries.get(campaign_id)
            version, now = self.counts.version(campaign_id), self.monotonic()
            if self._fresh(entry, version, now, wait):
                assert entry is not None
                return entry.items
            if entry is not None and now - entry.at < self.refresh.min_interval:
                await asyncio.sleep(self.refresh.min_interval - (now - entry.at))
                version = self.counts.version(campaign_id)
            self.reads += 1
            try:
                async with self.pool.acquire(timeout=2) as conn:
                    rows = await conn.fetch(Q["latest_public_signatories"], campaign_id, self.size)
            except DB_ERRORS as exc:
                log.warning("newest signatories not refreshed: %s", type(exc).__name__)
                stale = entry.items if entry else []
                # Try again in a second, not on every request meanwhile.
                self._entries[campaign_id] = _Entry(UNREAD, self.monotonic(), stale)
                return stale
            items = convert_all(rows, Signatory)
            # The version read before the query: a change during it makes the next one read.
            self._entries[campaign_id] = _Entry(version, self.monotonic(), items)
            return items
