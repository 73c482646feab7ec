"""Relays: people or organisations who bring the officials of a territory to sign.

Each relay has a code (in the link it shares, `/?ref=CODE`, stored on the signatures that follow)
and a secret link (`/relais/TOKEN`) to follow what it brought and its territory's coverage, with
no access to anything else. As for every link, the database keeps only the token's SHA-256 and
the salt it is derived from (so an organiser can show the link again, or replace it).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Final

import asyncpg
import msgspec

from campaign.core import tokens
from campaign.core.audit import Actor, record
from campaign.core.db import Q, convert, convert_all
from campaign.core.settings import Settings
from campaign.counts.cache import CountsCache
from campaign.territories.index import Territory, TerritoryIndex
from campaign.territories.mandates import MandateHolder

CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
NAME_MAX: Final = 200


class RelayError(ValueError):
    """A French message for the organiser."""


class Relay(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    campaign_id: int
    name: str
    territory_level: str
    territory_code: str
    code: str
    token_salt: bytes
    active: bool
    created_at: datetime


def secret_link(settings: Settings, relay: Relay) -> str:
    return f"{settings.base_url}/relais/{tokens.derive(settings.secret_key, relay.token_salt)}"


def share_link(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/?ref={code}#signer"


def code_from_name(name: str) -> str:
    """A readable code from the name (« Réseau Drôme » → reseau-drome-3f9a)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:30].strip("-") or "relais"
    return f"{slug}-{secrets.token_hex(2)}"


async def create(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign_id: int,
    *,
    name: str,
    territory: Territory,
    code: str | None,
    who: Actor,
) -> int:
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        raise RelayError(f"Le nom est obligatoire ({NAME_MAX} caractères au plus).")
    code = (code or "").strip() or code_from_name(name)
    if not CODE.fullmatch(code):
        raise RelayError("Code invalide : lettres, chiffres, tirets, 40 caractères au plus.")
    async with conn.transaction():
        relay_id = await conn.fetchval(
            Q["relay_insert"],
            campaign_id,
            name,
            territory.level,
            territory.code,
            code,
            *tokens.issue(settings.secret_key),
        )
        if relay_id is None:
            raise RelayError(f"Le code « {code} » est déjà pris par un autre relais.")
        await record(
            conn,
            who,
            "relay.create",
            target_type="relay",
            target_id=relay_id,
            after={"nom": name, "territoire": territory.code, "code": code},
        )
    result: int = relay_id
    return result


async def get(conn: asyncpg.Connection, relay_id: int) -> Relay | None:
    row = await conn.fetchrow(Q["relay_get"], relay_id)
    return None if row is None else convert(row, Relay)


async def by_token(conn: asyncpg.Connection, token: str) -> Relay | None:
    """The active relay of a secret link; None for anything else (malformed, unknown, revoked)."""
    return await tokens.find(conn, Q["relay_by_token"], token, Relay)


async def renew_link(
    conn: asyncpg.Connection, settings: Settings, relay_id: int, who: Actor
) -> bool:
    """A new secret link; the old one stops working at once."""
    async with conn.transaction():
        done = await conn.fetchval(
            Q["relay_new_token"], relay_id, *tokens.issue(settings.secret_key)
        )
        if done is not None:
            await record(conn, who, "relay.renew_link", target_type="relay", target_id=relay_id)
    return done is not None


async def set_active(conn: asyncpg.Connection, relay_id: int, active: bool, who: Actor) -> bool:
    async with conn.transaction():
        done = await conn.fetchval(Q["relay_set_active"], relay_id, active)
        if done is not None:
            await record(
                conn,
                who,
                "relay.activate" if active else "relay.deactivate",
                target_type="relay",
                target_id=relay_id,
            )
    return done is not None


class Ranked(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    code: str
    territory_level: str
    territory_code: str
    active: bool
    confirmed: int
    pending: int
    verified: int
    maires: int


async def ranking(conn: asyncpg.Connection, campaign_id: int) -> list[Ranked]:
    return convert_all(await conn.fetch(Q["relay_ranking"], campaign_id), Ranked)


class Brought(MandateHolder, frozen=True, kw_only=True):
    public: bool
    status: str
    verified: bool
    proof: str | None = None
    register_match: bool = False
    confirmed_at: datetime | None
    created_at: datetime


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    confirmed: int
    pending: int
    listed: int
    verified: int
    register_match: int = 0


async def brought(
    conn: asyncpg.Connection, relay: Relay, limit: int = 500
) -> tuple[Totals, list[Brought]]:
    totals = convert(await conn.fetchrow(Q["relay_totals"], relay.campaign_id, relay.id), Totals)
    rows = await conn.fetch(Q["relay_signatures"], relay.campaign_id, relay.id, limit)
    return totals, convert_all(rows, Brought)


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    """A territory's figures, from the in-memory counts (no query)."""

    confirmed: int
    verified: int
    maires: int
    maires_signed: int
    coverage: float | None
    communes_signed: int


def coverage(counts: CountsCache, campaign_id: int, level: str, code: str) -> Coverage:
    campaign = counts.campaign(campaign_id)
    return Coverage(
        confirmed=campaign.count(level, code),
        verified=campaign.metric("verified", level, code),
        maires=counts.register.maires[level].get(code, 0),
        maires_signed=campaign.metric("maires_signed", level, code),
        coverage=counts.coverage(campaign_id, level, code),
        communes_signed=campaign.metric("communes_signed", level, code),
    )


def communes_of(index: TerritoryIndex, level: str, code: str) -> list[Territory]:
    if level == "commune":
        found = index.get("commune", code)
        return [found] if found else []
    field = "departement" if level == "departement" else "region"
    return [t for t in index.all("commune") if getattr(t, field) == code]


def unsigned_communes(
    counts: CountsCache, index: TerritoryIndex, campaign_id: int, level: str, code: str
) -> list[Territory]:
    """The communes of a territory where no official has signed yet (no confirmed signature),
    most populated first: where to call next."""
    campaign = counts.campaign(campaign_id)
    found = [t for t in communes_of(index, level, code) if not campaign.count("commune", t.code)]
    found.sort(key=lambda t: (-(t.population or 0), t.name))
    return found
