"""Invitations: officials the organisers invite to sign, each with a personal link.

The link (`/?ref=CODE&invitation=TOKEN`) opens the form pre-filled with the invitee's names,
mandate and territory, never their address: the token (HMAC of a stored salt, only its SHA-256
in the database, like every link) finds the invitation on the server. CODE is the attribution
code: the signature that follows stores it in `ref`, and counts for the invitation (and for its
relay, if a relay brought the invitee).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Final

import asyncpg
import msgspec

from campaign.core import tokens
from campaign.core.audit import Actor, record
from campaign.core.db import Q, convert_all
from campaign.core.settings import Settings
from campaign.reach.invitation_csv import Invitee
from campaign.territories.index import TerritoryIndex
from campaign.territories.mandates import MandateHolder

STATUS_LABELS: Final = {
    "new": "Pas encore invité·e",
    "invited": "Invitation envoyée",
    "queued": "Invitation en file d’attente",
    "failed": "Invitation en échec",
    "opted_out": "Ne souhaite plus être contacté·e",
    "pending": "A signé (non confirmé)",
    "signed": "A signé",
}


def new_code() -> str:
    """The attribution code of an invitation: short, unguessable enough, URL-safe."""
    return "inv-" + secrets.token_hex(5)


def link(settings: Settings, code: str, salt: bytes) -> str:
    token = tokens.derive(settings.secret_key, salt)
    return f"{settings.base_url}/?ref={code}&invitation={token}#signer"


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    added: int
    already: int  # the address was already invited to this campaign


async def add_invitees(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign_id: int,
    invitees: list[Invitee],
    who: Actor,
    *,
    source: str = "csv",
    relay_id: int | None = None,
) -> ImportResult:
    """Stores the invitees (an address already invited to the campaign is left as it was)."""
    rows = []
    for invitee in invitees:
        salt, token_hash = tokens.issue(settings.secret_key)
        rows.append(
            (
                campaign_id,
                invitee.email,
                invitee.given_name,
                invitee.family_name,
                invitee.mandate,
                invitee.territory_level,
                invitee.territory_code,
                relay_id,
                source,
                new_code(),
                salt,
                token_hash,
            )
        )
    async with conn.transaction():
        added: int = (
            await conn.fetchval(
                Q["invitations_insert_many"], *[list(column) for column in zip(*rows, strict=True)]
            )
            if rows
            else 0
        )
        await record(
            conn,
            who,
            "invitations.import",
            target_type="campaign",
            target_id=campaign_id,
            detail={"source": source, "ajoutées": added, "déjà là": len(rows) - added},
        )
    return ImportResult(added=added, already=len(rows) - added)


class Prefill(MandateHolder, frozen=True, kw_only=True):
    """What an invitation's link puts in the form."""

    code: str


async def prefill(conn: asyncpg.Connection, token: str) -> Prefill | None:
    return await tokens.find(conn, Q["invitation_by_token"], token, Prefill)


def form_values(found: Prefill, index: TerritoryIndex) -> dict[str, str]:
    territory = index.get(found.territory_level, found.territory_code)
    return {
        "given_name": found.given_name,
        "family_name": found.family_name,
        "mandate": found.mandate,
        "territory_code": territory.label if territory else found.territory_code,
        "ref": found.code,
    }


class InvitationRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str
    source: str
    code: str
    relay_name: str | None
    created_at: datetime
    status: str  # a key of STATUS_LABELS, computed in SQL (invitations_list)


async def listing(
    conn: asyncpg.Connection,
    campaign_id: int,
    *,
    departement: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[InvitationRow]]:
    rows = await conn.fetch(Q["invitations_list"], campaign_id, departement, status, limit, offset)
    total = rows[0]["total"] if rows else 0
    return total, convert_all(rows, InvitationRow)


async def summary(conn: asyncpg.Connection, campaign_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(Q["invitations_summary"], campaign_id)
    return dict(row) if row is not None else {}
