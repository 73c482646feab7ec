"""Verifying confirmed signatures against the register of elected officials, outside requests.

A worker (in `serve`, and `campaign worker`) claims confirmed signatures whose verification is
due (`FOR UPDATE SKIP LOCKED`, so any number of workers share the work), looks for the register
entries of the same territory, with a consistent mandate and the same names after normalisation,
and records `verified` (exactly one person matches), `ambiguous` (several do) or `not_found`.
Organisers may override the result (`override_verification`); the override wins. A match is a
*register match*, not a proof; the signature is proven (`official_domain`) when, besides, the
signer confirmed from an official domain of their mandate (campaign/register/proof.py). Organisers
attest a signer (`attest`, proof `organisers`) with a reason, or withdraw their attestation.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from campaign.core.db import Q, log_failure
from campaign.core.wakeup import listening, wait_any
from campaign.register.names import family_key, given_key, given_names_match
from campaign.register.proof import official_domains
from campaign.register.sources import OfficialRecord

log = logging.getLogger(__name__)

CHANNEL = "verification"
LISTENER_NAME = "campaign-verification-listener"
BATCH_SIZE = 200
POLL_SECONDS = 30.0

# The register mandates that justify each mandate signed: a maire, an adjoint and a maire délégué
# are also conseillers municipaux; a président of a council is also a member of it.
CONSISTENT: dict[str, tuple[str, ...]] = {
    "maire": ("maire",),
    "adjoint": ("adjoint", "maire_delegue"),
    "conseiller_municipal": ("conseiller_municipal", "adjoint", "maire", "maire_delegue"),
    "president_intercommunalite": ("president_intercommunalite",),
    "conseiller_departemental": ("conseiller_departemental", "president_departement"),
    "president_departement": ("president_departement",),
    "conseiller_regional": ("conseiller_regional", "president_region"),
    "president_region": ("president_region",),
    "depute": ("depute",),
    "senateur": ("senateur",),
}


class Result(enum.Enum):
    VERIFIED = "verified"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"


class RegisterEntry(OfficialRecord, frozen=True, kw_only=True):
    """A register entry, as recorded with the signature it verifies."""

    id: int


class Outcome(msgspec.Struct, frozen=True):
    result: Result
    match: RegisterEntry | None
    candidates: int


_encoder = msgspec.json.Encoder()


async def verify(
    conn: asyncpg.Connection,
    *,
    given_name: str,
    family_name: str,
    mandate: str,
    territory_level: str,
    territory_code: str,
) -> Outcome:
    """What the register says about these details (reads only)."""
    mandates = list(CONSISTENT.get(mandate, (mandate,)))
    rows = await conn.fetch(
        Q["verification_candidates"],
        territory_level,
        territory_code,
        mandates,
        family_key(family_name),
    )
    typed = given_key(given_name)
    matches = [r for r in rows if given_names_match(typed, r["given_key"])]
    # "Jean" matches "Jean" and "Jean Marc": the entry with exactly the forenames typed wins.
    # The register holds one entry per person and mandate (a load keeps a mandate once), so two
    # entries left are two people: homonyms, which only an organiser can tell apart.
    exact = [r for r in matches if r["given_key"].replace("-", " ") == typed.replace("-", " ")]
    found = exact or matches
    if not found:
        return Outcome(Result.NOT_FOUND, None, 0)
    if len(found) > 1:
        return Outcome(Result.AMBIGUOUS, None, len(found))
    entry = RegisterEntry(**{f: found[0][f] for f in RegisterEntry.__struct_fields__})
    return Outcome(Result.VERIFIED, entry, 1)


async def verify_due(conn: asyncpg.Connection, limit: int = BATCH_SIZE) -> int:
    """Claims up to `limit` signatures whose verification is due and records their results."""
    async with conn.transaction():
        claimed = await conn.fetch(Q["verification_claim"], limit)
        for s in claimed:
            outcome = await verify(
                conn,
                given_name=s["given_name"],
                family_name=s["family_name"],
                mandate=s["mandate"],
                territory_level=s["territory_level"],
                territory_code=s["territory_code"],
            )
            match = None if outcome.match is None else _encoder.encode(outcome.match).decode()
            domain = official_domains().proving_domain(
                s["email"], s["mandate"], s["territory_level"], s["territory_code"]
            )
            await conn.execute(
                Q["verification_record"],
                s["id"],
                outcome.result.value,
                match,
                outcome.candidates,
                domain,
            )
    if claimed:
        log.info("verification: %d signatures checked", len(claimed))
    return len(claimed)


async def verified_count(conn: asyncpg.Connection, campaign_id: int) -> int:
    """Confirmed signatures of the campaign found in the register (the back office's figure)."""
    count: int = await conn.fetchval(Q["admin_verified_count"], campaign_id)
    return count


async def override_verification(
    conn: asyncpg.Connection, signature_id: int, result: str | None, actor: str
) -> bool:
    """An organiser's decision: `verified` or `not_found`, or None to go back to the register's.

    Returns False when there is no such signature. The counts follow (trigger on signatures).
    """
    if result is not None and result not in (Result.VERIFIED.value, Result.NOT_FOUND.value):
        raise ValueError(f"unknown verification override: {result!r}")
    found = await conn.fetchval(Q["verification_override"], signature_id, result, actor)
    return found is not None


REASON_MAX = 500


async def attest(conn: asyncpg.Connection, signature_id: int, reason: str, actor: str) -> bool:
    """The organisers attest that the signer is the official declared (proof `organisers`).

    `reason` is mandatory. Returns False when there is no such signature or when it is already
    proven by its town hall or its official domain (which stays). The counts follow (trigger).
    """
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ValueError("an attestation needs a reason of 1 to 500 characters")
    found = await conn.fetchval(Q["proof_attest"], signature_id, actor, reason)
    return found is not None


async def withdraw_attestation(conn: asyncpg.Connection, signature_id: int) -> bool:
    """The organisers' attestation withdrawn; False when the signature had none."""
    return await conn.fetchval(Q["proof_withdraw"], signature_id) is not None


class VerificationStatus(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    status: str
    verification: str
    verification_match: dict[str, Any] | None
    verification_candidates: int
    verification_checked_at: datetime | None
    verification_override: str | None
    verification_override_by: str | None
    verification_override_at: datetime | None
    register_match: bool
    verified: bool
    proof: str | None


async def verification_status(
    conn: asyncpg.Connection, signature_id: int
) -> VerificationStatus | None:
    """The register's result, the override and who made it (for the back office)."""
    row = await conn.fetchrow(Q["verification_status"], signature_id)
    if row is None:
        return None
    data = dict(row)
    if isinstance(data["verification_match"], str):
        data["verification_match"] = msgspec.json.decode(data["verification_match"])
    return msgspec.convert(data, VerificationStatus)


async def run_worker(
    pool: asyncpg.Pool,
    dsn: str,
    stop: asyncio.Event,
    *,
    batch_size: int = BATCH_SIZE,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Verifies due signatures until `stop`; woken by NOTIFY on `verification`, polling in case
    of a miss."""
    async with listening(
        dsn, CHANNEL, stop, application_name=LISTENER_NAME, log=log, what="verification"
    ) as wake:
        while not stop.is_set():
            wake.clear()
            try:
                async with pool.acquire() as conn:
                    done = await verify_due(conn, batch_size)
            except Exception as exc:
                log_failure(log, "verification", exc)
                done = 0
            if done < batch_size:  # a full batch means more may be waiting
                await wait_any(stop, wake, within=poll_seconds)
