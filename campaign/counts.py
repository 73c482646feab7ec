"""Confirmed signatures per territory, held in memory by every process.

PostgreSQL stores one counter per territory a signer named (`territory_counts`); this cache rolls a
commune up into its département and région. Updates arrive as absolute values, so applying one twice
or after a reload changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import asyncpg
import msgspec

from campaign.db import Q
from campaign.territories import TerritoryIndex

LEVELS = ("region", "departement", "commune")
Key = tuple[str, str]  # (level, code)


class TerritoryCount(msgspec.Struct, frozen=True):
    code: str
    name: str
    count: int


class CountsBody(msgspec.Struct, frozen=True):
    level: str
    total: int
    counts: list[TerritoryCount]


_encoder = msgspec.json.Encoder()


class CampaignCounts:
    """One campaign's counts: the stored counters and their roll-up."""

    def __init__(self) -> None:
        self.stored: dict[Key, int] = {}
        self.rolled: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
        self.total = 0
        self._bodies: dict[str, tuple[bytes, str]] = {}

    def set(self, index: TerritoryIndex, level: str, code: str, value: int) -> list[Key]:
        """Set a stored counter; returns the territories whose rolled-up count changed."""
        delta = value - self.stored.get((level, code), 0)
        if delta == 0:
            return []
        self.stored[(level, code)] = value
        self.total += delta
        territory = index.get(level, code)
        changed: list[Key] = [(level, code)]
        if territory is not None:
            changed += index.ancestors(territory)
        for key in changed:
            self.rolled[key[0]][key[1]] += delta
        self._bodies.clear()
        return changed

    def count(self, level: str, code: str) -> int:
        return self.rolled[level].get(code, 0)

    def body(self, index: TerritoryIndex, level: str) -> tuple[bytes, str]:
        """The JSON of `GET …/counts?level=` and its ETag, built once per change."""
        cached = self._bodies.get(level)
        if cached is None:
            cached = self._bodies[level] = self._build(index, level)
        return cached

    def _build(self, index: TerritoryIndex, level: str) -> tuple[bytes, str]:
        rolled = self.rolled[level]
        if level == "commune":  # 35,000 communes: only those with signatures
            codes = sorted(code for code, n in rolled.items() if n)
        else:
            codes = [t.code for t in index.all(level)]
        items = []
        for code in codes:
            territory = index.get(level, code)
            name = territory.name if territory else code
            items.append(TerritoryCount(code=code, name=name, count=rolled.get(code, 0)))
        payload = _encoder.encode(CountsBody(level=level, total=self.total, counts=items))
        etag = '"' + hashlib.blake2b(payload, digest_size=12).hexdigest() + '"'
        return payload, etag


class CountsCache:
    """Every campaign's counts in this process."""

    def __init__(self, index: TerritoryIndex) -> None:
        self.index = index
        self._campaigns: dict[int, CampaignCounts] = {}

    def campaign(self, campaign_id: int) -> CampaignCounts:
        counts = self._campaigns.get(campaign_id)
        if counts is None:
            counts = self._campaigns[campaign_id] = CampaignCounts()
        return counts

    def apply(self, campaign_id: int, level: str, code: str, value: int) -> list[Key]:
        return self.campaign(campaign_id).set(self.index, level, code, value)

    async def reload(self, conn: asyncpg.Connection) -> dict[int, list[Key]]:
        """Read every counter again (at start, after a lost connection); returns what changed."""
        rows = await conn.fetch(Q["all_counts"])
        seen: dict[int, set[Key]] = defaultdict(set)
        changed: dict[int, list[Key]] = defaultdict(list)
        for row in rows:
            key = (row["level"], row["code"])
            seen[row["campaign_id"]].add(key)
            changed[row["campaign_id"]] += self.apply(row["campaign_id"], *key, row["confirmed"])
        for campaign_id, counts in self._campaigns.items():  # counters that vanished
            for key in [k for k in counts.stored if k not in seen[campaign_id]]:
                changed[campaign_id] += counts.set(self.index, *key, 0)
        return {cid: keys for cid, keys in changed.items() if keys}
