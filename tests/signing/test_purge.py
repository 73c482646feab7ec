"""`campaign purge`: unconfirmed signatures deleted after N days, signatures anonymised M months
after their campaign closed (the counts stay), limits' counters forgotten; --dry-run; twice
changes nothing; several processes at once are safe. On a database of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from campaign.core.db import Q
from campaign.core.settings import load_settings
from campaign.runtime import prepare_database
from campaign.signing import purge
from tests.support.app import migrated_database

SLUG = "jouer-collectif"


@pytest.fixture(scope="module")
async def purge_dsn(pg_server: str) -> str:
    dsn = await migrated_database(pg_server, f"purge_{uuid.uuid4().hex[:8]}")
    await prepare_database(load_settings({"DATABASE_URL": dsn}), dsn)  # the demo campaign
    return dsn


@pytest.fixture
async def conn(purge_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(purge_dsn)
    yield c
    await c.close()


async def add(
    conn: asyncpg.Connection,
    campaign_id: int,
    *,
    status: str,
    age_days: int,
    code: str = "69123",
) -> int:
    """A signature as the signing path leaves it, made `age_days` ago (confirmed ones counted)."""
    version = await conn.fetchval(
        "SELECT current_version FROM campaigns WHERE id = $1", campaign_id
    )
    async with conn.transaction():
        sid: int = await conn.fetchval(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                   territory_level, territory_code, public, comment, ref, letter_version, status,
                   created_at, confirmed_at, verification_match)
               VALUES ($1, $2, 'Prénom', 'Nom', 'maire', 'commune', $3, true, 'commentaire',
                       'relais', $4, $5, now() - make_interval(days => $6),
                       CASE WHEN $5 = 'confirmed' THEN now() - make_interval(days => $6) END,
                       '{"nom": "Nom"}')
               RETURNING id""",
            campaign_id,
            f"p.{uuid.uuid4().hex[:12]}@mairie-test.fr",
            code,
            version,
            status,
            age_days,
        )
        await conn.execute(
            "INSERT INTO outbox (template, recipient, signature_id, status) VALUES"
            " ('confirm', (SELECT email FROM signatures WHERE id = $1), $1, 'sent')",
            sid,
        )
        if status == "confirmed":
            await conn.execute(Q["increment_count"], campaign_id, "commune", code)
    return sid


async def closed_campaign(conn: asyncpg.Connection, months_ago: int) -> int:
    slug = f"close-{uuid.uuid4().hex[:8]}"
    campaign_id: int = await conn.fetchval(
        "INSERT INTO campaigns (slug, title, launch_at, status, closed_at)"
        " VALUES ($1, 'Close', now(), 'closed', now() - make_interval(months => $2)) RETURNING id",
        slug,
        months_ago,
    )
    await conn.execute(
        "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'Texte')",
        campaign_id,
    )
    return campaign_id


