"""The town hall's answers, from the page its email links to: for each signer, « oui » proves the
signature (`proof = 'mairie'`), « non » sets it aside as suspect (`mairie_denied`, shown to the
organisers). One answer per signer; an expired, cancelled or unknown link answers nothing."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final

import asyncpg
import msgspec

from campaign.core import tokens
from campaign.core.db import Q, convert_all
from campaign.reach.attestation import Signer
from campaign.signing.abuse import SHARED_MAIL_DOMAINS

ANSWERS: Final = ("yes", "no")


class Attestation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    campaign_id: int
    commune: str
    recipient: str | None
    status: str
    expires_at: datetime
    expired: bool
    commune_name: str
    commune_departement: str | None

    @property
    def open(self) -> bool:
        """Whether its link still takes answers."""
        return self.status == "queued" and not self.expired


class Found(msgspec.Struct, frozen=True, kw_only=True):
    attestation: Attestation
    signers: list[Signer]


async def find(conn: asyncpg.Connection, token: str) -> Found | None:
    """The attestation a link points at, with its signers; None for an unknown link."""
    found = await tokens.find(conn, Q["attestation_by_token"], token, Attestation)
    if found is None:
        return None
    signers = convert_all(await conn.fetch(Q["attestation_signers"], found.id), Signer)
    return Found(attestation=found, signers=signers)


class Result(enum.Enum):
    RECORDED = "recorded"
    ALREADY = "already"  # this signer already has an answer
    CLOSED = "closed"  # expired, cancelled, or every signer answered
    UNKNOWN = "unknown"


def proven_by(attestation: Attestation) -> str:
    """Who vouched: the town hall address's domain, unless it is a shared mailbox provider's
    (a small commune's gmail address proves nothing about a domain): `mairie:<INSEE>`."""
    domain = (attestation.recipient or "").rpartition("@")[2].lower()
    if domain and domain not in SHARED_MAIL_DOMAINS:
        return domain
    return f"mairie:{attestation.commune}"


async def answer(
    conn: asyncpg.Connection, token: str, signature_id: int, reply: str
) -> tuple[Result, Found | None]:
    """Records the town hall's `reply` (`yes`/`no`) about one signer, in one transaction."""
    if reply not in ANSWERS:
        raise ValueError(f"unknown answer: {reply!r}")
    async with conn.transaction():
        found = await find(conn, token)
        if found is None:
            return Result.UNKNOWN, None
        attestation = found.attestation
        if not attestation.open:
            return Result.CLOSED, found
        recorded = await conn.fetchval(
            Q["attestation_record_answer"], attestation.id, signature_id, reply
        )
        if recorded is None:
            return Result.ALREADY, found
        if reply == "yes":
            note = (
                f"Attestation de la mairie de {attestation.commune_name} "
                f"(demande n° {attestation.id})"
            )
            await conn.execute(Q["attestation_prove"], signature_id, proven_by(attestation), note)
        else:
            await conn.fetchval(Q["attestation_deny"], signature_id)
        await conn.execute(Q["attestation_close_if_answered"], attestation.id)
    refreshed = await find(conn, token)
    return Result.RECORDED, refreshed
