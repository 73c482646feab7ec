"""The published list of signatories: its rows, grouped by région and département."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec
from markupsafe import Markup

from campaign.territories.index import Territory, TerritoryIndex, normalize


class ListedSignatory(msgspec.Struct, frozen=True, kw_only=True):
    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str
    confirmed_at: datetime
    featured: bool
    verified: bool
    region: str | None
    departement: str | None


Listed = tuple[ListedSignatory, Territory | None]


@dataclass(frozen=True)
class DepartementGroup:
    code: str | None
    label: str
    people: list[Listed]


@dataclass(frozen=True)
class RegionGroup:
    code: str | None
    label: str
    departements: list[DepartementGroup]
    count: int


@dataclass(frozen=True)
class Listing:
    groups: list[RegionGroup]
    count: int
    digest: str
    html: Markup


def group(rows: list[ListedSignatory], index: TerritoryIndex) -> list[RegionGroup]:
    """By région (by name; those without one last), then département (regional mandates first,
    then by code); featured signatories first, then by family and given name."""

    def person_key(s: ListedSignatory) -> tuple[bool, str, str]:
        return (not s.featured, normalize(s.family_name), normalize(s.given_name))

    regions: dict[str | None, dict[str | None, list[ListedSignatory]]] = {}
    for row in rows:
        regions.setdefault(row.region, {}).setdefault(row.departement, []).append(row)
    groups = []
    for region_code, departements in regions.items():
        region = index.get("region", region_code) if region_code else None
        deps = []
        for dep_code in sorted(departements, key=lambda c: (c is not None, c or "")):
            if dep_code is None:
                label = "Mandats régionaux" if region else "Autres mandats"
            else:
                dep = index.get("departement", dep_code)
                label = f"{dep.name} ({dep.code})" if dep else dep_code
            people = sorted(departements[dep_code], key=person_key)
            deps.append(
                DepartementGroup(
                    dep_code,
                    label,
                    [(s, index.get(s.territory_level, s.territory_code)) for s in people],
                )
            )
        label = region.name if region else "Autres territoires"
        groups.append(RegionGroup(region_code, label, deps, sum(len(d.people) for d in deps)))
    groups.sort(key=lambda g: (g.code is None, normalize(g.label)))
    return groups
