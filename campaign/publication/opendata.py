"""The open data (issue 17 §3): the published counts per région, département, commune and
mandate as CSV files under Licence Ouverte 2.0, each described by a Table Schema, all listed in
a Data Package (datapackage.json) ready for data.gouv.fr.

Names are chosen to stay right whatever `verified` comes to mean: `signatures_declarees` are the
confirmed signatures that count (what the counters hold), `signatures_verifiees` those among
them whose column `verified` is true. Per commune only the declared count is published: a
commune has one maire, so any figure per mandate or per proof there could point at a person who
did not agree to be listed (issue 14 §3).

Files are built from the counts in memory (and one grouped query for the mandates), once per
change of the counts and at most once every `MIN_INTERVAL` seconds, then served by ETag.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import msgspec

from campaign.core.bodies import etag_of
from campaign.core.db import Q
from campaign.counts.cache import CountsCache
from campaign.letter.campaigns import Campaign
from campaign.territories.index import TerritoryIndex
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.territories.mandates import LEVELS as MANDATE_LEVELS
from campaign.territories.mandates import MANDATES

MIN_INTERVAL = 10.0
LICENCE: Final = {
    "name": "etalab-2.0",
    "title": "Licence Ouverte / Open Licence version 2.0",
    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
}
COG: Final = {
    "title": "Insee, Code officiel géographique 2026 (codes et noms des territoires), "
    "mis en forme par Etalab (@etalab/decoupage-administratif), Licence Ouverte 2.0",
    "path": "https://www.insee.fr/fr/information/2560452",
}
RNE: Final = {
    "title": "Ministère de l’Intérieur, Répertoire national des élus (vérification des "
    "mandats), Licence Ouverte 2.0",
    "path": "https://www.data.gouv.fr/fr/datasets/repertoire-national-des-elus-1/",
}

DECLARED = (
    "signatures_declarees",
    "integer",
    "Signatures déclarées",
    "Signatures confirmées par courriel (double validation) et retenues, quel que soit le "
    "niveau de preuve du mandat déclaré.",
)
VERIFIED = (
    "signatures_verifiees",
    "integer",
    "Signatures vérifiées",
    "Parmi les signatures déclarées, celles d’élus vérifiés : la mairie, l’adresse au domaine "
    "officiel de la collectivité ou l’équipe a prouvé que le signataire est l’élu déclaré (un "
    "mandat seulement trouvé au RNE ne suffit pas ; voir la description du jeu de données).",
)
REGION = ("code_region", "string", "Code de la région", "Code Insee de la région (COG).")
DEPARTEMENT = (
    "code_departement",
    "string",
    "Code du département",
    "Code Insee du département (COG), par exemple 01, 2A, 974.",
)

Field = tuple[str, str, str, str]


@dataclass(frozen=True)
class Resource:
    name: str
    title: str
    description: str
    fields: tuple[Field, ...]
    key: str
    sources: tuple[dict[str, str], ...]


RESOURCES: Final[dict[str, Resource]] = {
    r.name: r
    for r in (
        Resource(
            "regions",
            "Signatures par région",
            "Signatures de la lettre par région (toutes les régions, y compris sans signature) : "
            "chaque signature compte dans la région de son territoire.",
            (
                REGION,
                ("nom_region", "string", "Nom de la région", "Nom (COG)."),
                DECLARED,
                VERIFIED,
            ),
            "code_region",
            (COG, RNE),
        ),
        Resource(
            "departements",
            "Signatures par département",
            "Signatures de la lettre par département (tous les départements) : les signatures des "
            "communes et celles des mandats départementaux et parlementaires.",
            (
                DEPARTEMENT,
                ("nom_departement", "string", "Nom du département", "Nom (COG)."),
                REGION,
                DECLARED,
                VERIFIED,
            ),
            "code_departement",
            (COG, RNE),
        ),
        Resource(
            "communes",
            "Signatures par commune",
            "Signatures déclarées par commune (seules les communes qui en ont). Aucun décompte "
            "par mandat ni par vérification à cette échelle : une commune n’a qu’un·e maire, "
            "qui ne doit pas être reconnaissable s’il ou elle n’a pas accepté d’être listé·e.",
            (
                ("code_commune", "string", "Code de la commune", "Code Insee de la commune (COG)."),
                ("nom_commune", "string", "Nom de la commune", "Nom (COG)."),
                DEPARTEMENT,
                REGION,
                DECLARED,
            ),
            "code_commune",
            (COG,),
        ),
        Resource(
            "mandats",
            "Signatures par mandat",
            "Signatures de la lettre par mandat déclaré, pour la France entière.",
            (
                ("mandat", "string", "Mandat", "Code du mandat (maire, adjoint, depute…)."),
                ("libelle_mandat", "string", "Libellé du mandat", "Le mandat en toutes lettres."),
                (
                    "niveau_territoire",
                    "string",
                    "Niveau du territoire",
                    "commune, departement ou region : le territoire que le mandat désigne.",
                ),
                DECLARED,
                VERIFIED,
            ),
            "mandat",
            (RNE,),
        ),
    )
}


def schema(resource: Resource, campaign: Campaign, publisher: str) -> dict[str, Any]:
    """The resource's Table Schema (frictionless), with the licence and sources' attributions
    as schema.data.gouv.fr's schemas carry them."""
    return {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "name": f"{campaign.slug}-{resource.name}",
        "title": f"{campaign.title} — {resource.title}",
        "description": resource.description,
        "licenses": [LICENCE],
        "sources": [{"title": f"{publisher} : signatures de la lettre"}, *resource.sources],
        "fields": [
            {
                "name": name,
                "type": kind,
                "title": title,
                "description": description,
                "constraints": {"required": True, **({"minimum": 0} if kind == "integer" else {})},
            }
            for name, kind, title, description in resource.fields
        ],
        "primaryKey": [resource.key],
        "missingValues": [""],
    }


