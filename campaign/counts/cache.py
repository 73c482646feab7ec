"""Confirmed signatures per territory, held in memory by every process.

PostgreSQL stores one counter per territory a signer named (`territory_counts`: confirmed
signatures, those matching the register, those proven, and maires); this cache rolls a commune up
into its département and région. Updates arrive as absolute values, so applying one twice or after
a reload changes nothing. The register's officials and maires per territory (`Register`) give the
coverage: the share of a territory's maires who signed.

A commune's own figures about its maire (one person, named in the register) count only a maire who
agreed to be listed; its département, its région and the national totals count every maire.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Annotated, Any, NamedTuple

import asyncpg
import msgspec
from msgspec import Meta

from campaign.core.db import Q
from campaign.counts.refresh import Version
from campaign.register import officials
from campaign.territories.index import TerritoryIndex

LEVELS = ("region", "departement", "commune")
Key = tuple[str, str]  # (level, code)


class Stored(NamedTuple):
    """A stored counter (confirmed signatures that are not suspect)."""

    confirmed: int = 0
    verified: int = 0  # proven (`proof` set)
    maires: int = 0  # proven maires
    register_match: int = 0
    maires_declared: int = 0
    maires_public: int = 0  # maires who agreed to be listed
    maires_public_verified: int = 0


# Rolled up besides the confirmed count: proven signatures, those matching the register, communes
# whose maire signed (proven; declared), communes with at least one confirmed signature.
METRICS = ("verified", "register_match", "maires_signed", "maires_declared", "communes_signed")


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
        Count,
        _doc(
            "Signatures confirmées d’élus vérifiés : preuve apportée par la mairie, par l’adresse "
            "au domaine officiel de la collectivité ou par les organisateurs"
        ),
    ] = 0
    register_match: Annotated[
        Count,
        _doc(
            "Signatures confirmées dont le nom et le mandat figurent au répertoire national des "
            "élus (mandat trouvé au RNE, ce qui ne prouve pas que le signataire est cet élu)"
        ),
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
            "Communes du territoire dont le maire a signé, vérifié : signature confirmée ET "
            "prouvée avec le mandat « maire » (une commune compte une fois). Pour une commune, "
            "seulement si le maire a accepté de figurer sur la liste publique"
        ),
    ] = 0
    maires_declared: Annotated[
        Count,
        _doc(
            "Communes du territoire dont le maire a signé, déclaré (signature confirmée avec le "
            "mandat « maire », prouvée ou non). Pour une commune, seulement si le maire a accepté "
            "de figurer sur la liste publique"
        ),
    ] = 0
    coverage: Annotated[
        Share | None,
        _doc(
            "Part des maires du territoire qui ont signé, vérifiés (maires_signed / maires, de 0 "
            "à 1) ; null quand le répertoire n’a aucun maire pour ce territoire (non chargé)"
        ),
    ] = None
    coverage_declared: Annotated[
        Share | None,
        _doc("Part des maires du territoire qui ont signé, déclarés (maires_declared / maires)"),
    ] = None
    communes_signed: Annotated[
        Count, _doc("Communes du territoire ayant au moins une signature confirmée")
    ] = 0


class CountsBody(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/v1/campaigns/{slug}/counts`: every région or département, or the communes with
    signatures; the totals are national."""

    level: Annotated[str, Meta(extra_json_schema={"enum": list(LEVELS)})]
    total: Annotated[Count, _doc("Signatures confirmées, en tout")]
    verified: Annotated[Count, _doc("Signatures confirmées d’élus vérifiés, en tout")] = 0
    register_match: Annotated[
        Count, _doc("Signatures confirmées dont le mandat est trouvé au RNE, en tout")
    ] = 0
    communes_signed: Annotated[Count, _doc("Communes ayant au moins une signature")] = 0
    maires: Annotated[Count, _doc("Communes dont le maire est au répertoire")] = 0
    maires_signed: Annotated[Count, _doc("Communes dont le maire a signé (vérifié)")] = 0
    maires_declared: Annotated[Count, _doc("Communes dont le maire a signé (déclaré)")] = 0
    coverage: Annotated[
        Share | None, _doc("Part des maires qui ont signé, vérifiés, en France")
    ] = None
    coverage_declared: Annotated[
        Share | None, _doc("Part des maires qui ont signé, déclarés, en France")
    ] = None
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

STORED_FIELDS = Stored._fields


def stored_of(row: Any) -> Stored:
    """A counter from a database row or a NOTIFY payload (absent fields: zero)."""
    return Stored(*(int(row.get(f) or 0) for f in STORED_FIELDS))


