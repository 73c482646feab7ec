"""Group commit of confirmations (campaign/confirm_batch.py): confirmations arriving together are
written in one commit, with the same outcome as if they had come one after the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from campaign.core import db, tokens
from campaign.signing.confirm_batch import ConfirmBatcher
from campaign.signing.signatures import ConfirmResult
from tests.support.signing import confirmed_count as _count
from tests.support.signing import pending_signature as _pending


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(dsn, min_size=1, max_size=4)
    yield p
    await p.close()


async def test_confirmations_together_share_commits_and_count_each_once(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    pending = [await _pending(db) for _ in range(30)]
    before = {(c, code): await _count(db, c, code) for _, c, code in pending}
    batcher = ConfirmBatcher(pool)
    results = await asyncio.gather(*(batcher.confirm(token) for token, _, _ in pending))
    assert [r for r, _ in results] == [ConfirmResult.CONFIRMED] * 30
    assert batcher.batches < 30 and batcher.largest > 1, "they shared commits"
    for _, campaign_id, code in pending:
        assert await _count(db, campaign_id, code) == before[(campaign_id, code)] + 1
    found = [f for _, f in results]
    assert all(f is not None and f.status == "pending" for f in found)  # as the link found it
    statuses = await db.fetch(
        "SELECT status FROM signatures WHERE id = ANY($1)",
        [f.signature_id for f in found if f is not None],
    )
    assert [r["status"] for r in statuses] == ["confirmed"] * 30


async def test_a_batch_judges_each_link_as_if_it_came_alone(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    """Two clicks on one link, an unknown link, an expired one and a suspect signature, in one
    batch: what `confirm` would have said to each, and each counter counted as it would have."""
    twice, campaign_id, code = await _pending(db)
    expired, expired_campaign, expired_code = await _pending(db, expires_in=timedelta(seconds=-1))
    suspect, suspect_campaign, suspect_code = await _pending(db, suspect=True)
    counts = [
        (campaign_id, code, await _count(db, campaign_id, code)),
        (expired_campaign, expired_code, await _count(db, expired_campaign, expired_code)),
        (suspect_campaign, suspect_code, await _count(db, suspect_campaign, suspect_code)),
    ]
    batcher = ConfirmBatcher(pool)
    first, _, _ = await _pending(db)
    tokens = [first, twice, "x" * 43, twice, expired, "not a token", suspect]
    results = await asyncio.gather(*(batcher.confirm(t) for t in tokens))
    assert batcher.batches == 1 and batcher.largest == 7  # queued together, written together
    assert [r for r, _ in results] == [
        ConfirmResult.CONFIRMED,
        ConfirmResult.CONFIRMED,
        ConfirmResult.UNKNOWN,
        ConfirmResult.ALREADY,  # the second click: the first one won
        ConfirmResult.EXPIRED,
        ConfirmResult.UNKNOWN,
        ConfirmResult.CONFIRMED,  # confirmed, counted once an organiser clears it
    ]
    assert [await _count(db, c, code) - n for c, code, n in counts] == [1, 0, 0]


async def test_a_cancelled_request_does_not_cancel_its_batch(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    token, campaign_id, code = await _pending(db)
    before = await _count(db, campaign_id, code)
    batcher = ConfirmBatcher(pool)
    request = asyncio.create_task(batcher.confirm(token))
    await asyncio.sleep(0)  # queued, its batch started
    request.cancel()
    for _ in range(200):
        if batcher.batches:
            break
        await asyncio.sleep(0.01)
    assert batcher.batches == 1
    assert await _count(db, campaign_id, code) == before + 1


async def test_a_batch_that_fails_on_its_data_is_written_one_by_one(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    """A batch that fails on one of its confirmations (here a serialisation failure injected by
    a trigger on one signature, as a deadlock between two batches would be): each is written
    alone, the others confirmed, that one alone answered with the error."""
    good = [await _pending(db) for _ in range(3)]
    bad, _, _ = await _pending(db)
    bad_id = await db.fetchval(
        "SELECT signature_id FROM signature_tokens WHERE token_hash = $1",
        tokens.token_hash(bad),
    )
    await db.execute(
        """CREATE FUNCTION refuse_one_confirmation() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = 'serialization_failure'; END $$"""
    )
    await db.execute(
        f"CREATE TRIGGER refuse_one BEFORE UPDATE ON signatures FOR EACH ROW "
        f"WHEN (OLD.id = {int(bad_id)}) EXECUTE FUNCTION refuse_one_confirmation()"
    )
    try:
        batcher = ConfirmBatcher(pool)
        results = await asyncio.gather(
            *(batcher.confirm(t) for t in [good[0][0], bad, good[1][0], good[2][0]]),
            return_exceptions=True,
        )
    finally:
        await db.execute("DROP TRIGGER refuse_one ON signatures")
        await db.execute("DROP FUNCTION refuse_one_confirmation()")
    assert isinstance(results[1], asyncpg.SerializationError)
    assert [r[0] for r in (results[0], results[2], results[3])] == [ConfirmResult.CONFIRMED] * 3
    assert batcher.batches == 3  # the three good ones, each alone after the batch failed
    assert await db.fetchval("SELECT status FROM signatures WHERE id = $1", bad_id) == "pending"
