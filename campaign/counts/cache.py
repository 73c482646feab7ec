"""Confirmed signatures per territory, held in memory by every process.

PostgreSQL stores one counter per territory a signer named (`territory_counts`: confirmed
signatures, verified ones, verified maires); this cache rolls a commune up into its département and
région. Updates arrive as absolute values, so applying one twice or after a reload changes nothing.
The register's officials and maires per territory (`Register`) give the coverage: the share of a
territory's maires who signed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Annotated

import asyncpg
import msgspec
from msgspec import Meta

from campaign.core.db import Q
from campaign.register import officials
from campaign.territories.index import TerritoryIndex

LEVELS = ("region", "departement", "commune")
Key = tuple[str, str]  # (level, code)
# Rolled up besides the confirmed count: verified signatures, communes whose maire signed (a
# verified signature with the mandate maire), communes with at least one confirmed signature.
METRICS = ("verified", "maires_signed", "communes_signed")


def _doc(text: str) -> Meta:
    return Meta(description=text)


Count = Annotated[int, Meta(ge=0)]
Share = Annotated[float, Meta(ge=0, le=1)]


class TerritoryCount(msgspec.Struct, frozen=True, kw_only=True):
    """One territory's counts (a commune's signatures count in its département and région)."""

    code: Annotated[str, _doc("Code INSEE du territoire")]
    name: str
    count: Annotated[Count, _doc("Signatures confirmées")]
    verified: Annotated[
        Count, _doc("Signatures confirmées vérifiées dans le répertoire national des élus")
    ] = 0
    officials: Annotated[
        Count,
        _doc(
            "Élus inscrits au répertoire pour ce territoire et ceux qu’il contient (un président "
            "d’intercommunalité compte une fois, comme conseiller municipal)"
        ),
    ] = 0
    maires: Annotated[Count, _doc("Communes du territoire dont le maire est au répertoire")] = 0
    maires_signed: Annotated[
        Count,
        _doc(
            "Communes du territoire dont le maire a signé : signature confirmée ET vérifiée avec "
            "le mandat « maire » (une commune compte une fois)"
        ),
    ] = 0
    coverage: Annotated[
        Share | None,
        _doc(
            "Part des maires du territoire qui ont signé (maires_signed / maires, de 0 à 1) ; "
            "null quand le répertoire n’a aucun maire pour ce territoire (non chargé)"
        ),
    ] = None
    communes_signed: Annotated[
        Count, _doc("Communes du territoire ayant au moins une signature confirmée")
    ] = 0


class CountsBody(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/v1/campaigns/{slug}/counts`: every région or département, or the communes with
    signatures; the totals are national."""

    level: Annotated[str, Meta(extra_json_schema={"enum": list(LEVELS)})]
    total: Annotated[Count, _doc("Signatures confirmées, en tout")]
    verified: Annotated[Count, _doc("Signatures confirmées et vérifiées, en tout")] = 0
    communes_signed: Annotated[Count, _doc("Communes ayant au moins une signature")] = 0
    maires: Annotated[Count, _doc("Communes dont le maire est au répertoire")] = 0
    maires_signed: Annotated[Count, _doc("Communes dont le maire a signé (vérifié)")] = 0
    coverage: Annotated[Share | None, _doc("Part des maires qui ont signé, en France")] = None
    counts: list[TerritoryCount]


class Register:
    """Officials and maires in the register per territory, rolled up like the counts.

    A commune's officials count in its département and région; `maires` counts the communes
    that have a maire in the register.
    """

    def __init__(self) -> None:
        self.officials: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
        self.maires: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
        self.total_officials = 0
        self.total_maires = 0

    @classmethod
    def build(cls, index: TerritoryIndex, rows: list[officials.TerritoryOfficials]) -> Register:
        register = cls()
        for row in rows:
            territory = index.get(row.level, row.code)
            keys = [(row.level, row.code)]
            if territory is not None:
                keys += index.ancestors(territory)
            has_maire = int(row.level == "commune" and row.maires > 0)
            for level, code in keys:
                register.officials[level][code] += row.officials
                register.maires[level][code] += has_maire
            register.total_officials += row.officials
            register.total_maires += has_maire
        return register


def coverage(signed: int, maires: int) -> float | None:
    """The share of maires who signed (0 to 1, four decimals); None without maires registered."""
    return round(min(signed / maires, 1.0), 4) if maires else None


_encoder = msgspec.json.Encoder()


