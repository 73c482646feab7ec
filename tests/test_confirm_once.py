"""Confirming is one statement (sql/queries/signatures.sql: confirm_by_token): clicks at once
confirm and count once; an expired link, a suspect signature and an unknown token behave."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from campaign.core import tokens
from campaign.letter.campaigns import CampaignDefinition, save_campaign
from campaign.signing.signatures import ConfirmResult, confirm


async def _pending(
    db: asyncpg.Connection, *, expires_in: timedelta = timedelta(days=7), suspect: bool = False
) -> tuple[str, int, str]:
    """A pending signature in a commune of its own draw, and its link's token."""
    campaign_id = await save_campaign(
        db,
        CampaignDefinition(
            slug=f"once-{uuid.uuid4().hex[:8]}",
            title="Essai",
            launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC),
            body="Texte.",
        ),
    )
    version = await db.fetchval("SELECT current_version FROM campaigns WHERE id = $1", campaign_id)
    code = await db.fetchval(
        "SELECT code FROM territories WHERE level = 'commune' ORDER BY random() LIMIT 1"
    )
    signature_id = await db.fetchval(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                                  territory_level, territory_code, public, letter_version, suspect)
           VALUES ($1, $2, 'Anne', 'Martin', 'maire', 'commune', $3, true, $4, $5)
           RETURNING id""",
        campaign_id,
        f"once.{uuid.uuid4().hex[:10]}@mairie-test.fr",
        code,
        version,
        suspect,
    )
    salt = tokens.new_salt()
    token = tokens.derive(os.environ["SECRET_KEY"], salt)
    await db.execute(
        """INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
           VALUES ($1, 'confirm', $2, $3, $4)""",
        signature_id,
        salt,
        tokens.token_hash(token),
        datetime.now(UTC) + expires_in,
    )
    return token, campaign_id, code


async def _count(db: asyncpg.Connection, campaign_id: int, code: str) -> int:
    value = await db.fetchval(
        "SELECT confirmed FROM territory_counts "
        "WHERE campaign_id = $1 AND level = 'commune' AND code = $2",
        campaign_id,
        code,
    )
    return int(value or 0)


async def test_clicks_at_once_confirm_and_count_once(dsn: str, db: asyncpg.Connection) -> None:
    token, campaign_id, code = await _pending(db)
    before = await _count(db, campaign_id, code)
    conns = [await asyncpg.connect(dsn) for _ in range(8)]
    try:
        results = await asyncio.gather(*(confirm(c, token) for c in conns))
    finally:
        for c in conns:
            await c.close()
    outcomes = sorted(r.value for r, _ in results)
    assert outcomes.count(ConfirmResult.CONFIRMED.value) == 1
    assert outcomes.count(ConfirmResult.ALREADY.value) == 7
    assert await _count(db, campaign_id, code) == before + 1
    again, found = await confirm(db, token)
    assert again is ConfirmResult.ALREADY and found is not None and found.status == "confirmed"


async def test_expired_suspect_and_unknown(db: asyncpg.Connection) -> None:
    token, campaign_id, code = await _pending(db, expires_in=timedelta(seconds=-1))
    before = await _count(db, campaign_id, code)
    result, found = await confirm(db, token)
    assert result is ConfirmResult.EXPIRED and found is not None and found.status == "pending"
    assert await _count(db, campaign_id, code) == before

    token, campaign_id, code = await _pending(db, suspect=True)
    before = await _count(db, campaign_id, code)
    result, found = await confirm(db, token)
    assert result is ConfirmResult.CONFIRMED and found is not None
    assert (
        await db.fetchval("SELECT status FROM signatures WHERE id = $1", found.signature_id)
        == "confirmed"
    )
    assert await _count(db, campaign_id, code) == before  # counted once an organiser clears it

    assert (await confirm(db, "x" * 43))[0] is ConfirmResult.UNKNOWN
    assert (await confirm(db, "not a token"))[0] is ConfirmResult.UNKNOWN
