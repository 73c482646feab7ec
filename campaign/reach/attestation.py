"""The town hall confirms (issue 14 §2): municipal signers that match the register are put, once,
to their commune's town hall, which answers on a page for each of them (attestation_answers.py).

A worker (wherever mail is sent) takes one round at a time across all workers (an advisory lock):
it finds the communes whose confirmed, non-suspect, unproven maires, adjoints or conseillers
municipaux match the register and were never asked, and queues one email per commune, to the
address the administration's directory publishes (campaign/reach/mairies.py) — never more than
one a day per commune, never more than `MAIRIE_ATTESTATIONS_PER_HOUR` across the campaign, never
to an address on the suppression list. Intercommunalités, départements and régions have no
address known here: their officials are proven by official domain or by the organisers.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Final

import asyncpg
import msgspec

from campaign.core import tokens
from campaign.core.audit import Actor, record
from campaign.core.db import Q, convert_all, log_failure
from campaign.core.settings import Settings
from campaign.core.wakeup import listening, wait_any
from campaign.mail import outbox, suppression
from campaign.reach.mairies import TownHalls

log = logging.getLogger(__name__)

CHANNEL: Final = "attestation"
LISTENER_NAME: Final = "campaign-attestation-listener"
TEMPLATE: Final = "attestation"
TTL_DAYS: Final = 30
"""Days an attestation's link answers (renewed by a resend)."""
POLL_SECONDS: Final = 60.0
ROUND_SIZE: Final = 50
MANDATES: Final = ("maire", "adjoint", "conseiller_municipal")

STATUS_LABELS: Final = {
    "queued": "En attente de réponse",
    "answered": "Répondu",
    "cancelled": "Annulée",
    "no_address": "Aucune adresse connue pour cette mairie",
    "suppressed": "Adresse en liste d’opposition : rien envoyé",
}


class RoundReport(msgspec.Struct, frozen=True, kw_only=True):
    sent: int = 0
    no_address: int = 0
    suppressed: int = 0
    skipped: bool = False
    """Another worker held the round."""

    @property
    def handled(self) -> int:
        return self.sent + self.no_address + self.suppressed


async def _queue_email(conn: asyncpg.Connection, attestation_id: int, recipient: str) -> int:
    outbox_id = await outbox.enqueue(
        conn, template=TEMPLATE, recipient=recipient, signature_id=None, token_id=None
    )
    await conn.execute(Q["attestation_sent"], attestation_id, outbox_id)
    return outbox_id


async def queue_due(
    conn: asyncpg.Connection,
    settings: Settings,
    town_halls: TownHalls,
    *,
    limit: int = ROUND_SIZE,
) -> RoundReport:
    """One round: the attestations due, written with their emails in one transaction."""
    sent = no_address = suppressed = 0
    async with conn.transaction():
        if not await conn.fetchval(Q["attestation_lock"]):
            return RoundReport(skipped=True)
        allowed = settings.mairie_attestations_per_hour - int(
            await conn.fetchval(Q["attestation_sent_last_hour"])
        )
        if allowed <= 0:
            return RoundReport()
        addresses = town_halls.addresses()
        seen: set[str] = set()
        for row in await conn.fetch(Q["attestation_due_communes"], limit):
            commune = row["commune"]
            if commune in seen:  # two campaigns' signers: the other one tomorrow
                continue
            seen.add(commune)
            address = addresses.get(commune)
            if address is None:
                status = "no_address"
            elif await suppression.is_suppressed(conn, address):
                status = "suppressed"
            elif sent >= allowed:
                break
            else:
                status = "queued"
            salt, token_hash = tokens.issue(settings.secret_key)
            attestation_id = await conn.fetchval(
                Q["attestation_insert"],
                row["campaign_id"],
                commune,
                address,
                status,
                salt,
                token_hash,
                TTL_DAYS,
                row["signature_ids"],
            )
            if status == "queued":
                assert address is not None
                await _queue_email(conn, attestation_id, address)
                sent += 1
            elif status == "no_address":
                no_address += 1
            else:
                suppressed += 1
    report = RoundReport(sent=sent, no_address=no_address, suppressed=suppressed)
    if report.handled:
        log.info(
            "attestations: %d queued, %d without address, %d suppressed",
            sent,
            no_address,
            suppressed,
        )
    return report