class CampaignCounts:
    """One campaign's counts: the stored counters and their roll-up."""

    def __init__(self) -> None:
        self.stored: dict[Key, tuple[int, int, int]] = {}  # confirmed, verified, maires
        self.rolled: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
        self.metrics: dict[str, dict[str, dict[str, int]]] = {
            metric: {level: defaultdict(int) for level in LEVELS} for metric in METRICS
        }
        self.total = 0
        self.totals: dict[str, int] = dict.fromkeys(METRICS, 0)
        self._bodies: dict[str, tuple[bytes, str]] = {}

    def set(
        self,
        index: TerritoryIndex,
        level: str,
        code: str,
        value: int,
        verified: int = 0,
        maires: int = 0,
    ) -> list[Key]:
        """Set a stored counter; returns the territories whose rolled-up counts changed."""
        old = self.stored.get((level, code), (0, 0, 0))
        new = (value, verified, maires)
        if new == old:
            return []
        self.stored[(level, code)] = new
        commune = level == "commune"
        deltas = {
            "verified": verified - old[1],
            "maires_signed": commune * ((maires > 0) - (old[2] > 0)),
            "communes_signed": commune * ((value > 0) - (old[0] > 0)),
        }
        delta = value - old[0]
        self.total += delta
        for metric, d in deltas.items():
            self.totals[metric] += d
        territory = index.get(level, code)
        changed: list[Key] = [(level, code)]
        if territory is not None:
            changed += index.ancestors(territory)
        for key in changed:
            self.rolled[key[0]][key[1]] += delta
            for metric, d in deltas.items():
                self.metrics[metric][key[0]][key[1]] += d
        self._bodies.clear()
        return changed

    def count(self, level: str, code: str) -> int:
        return self.rolled[level].get(code, 0)

    def metric(self, metric: str, level: str, code: str) -> int:
        return self.metrics[metric][level].get(code, 0)

    def coverage(self, register: Register, level: str, code: str) -> float | None:
        signed = self.metric("maires_signed", level, code)
        return coverage(signed, register.maires[level].get(code, 0))

    def forget_bodies(self) -> None:
        self._bodies.clear()

    def body(
        self, index: TerritoryIndex, level: str, register: Register | None = None
    ) -> tuple[bytes, str]:
        """The JSON of `GET …/counts?level=` and its ETag, built once per change."""
        cached = self._bodies.get(level)
        if cached is None:
            cached = self._bodies[level] = self._build(index, level, register or Register())
        return cached

    def _build(self, index: TerritoryIndex, level: str, register: Register) -> tuple[bytes, str]:
        rolled = self.rolled[level]
        if level == "commune":  # 35,000 communes: only those with signatures
            codes = sorted(code for code, n in rolled.items() if n)
        else:
            codes = [t.code for t in index.all(level)]
        items = []
        for code in codes:
            territory = index.get(level, code)
            maires = register.maires[level].get(code, 0)
            signed = self.metric("maires_signed", level, code)
            items.append(
                TerritoryCount(
                    code=code,
                    name=territory.name if territory else code,
                    count=rolled.get(code, 0),
                    verified=self.metric("verified", level, code),
                    officials=register.officials[level].get(code, 0),
                    maires=maires,
                    maires_signed=signed,
                    coverage=coverage(signed, maires),
                    communes_signed=self.metric("communes_signed", level, code),
                )
            )
        body = CountsBody(
            level=level,
            total=self.total,
            verified=self.totals["verified"],
            communes_signed=self.totals["communes_signed"],
            maires=register.total_maires,
            maires_signed=self.totals["maires_signed"],
            coverage=coverage(self.totals["maires_signed"], register.total_maires),
            counts=items,
        )
        payload = _encoder.encode(body)
        etag = '"' + hashlib.blake2b(payload, digest_size=12).hexdigest() + '"'
        return payload, etag


class CountsCache:
    """Every campaign's counts in this process."""

    def __init__(self, index: TerritoryIndex) -> None:
        self.index = index
        self.register = Register()
        self._campaigns: dict[int, CampaignCounts] = {}

    def campaign(self, campaign_id: int) -> CampaignCounts:
        counts = self._campaigns.get(campaign_id)
        if counts is None:
            counts = self._campaigns[campaign_id] = CampaignCounts()
        return counts

    def apply(
        self,
        campaign_id: int,
        level: str,
        code: str,
        value: int,
        verified: int = 0,
        maires: int = 0,
    ) -> list[Key]:
        return self.campaign(campaign_id).set(self.index, level, code, value, verified, maires)

    def all_campaigns(self) -> list[int]:
        return list(self._campaigns)

    def body(self, campaign_id: int, level: str) -> tuple[bytes, str]:
        return self.campaign(campaign_id).body(self.index, level, self.register)

    def coverage(self, campaign_id: int, level: str, code: str) -> float | None:
        return self.campaign(campaign_id).coverage(self.register, level, code)

    def map_values(self, campaign_id: int, level: str, measure: str) -> dict[str, float]:
        """Every territory of `level`: its signatures, or for `maires` its share of maires who
        signed (0 where the register has none)."""
        codes = [t.code for t in self.index.all(level)]
        if measure == "maires":
            return {code: self.coverage(campaign_id, level, code) or 0.0 for code in codes}
        counts = self.campaign(campaign_id)
        return {code: float(counts.count(level, code)) for code in codes}

    async def reload_register(self, conn: asyncpg.Connection) -> None:
        """Read the register's summary again (at start, after a load of the register)."""
        self.register = Register.build(self.index, await officials.summary(conn))
        for counts in self._campaigns.values():
            counts.forget_bodies()

    async def reload(self, conn: asyncpg.Connection) -> dict[int, list[Key]]:
        """Read every counter again (at start, after a lost connection); returns what changed."""
        await self.reload_register(conn)
        rows = await conn.fetch(Q["all_counts"])
        seen: dict[int, set[Key]] = defaultdict(set)
        changed: dict[int, list[Key]] = defaultdict(list)
        for row in rows:
            key = (row["level"], row["code"])
            seen[row["campaign_id"]].add(key)
            changed[row["campaign_id"]] += self.apply(
                row["campaign_id"], *key, row["confirmed"], row["verified"], row["maires"]
            )
        for campaign_id, counts in self._campaigns.items():  # counters that vanished
            for key in [k for k in counts.stored if k not in seen[campaign_id]]:
                changed[campaign_id] += counts.set(self.index, *key, 0)
        return {cid: keys for cid, keys in changed.items() if keys}
