"""Confirming is one statement (sql/queries/signatures.sql: confirm_by_token): clicks at once
confirm and count once; an expired link, a suspect signature and an unknown token behave."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from campaign.signing.signatures import ConfirmResult, confirm
from tests.support.signing import confirmed_count as _count
from tests.support.signing import pending_signature as _pending


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
