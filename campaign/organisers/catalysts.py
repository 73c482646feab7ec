"""Territorial catalysts' accounts: created by an organiser, each with the territories it owns
(communes or départements) and a relay of its own, whose code its QR code and flyer carry.

The register of elected officials carries no intercommunality's membership (only the commune
where its président sits): a catalyst's territory is made of communes and départements.
"""

from __future__ import annotations

import secrets
from typing import Final

import asyncpg
import msgspec

from campaign.core import audit
from campaign.core.audit import Actor
from campaign.core.db import Q, convert, convert_all
from campaign.core.settings import Settings
from campaign.organisers import passwords
from campaign.organisers.accounts import AccountError, normalise_email
from campaign.organisers.roles import CATALYST
from campaign.reach import relays
from campaign.territories.index import Territory, TerritoryIndex

LEVELS: Final = ("commune", "departement")
MAX_TERRITORIES: Final = 200


class Catalyst(msgspec.Struct, frozen=True, kw_only=True):
    id: int  # the organiser's account
    email: str
    name: str
    relay_id: int
    relay_code: str
    campaign_id: int
    active: bool


class Listed(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    email: str
    name: str
    relay_code: str
    active: bool
    territories: list[str]  # "level:code"
    contacts: int


def parse_territories(raw: str, index: TerritoryIndex) -> list[Territory]:
    """« 26, 07001 » → the Drôme and Annonay: département codes or communes' INSEE codes,
    separated by commas, spaces or new lines; every unknown code is named in the error."""
    found: dict[tuple[str, str], Territory] = {}
    unknown: list[str] = []
    for code in raw.replace(",", " ").replace(";", " ").split():
        code = code.strip().upper() if code[:2].upper() in ("2A", "2B") else code.strip()
        territory = index.get("departement", code) or index.get("commune", code)
        if territory is None:
            unknown.append(code[:20])
        else:
            found[(territory.level, territory.code)] = territory
    if unknown:
        raise AccountError("Territoire inconnu : " + ", ".join(unknown[:10]) + ".")
    if not found:
        raise AccountError("Indiquez au moins un territoire (code de département ou de commune).")
    if len(found) > MAX_TERRITORIES:
        raise AccountError(f"{MAX_TERRITORIES} territoires au plus par compte.")
    return list(found.values())


def new_password() -> str:
    """The first password of an invited catalyst, shown once to the organiser who passes it on."""
    return secrets.token_urlsafe(15)


async def create(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign_id: int,
    who: Actor,
    *,
    name: str,
    email: str,
    territories: list[Territory],
    password: str,
) -> int:
    """A catalyst's account, its relay (named after it, on its first territory) and territories,
    all or nothing."""
    email = normalise_email(email)
    name = " ".join(name.split())
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError("Adresse électronique invalide.")
    if not name or len(name) > relays.NAME_MAX:
        raise AccountError(f"Le nom est obligatoire ({relays.NAME_MAX} caractères au plus).")
    if problem := passwords.password_problem(password):
        raise AccountError(problem)
    password_hash = passwords.hash_password(password)
    async with conn.transaction():
        organiser_id = await conn.fetchval(
            Q["admin_insert_organiser"], email, password_hash, CATALYST
        )
        if organiser_id is None:
            raise AccountError("Un compte existe déjà pour cette adresse.")
        try:
            relay_id = await relays.create(
                conn,
                settings,
                campaign_id,
                name=name,
                territory=territories[0],
                code=None,
                who=who,
            )
        except relays.RelayError as exc:
            raise AccountError(str(exc)) from exc
        await conn.execute(Q["catalyst_insert"], organiser_id, name, relay_id)
        for territory in territories:
            await conn.execute(
                Q["catalyst_add_territory"], organiser_id, territory.level, territory.code
            )
        await audit.record(
            conn,
            who,
            "catalyst.create",
            target_type="organiser",
            target_id=organiser_id,
            after={
                "nom": name,
                "relais": relay_id,
                "territoires": [f"{t.level}:{t.code}" for t in territories],
            },
        )
    result: int = organiser_id
    return result


async def get(conn: asyncpg.Connection, organiser_id: int) -> Catalyst | None:
    row = await conn.fetchrow(Q["catalyst_get"], organiser_id)
    return None if row is None else convert(row, Catalyst)


async def territories(
    conn: asyncpg.Connection, organiser_id: int, index: TerritoryIndex
) -> list[Territory]:
    rows = await conn.fetch(Q["catalyst_territories"], organiser_id)
    found = [index.get(r["level"], r["code"]) for r in rows]
    return [t for t in found if t is not None]


async def listing(conn: asyncpg.Connection, campaign_id: int) -> list[Listed]:
    return convert_all(await conn.fetch(Q["catalyst_list"], campaign_id), Listed)