def datapackage(campaign: Campaign, base_url: str, publisher: str) -> dict[str, Any]:
    """The Data Package listing every resource at its stable URL, with its schema."""
    root = f"{base_url}/donnees/{campaign.slug}"
    return {
        "profile": "tabular-data-package",
        "name": f"{campaign.slug}-signatures",
        "title": f"{campaign.title} — signatures par territoire et par mandat",
        "description": (
            "Décomptes publics des signatures de la lettre ouverte, mis à jour en continu. "
            "« Déclarées » : signatures confirmées par courriel et retenues ; « vérifiées » : "
            "celles d’élus vérifiés (preuve : mairie, domaine officiel ou équipe ; un mandat "
            "seulement trouvé au RNE n’en est pas une). Aucune donnée personnelle."
        ),
        "homepage": f"{base_url}/",
        "licenses": [LICENCE],
        "sources": [
            {"title": f"{publisher} : signatures de la lettre", "path": f"{base_url}/"},
            COG,
            RNE,
        ],
        "contributors": [{"title": publisher, "role": "publisher"}],
        "resources": [
            {
                "name": r.name,
                "title": r.title,
                "description": r.description,
                "path": f"{root}/{r.name}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "profile": "tabular-data-resource",
                "schema": f"{root}/{r.name}.schema.json",
                "licenses": [LICENCE],
            }
            for r in RESOURCES.values()
        ],
    }


def csv_bytes(resource: Resource, rows: Iterable[Iterable[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(f[0] for f in resource.fields)
    writer.writerows(rows)
    return out.getvalue().encode()


def territory_rows(
    counts: CountsCache, index: TerritoryIndex, campaign_id: int, level: str
) -> list[list[object]]:
    c = counts.campaign(campaign_id)
    rows: list[list[object]] = []
    if level == "commune":
        for code in sorted(code for code, n in c.rolled["commune"].items() if n):
            t = index.get("commune", code)
            name, dep, reg = (t.name, t.departement, t.region) if t else (code, "", "")
            rows.append([code, name, dep or "", reg or "", c.count("commune", code)])
        return rows
    for t in index.all(level):
        declared, verified = c.count(level, t.code), c.metric("verified", level, t.code)
        if level == "region":
            rows.append([t.code, t.name, declared, verified])
        else:
            rows.append([t.code, t.name, t.region or "", declared, verified])
    return rows


async def mandate_rows(pool: asyncpg.Pool, campaign_id: int) -> list[list[object]]:
    found = {r["mandate"]: r for r in await pool.fetch(Q["opendata_mandates"], campaign_id)}
    return [
        [
            m,
            MANDATE_LABELS[m],
            MANDATE_LEVELS[m],
            found[m]["declared"] if m in found else 0,
            found[m]["verified"] if m in found else 0,
        ]
        for m in MANDATES
    ]


@dataclass(frozen=True)
class OpenFile:
    body: bytes
    etag: str
    media_type: str


_json = msgspec.json.Encoder()
LEVEL_OF = {"regions": "region", "departements": "departement", "communes": "commune"}
FILES: Final = frozenset(
    ["datapackage.json"] + [f"{n}.csv" for n in RESOURCES] + [f"{n}.schema.json" for n in RESOURCES]
)


class OpenData:
    """Each process's open-data files, per campaign, rebuilt when the counts move."""

    def __init__(
        self, pool: asyncpg.Pool, counts: CountsCache, index: TerritoryIndex, base_url: str
    ) -> None:
        self._pool, self._counts, self._index, self._base_url = pool, counts, index, base_url
        self._built: dict[tuple[int, str], tuple[object, float, OpenFile]] = {}
        self._lock = asyncio.Lock()

    async def file(self, campaign: Campaign, name: str, publisher: str) -> OpenFile | None:
        """One of `FILES`; None for any other name."""
        if name not in FILES:
            return None
        if name == "datapackage.json":
            return _json_file(datapackage(campaign, self._base_url, publisher))
        stem, _, kind = name.partition(".")
        resource = RESOURCES[stem]
        if kind == "schema.json":
            return _json_file(schema(resource, campaign, publisher))
        version = self._counts.version(campaign.id)
        key = (campaign.id, stem)
        async with self._lock:
            built = self._built.get(key)
            if built and (built[0] == version or time.monotonic() - built[1] < MIN_INTERVAL):
                return built[2]
            if stem == "mandats":
                rows = await mandate_rows(self._pool, campaign.id)
            else:
                rows = territory_rows(self._counts, self._index, campaign.id, LEVEL_OF[stem])
            body = csv_bytes(resource, rows)
            made = OpenFile(body, etag_of(body), "text/csv; charset=utf-8")
            self._built[key] = (version, time.monotonic(), made)
            return made


def _json_file(value: dict[str, Any]) -> OpenFile:
    body = _json.encode(value)
    return OpenFile(body, etag_of(body), "application/json")