def run_cli(dsn: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": dsn, "UNCONFIRMED_DAYS": "30", "RETENTION_MONTHS": "6"}
    done = subprocess.run(
        [sys.executable, "-m", "campaign", "purge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_purge_from_the_command_line(purge_dsn: str, conn: asyncpg.Connection) -> None:
    open_id = await conn.fetchval("SELECT id FROM campaigns WHERE slug = $1", SLUG)
    old_pending = await add(conn, open_id, status="pending", age_days=31)
    young_pending = await add(conn, open_id, status="pending", age_days=29)
    confirmed_open = await add(conn, open_id, status="confirmed", age_days=200)
    closed_long_ago = await closed_campaign(conn, 7)
    closed_recently = await closed_campaign(conn, 5)
    to_anonymise = [
        await add(conn, closed_long_ago, status="confirmed", age_days=300, code=code)
        for code in ("69123", "69123", "38185")
    ]
    kept = await add(conn, closed_recently, status="confirmed", age_days=200)
    await conn.execute(
        "INSERT INTO abuse_counters (kind, key, window_start, hits) VALUES"
        " ('network', 'old', now() - interval '8 days', 3),"
        " ('network', 'new', now() - interval '1 day', 3)"
    )
    counts_before = await conn.fetch(
        "SELECT level, code, confirmed FROM territory_counts WHERE campaign_id = $1 ORDER BY 1, 2",
        closed_long_ago,
    )

    dry = run_cli(purge_dsn, "--dry-run")
    assert "Simulation" in dry
    assert "1 seraient supprimées" in dry
    assert "3 seraient anonymisées" in dry
    assert "1 seraient effacés" in dry
    assert await conn.fetchval("SELECT count(*) FROM signatures WHERE id = $1", old_pending) == 1

    done = run_cli(purge_dsn)
    assert "Purge effectuée" in done and "1 ont été supprimées" in done
    assert "3 ont été anonymisées" in done

    # Unconfirmed and older than 30 days: gone, with its emails; the younger one stays.
    assert not await conn.fetchval("SELECT count(*) FROM signatures WHERE id = $1", old_pending)
    assert not await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE signature_id = $1", old_pending
    )
    assert await conn.fetchval("SELECT count(*) FROM signatures WHERE id = $1", young_pending)
    # Closed more than 6 months ago: anonymised, still confirmed and counted.
    rows = await conn.fetch("SELECT * FROM signatures WHERE id = ANY ($1)", to_anonymise)
    for row in rows:
        assert row["status"] == "confirmed" and row["anonymised_at"] is not None
        assert (row["given_name"], row["family_name"], row["email"]) == ("", "", None)
        assert (row["comment"], row["ref"], row["verification_match"]) == (None, None, None)
        assert not row["verification_due"]  # the register check is not run on erased names
    outbox = await conn.fetch(
        "SELECT recipient FROM outbox WHERE signature_id = ANY ($1)", to_anonymise
    )
    assert outbox and all(r["recipient"].startswith("effacé-") for r in outbox)
    counts_after = await conn.fetch(
        "SELECT level, code, confirmed FROM territory_counts WHERE campaign_id = $1 ORDER BY 1, 2",
        closed_long_ago,
    )
    assert counts_after == counts_before
    # Open campaigns and campaigns closed recently are left alone.
    for sid in (confirmed_open, kept):
        assert await conn.fetchval("SELECT email FROM signatures WHERE id = $1", sid)
    assert await conn.fetchval("SELECT count(*) FROM abuse_counters WHERE key = 'new'") == 1
    assert not await conn.fetchval("SELECT count(*) FROM abuse_counters WHERE key = 'old'")

    # Twice: nothing more to do.
    again = run_cli(purge_dsn)
    assert "0 ont été supprimées" in again and "0 ont été anonymisées" in again


async def test_purges_at_once_are_safe(purge_dsn: str, conn: asyncpg.Connection) -> None:
    """Several processes purging together: one does the work, the others skip, nothing twice."""
    open_id = await conn.fetchval("SELECT id FROM campaigns WHERE slug = $1", SLUG)
    for _ in range(5):
        await add(conn, open_id, status="pending", age_days=40)
    settings = load_settings({"DATABASE_URL": purge_dsn})
    conns = [await asyncpg.connect(purge_dsn) for _ in range(4)]
    try:
        reports = await asyncio.gather(*(purge.purge(c, settings, dry_run=False) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert sum(r.unconfirmed_deleted for r in reports) == 5
    assert all(r.ran or r.unconfirmed_deleted == 0 for r in reports)


async def test_closing_a_campaign_sets_its_closing_date(conn: asyncpg.Connection) -> None:
    slug = f"c-{uuid.uuid4().hex[:8]}"
    cid = await conn.fetchval(
        "INSERT INTO campaigns (slug, title, launch_at) VALUES ($1, 'T', now()) RETURNING id", slug
    )
    assert await conn.fetchval("SELECT closed_at FROM campaigns WHERE id = $1", cid) is None
    await conn.execute("UPDATE campaigns SET status = 'closed' WHERE id = $1", cid)
    closed_at = await conn.fetchval("SELECT closed_at FROM campaigns WHERE id = $1", cid)
    assert closed_at is not None
    await conn.execute("UPDATE campaigns SET title = 'U' WHERE id = $1", cid)
    assert await conn.fetchval("SELECT closed_at FROM campaigns WHERE id = $1", cid) == closed_at
    await conn.execute("UPDATE campaigns SET status = 'open' WHERE id = $1", cid)
    assert await conn.fetchval("SELECT closed_at FROM campaigns WHERE id = $1", cid) is None
