"""The « alliance » of a territory: which levels of mandate have signed there (maires, présidents
d'intercommunalité, conseillers départementaux and régionaux, députés, sénateurs), and, from the
register of elected officials, who is still missing at each level, to invite next.

A commune's alliance takes its maire and the présidents d'intercommunalité who sit in it, its
département's councillors, députés and sénateurs, its région's councillors; a département's
takes all of its communes.
"""

from __future__ import annotations

from typing import Final

import asyncpg
import msgspec

from campaign.core.db import Q
from campaign.register.names import family_key, given_key, given_names_match
from campaign.territories.index import Territory, TerritoryIndex
from campaign.territories.mandates import LABELS, LEVELS

ALLIANCE: Final = (
    "maire",
    "president_intercommunalite",
    "conseiller_departemental",
    "president_departement",
    "conseiller_regional",
    "president_region",
    "depute",
    "senateur",
)
SHOWN: Final = 30  # missing officials named per level; the rest are counted


class Person(msgspec.Struct, frozen=True, kw_only=True):
    given_name: str
    family_name: str
    territory_code: str
    verified: bool = False


class Level(msgspec.Struct, frozen=True, kw_only=True):
    mandate: str
    label: str
    signed: list[Person]
    missing: list[Person]  # the first SHOWN
    missing_count: int
    register_count: int


def scope(territory: Territory, index: TerritoryIndex) -> tuple[list[str], list[str], list[str]]:
    """The communes, départements and régions a territory's alliance looks at."""
    if territory.level == "commune":
        communes = [territory.code]
    else:
        communes = [c.code for c in index.all("commune") if c.departement == territory.code]
    departement = territory.departement if territory.level == "commune" else territory.code
    return communes, [departement or ""], [territory.region or ""]


def _signed_keys(signed: list[Person]) -> dict[tuple[str, str], list[str]]:
    """(territory, family key) → the given names' keys of those who signed."""
    keys: dict[tuple[str, str], list[str]] = {}
    for s in signed:
        keys.setdefault((s.territory_code, family_key(s.family_name)), []).append(
            given_key(s.given_name)
        )
    return keys


def _has_signed(keys: dict[tuple[str, str], list[str]], holder: asyncpg.Record) -> bool:
    given = keys.get((holder["territory_code"], holder["family_key"]), [])
    return any(given_names_match(g, holder["given_key"]) for g in given)


async def alliance(
    conn: asyncpg.Connection, campaign_id: int, territory: Territory, index: TerritoryIndex
) -> list[Level]:
    communes, departements, regions = scope(territory, index)
    signed_rows = await conn.fetch(
        Q["alliance_signed"], campaign_id, communes, departements, regions
    )
    register_rows = await conn.fetch(Q["alliance_register"], communes, departements, regions)
    levels: list[Level] = []
    for mandate in ALLIANCE:
        signed = [
            Person(
                given_name=r["given_name"],
                family_name=r["family_name"],
                territory_code=r["territory_code"],
                verified=r["verified"],
            )
            for r in signed_rows
            if r["mandate"] == mandate and r["territory_level"] == LEVELS[mandate]
        ]
        holders = [r for r in register_rows if r["mandate"] == mandate]
        keys = _signed_keys(signed)
        missing = [
            Person(
                given_name=h["given_name"],
                family_name=h["family_name"],
                territory_code=h["territory_code"],
            )
            for h in holders
            if not _has_signed(keys, h)
        ]
        levels.append(
            Level(
                mandate=mandate,
                label=LABELS[mandate],
                signed=signed,
                missing=missing[:SHOWN],
                missing_count=len(missing),
                register_count=len(holders),
            )
        )
    return levels