class CampaignCounts:
    """One campaign's counts: the stored counters and their roll-up."""

    def __init__(self) -> None:
        self.stored: dict[Key, Stored] = {}
        self.rolled: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
        self.metrics: dict[str, dict[str, dict[str, int]]] = {
            metric: {level: defaultdict(int) for level in LEVELS} for metric in METRICS
        }
        self.total = 0
        self.totals: dict[str, int] = dict.fromkeys(METRICS, 0)
        self._bodies: dict[str, tuple[bytes, str]] = {}

    def set(self, index: TerritoryIndex, key: Key, new: Stored) -> list[Key]:
        """Set a stored counter; returns the territories whose rolled-up counts changed."""
        old = self.stored.get(key, Stored())
        if new == old:
            return []
        self.stored[key] = new
        level, code = key
        commune = int(level == "commune")

        def signed(field: str) -> int:  # the commune's maire signed, or no longer
            now_signed: int = getattr(new, field) > 0
            was_signed: int = getattr(old, field) > 0
            return commune * (now_signed - was_signed)

        deltas = {  # for the ancestors and the totals: every signer
            "verified": new.verified - old.verified,
            "register_match": new.register_match - old.register_match,
            "maires_signed": signed("maires"),
            "maires_declared": signed("maires_declared"),
            "communes_signed": signed("confirmed"),
        }
        own = dict(deltas)  # for the commune itself: its maire only if listed publicly
        own["maires_signed"] = signed("maires_public_verified")
        own["maires_declared"] = signed("maires_public")
        delta = new.confirmed - old.confirmed
        self.total += delta
        for metric, d in deltas.items():
            self.totals[metric] += d
        territory = index.get(level, code)
        changed: list[Key] = [key]
        if territory is not None:
            changed += index.ancestors(territory)
        for at_level, at_code in changed:
            self.rolled[at_level][at_code] += delta
            for metric, d in (own if (at_level, at_code) == key else deltas).items():
                self.metrics[metric][at_level][at_code] += d
        self._bodies.clear()
        return changed

    def count(self, level: str, code: str) -> int:
        return self.rolled[level].get(code, 0)

    def metric(self, metric: str, level: str, code: str) -> int:
        return self.metrics[metric][level].get(code, 0)

    def coverage(
        self, register: Register, level: str, code: str, metric: str = "maires_signed"
    ) -> float | None:
        """The share of maires who signed: proven (`maires_signed`) or declared
        (`maires_declared`)."""
        signed = self.metric(metric, level, code)
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
            declared = self.metric("maires_declared", level, code)
            items.append(
                TerritoryCount(
                    code=code,
                    name=territory.name if territory else code,
                    count=rolled.get(code, 0),
                    verified=self.metric("verified", level, code),
                    register_match=self.metric("register_match", level, code),
                    officials=register.officials[level].get(code, 0),
                    maires=maires,
                    maires_signed=signed,
                    maires_declared=declared,
                    coverage=coverage(signed, maires),
                    coverage_declared=coverage(declared, maires),
                    communes_signed=self.metric("communes_signed", level, code),
                )
            )
        totals = self.totals
        body = CountsBody(
            level=level,
            total=self.total,
            verified=totals["verified"],
            register_match=totals["register_match"],
            communes_signed=totals["communes_signed"],
            maires=register.total_maires,
            maires_signed=totals["maires_signed"],
            maires_declared=totals["maires_declared"],
            coverage=coverage(totals["maires_signed"], register.total_maires),
            coverage_declared=coverage(totals["maires_declared"], register.total_maires),
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
        **more: int,
    ) -> list[Key]:
        """Set a stored counter; `more`: the other fields of `Stored` (register_match, ...)."""
        stored = Stored(value, verified, maires, **more)
        return self.campaign(campaign_id).set(self.index, (level, code), stored)

    def apply_stored(self, campaign_id: int, key: Key, stored: Stored) -> list[Key]:
        return self.campaign(campaign_id).set(self.index, key, stored)

    def version(self, campaign_id: int) -> Version:
        counts = self.campaign(campaign_id)
        return counts.total, counts.totals["verified"], counts.totals["register_match"]

    def all_campaigns(self) -> list[int]:
        return list(self._campaigns)

    def body(self, campaign_id: int, level: str) -> tuple[bytes, str]:
        return self.campaign(campaign_id).body(self.index, level, self.register)

    def coverage(
        self, campaign_id: int, level: str, code: str, metric: str = "maires_signed"
    ) -> float | None:
        return self.campaign(campaign_id).coverage(self.register, level, code, metric)

    def map_values(self, campaign_id: int, level: str, measure: str) -> dict[str, float]:
        """Every territory of `level`: its signatures, or for `maires` its share of maires who
        signed (0 where the register has none)."""
        codes = [t.code for t in self.index.all(level)]
        if measure == "maires":
            return {code: self.coverage(campaign_id, level, code) or 0.0 for code in codes}
        if measure == "maires_declared":
            return {
                code: self.coverage(campaign_id, level, code, "maires_declared") or 0.0
                for code in codes
            }
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
            changed[row["campaign_id"]] += self.apply_stored(
                row["campaign_id"], key, stored_of(row)
            )
        for campaign_id, counts in self._campaigns.items():  # counters that vanished
            for key in [k for k in counts.stored if k not in seen[campaign_id]]:
                changed[campaign_id] += counts.set(self.index, key, Stored())
        return {cid: keys for cid, keys in changed.items() if keys}