async def run_worker(
    pool: asyncpg.Pool,
    dsn: str,
    settings: Settings,
    town_halls: TownHalls,
    stop: asyncio.Event,
    *,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Queues due attestations until `stop`; woken by NOTIFY on `attestation` (a municipal
    signature matched the register), polling for the next day's and the next hour's."""
    async with listening(
        dsn, CHANNEL, stop, application_name=LISTENER_NAME, log=log, what="attestations"
    ) as wake:
        while not stop.is_set():
            wake.clear()
            try:
                async with pool.acquire() as conn:
                    report = await queue_due(conn, settings, town_halls)
            except Exception as exc:
                log_failure(log, "attestations", exc)
                report = RoundReport()
            if report.handled < ROUND_SIZE:  # a full round means more may be waiting
                await wait_any(stop, wake, within=poll_seconds)


# -- the back office ----------------------------------------------------------------------------


class Signer(msgspec.Struct, frozen=True, kw_only=True):
    signature_id: int
    given_name: str | None
    family_name: str | None
    mandate: str
    erased: bool
    answer: str | None
    answered_at: datetime | None


class Listed(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    commune: str
    commune_name: str
    commune_departement: str | None
    recipient: str | None
    status: str
    created_at: datetime
    last_sent_at: datetime | None
    sends: int
    answered_at: datetime | None
    expires_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    mail_status: str | None
    mail_sent_at: datetime | None
    mail_error: str | None
    signers: list[Signer] = []


async def listing(
    conn: asyncpg.Connection, campaign_id: int, *, before: int | None, limit: int
) -> list[Listed]:
    """The campaign's attestations, newest first, each with its signers and answers."""
    rows = convert_all(await conn.fetch(Q["attestation_list"], campaign_id, before, limit), Listed)
    by_id = {r.id: r for r in rows}
    for s in await conn.fetch(Q["attestation_list_signers"], list(by_id)):
        found = by_id[s["attestation_id"]]
        found.signers.append(
            msgspec.convert({k: v for k, v in s.items() if k != "attestation_id"}, Signer)
        )
    return rows


class ActionError(Exception):
    """An organiser's action refused; the message (French) says why."""


async def resend(
    conn: asyncpg.Connection, settings: Settings, attestation_id: int, campaign_id: int, who: Actor
) -> None:
    """Sends the attestation's email again (the same link, valid TTL_DAYS from now)."""
    async with conn.transaction():
        found = await conn.fetchrow(Q["attestation_get"], attestation_id)
        if found is None or found["campaign_id"] != campaign_id:
            raise ActionError("Demande d’attestation introuvable.")
        if found["status"] != "queued" or found["recipient"] is None:
            raise ActionError(
                "Seule une demande en attente de réponse peut être renvoyée "
                f"(celle-ci : {STATUS_LABELS[found['status']].lower()})."
            )
        if await suppression.is_suppressed(conn, found["recipient"]):
            raise ActionError("L’adresse de cette mairie est en liste d’opposition.")
        if found["outbox_id"] is not None:
            await conn.execute(Q["attestation_cancel_mail"], found["outbox_id"])
        await conn.execute(Q["attestation_renew"], attestation_id, TTL_DAYS)
        await _queue_email(conn, attestation_id, found["recipient"])
        await record(
            conn,
            who,
            "attestation.resend",
            target_type="attestation",
            target_id=attestation_id,
            detail={"commune": found["commune"], "envois": found["sends"] + 1},
        )


async def cancel(
    conn: asyncpg.Connection, attestation_id: int, campaign_id: int, who: Actor
) -> None:
    """Cancels a pending attestation: its email if not sent yet, its link's answers."""
    async with conn.transaction():
        found = await conn.fetchrow(Q["attestation_get"], attestation_id)
        if found is None or found["campaign_id"] != campaign_id:
            raise ActionError("Demande d’attestation introuvable.")
        if found["status"] != "queued":
            raise ActionError("Cette demande n’est plus en attente de réponse.")
        await conn.execute(Q["attestation_cancel"], attestation_id, who.email)
        if found["outbox_id"] is not None:
            await conn.execute(Q["attestation_cancel_mail"], found["outbox_id"])
        await record(
            conn,
            who,
            "attestation.cancel",
            target_type="attestation",
            target_id=attestation_id,
            before={"statut": "queued"},
            after={"statut": "cancelled"},
            detail={"commune": found["commune"]},
        )
