"""Withdrawal and erasure: the link every email carries, and what erasing a signature leaves.

Withdrawing (from the link, a page then a POST) and an organiser's erasure request have the same
effect, in one transaction: the signature leaves the counts and the list at once, its personal
data are erased, its unsent emails are cancelled, and an anonymous tombstone stays for the
history of the totals (campaign, mandate, territory, dates, status `withdrawn`). Doing it twice
changes nothing. Retention (`campaign purge`) erases the same data but keeps the counts.
"""

from __future__ import annotations

import enum
import logging

import asyncpg

from campaign.core import tokens
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.signing.signatures import LinkedSignature

log = logging.getLogger(__name__)


def withdrawal_url(settings: Settings, salt: bytes) -> str:
    """The link to withdraw a signature (its token re-derived from the stored salt)."""
    return f"{settings.base_url}/retirer/{tokens.derive(settings.secret_key, salt)}"


async def withdrawal_salt(
    pool: asyncpg.Pool | asyncpg.Connection, settings: Settings, signature_id: int
) -> bytes | None:
    """The salt of the signature's withdrawal link, made on first use; None once erased.

    An email to a signer whose signature has none yet makes it (campaign/signing/emails.py,
    mailings included), so the link exists for every signature ever written to, old ones too.
    """
    salt, token_hash = tokens.issue(settings.secret_key)
    made: bytes | None = await pool.fetchval(
        Q["withdrawal_salt_issue"], signature_id, salt, token_hash
    )
    if made is not None:
        return made
    existing: bytes | None = await pool.fetchval(Q["withdrawal_salt"], signature_id)
    return existing


class Withdrawal(LinkedSignature, frozen=True, kw_only=True):
    erased: bool


async def find(conn: asyncpg.Connection, token: str) -> Withdrawal | None:
    """The signature behind a link; None for a malformed or unknown token. Changes nothing."""
    return await tokens.find(conn, Q["find_withdrawal"], token, Withdrawal)


class WithdrawResult(enum.Enum):
    WITHDRAWN = "withdrawn"
    ALREADY = "already"  # withdrawn (or erased) before: nothing to do
    UNKNOWN = "unknown"


async def withdraw(conn: asyncpg.Connection, token: str) -> WithdrawResult:
    """The signer withdraws: erased at once, in one transaction. Twice is harmless."""
    if not tokens.looks_like_token(token):
        return WithdrawResult.UNKNOWN
    token_hash = tokens.token_hash(token)
    async with conn.transaction():
        signature_id = await conn.fetchval(Q["lock_withdrawal"], token_hash)
        if signature_id is None:
            known = await conn.fetchval(Q["find_withdrawal"], token_hash)
            return WithdrawResult.UNKNOWN if known is None else WithdrawResult.ALREADY
        await erase(conn, [signature_id], withdraw=True)
    log.info("signature %s withdrawn by its signer", signature_id)
    return WithdrawResult.WITHDRAWN


async def erase(
    conn: asyncpg.Connection, ids: list[int], *, withdraw: bool
) -> list[tuple[int, str]]:
    """Erase these signatures' personal data, in the caller's transaction; returns the
    (id, status before) of those erased now (already erased ones are skipped).

    `withdraw`: the signer (or an erasure request) withdraws it: it leaves the counts and becomes
    a `withdrawn` tombstone. Otherwise (retention) its status and the counts stay.
    """
    rows = await conn.fetch(Q["erasure_lock"], ids)
    if not rows:
        return []
    locked = [r["id"] for r in rows]
    emails = [r["email"] for r in rows if r["email"]]
    if withdraw:
        await conn.execute(Q["erasure_uncount"], locked)
    await conn.execute(Q["erasure_outbox"], locked, emails if withdraw else [])
    await conn.execute(Q["erasure_tokens"], locked)
    await conn.execute(Q["erasure_anonymise"], locked, withdraw)
    return [(r["id"], r["status"]) for r in rows]
