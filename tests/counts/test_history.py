"""Hourly history of the counts: written once per hour whatever the number of processes, read back
as JSON and CSV, drawn as a chart; the recorder follows the (moved) clock."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from campaign.core.clock import Clock
from campaign.core.db import create_pool
from campaign.counts.history import HistoryRecorder, chart, hour_of, read_history, record_hour
from campaign.letter.campaigns import list_campaigns
from campaign.territories.index import TerritoryIndex
from tests.support.admin import SLUG, make_signature
from tests.support.app import migrated_database

H0 = datetime(2027, 5, 1, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
async def hdsn(pg_server: str) -> str:
    dsn = await migrated_database(pg_server, "history_test")
    conn = await asyncpg.connect(dsn)
    try:
        from campaign.core.resources import DEMO_CAMPAIGNS
        from campaign.letter.campaigns import read_campaign_files, save_campaign

        for definition in read_campaign_files(DEMO_CAMPAIGNS):
            await save_campaign(conn, definition)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def hdb(hdsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(hdsn)
    yield conn
    await conn.close()


async def campaign_of(conn: asyncpg.Connection) -> object:
    return next(c for c in await list_campaigns(conn) if c.slug == SLUG)


def test_hour_of_truncates_in_utc() -> None:
    paris = datetime.fromisoformat("2027-07-08T09:59:59.5+02:00")
    assert hour_of(paris) == datetime(2027, 7, 8, 7, tzinfo=UTC)


async def test_an_hour_is_written_once_with_its_regions(hdb: asyncpg.Connection) -> None:
    await make_signature(hdb, code="69123")  # Lyon: Auvergne-Rhône-Alpes (84)
    await make_signature(hdb, mandate="depute", level="departement", code="35")  # Bretagne (53)
    await make_signature(hdb, mandate="conseiller_regional", level="region", code="84")
    await make_signature(hdb, code="97411")  # Saint-Denis de La Réunion (04)
    assert await record_hour(hdb, H0) >= 1
    assert await record_hour(hdb, H0 + timedelta(minutes=30)) == 0  # the same hour: nothing
    campaign = await campaign_of(hdb)
    row = await hdb.fetchrow(
        "SELECT total, verified FROM count_history_hours WHERE campaign_id = $1 AND hour = $2",
        campaign.id,  # type: ignore[attr-defined]
        H0,
    )
    assert row is not None and row["total"] == 4
    regions = dict(
        await hdb.fetch(
            "SELECT region, confirmed FROM count_history_regions "
            "WHERE campaign_id = $1 AND hour = $2",
            campaign.id,  # type: ignore[attr-defined]
            H0,
        )
    )
    assert regions == {"84": 2, "53": 1, "04": 1}


async def test_processes_racing_for_an_hour_write_it_once(hdsn: str) -> None:
    hour = H0 + timedelta(hours=5)
    conns = [await asyncpg.connect(hdsn) for _ in range(6)]
    try:
        written = await asyncio.gather(*(record_hour(c, hour) for c in conns))
        campaigns = await conns[0].fetchval("SELECT count(*) FROM campaigns")
        assert sorted(written) == [0] * 5 + [campaigns]  # one process wrote every campaign
        rows = await conns[0].fetchval(
            "SELECT count(*) FROM count_history_hours WHERE hour = $1", hour
        )
        assert rows == campaigns
    finally:
        for c in conns:
            await c.close()


async def test_the_recorder_follows_the_clock(hdsn: str, hdb: asyncpg.Connection) -> None:
    pool = await create_pool(hdsn, min_size=1, max_size=2)
    clock = Clock()
    clock.move_to(datetime(2027, 6, 1, 10, 0, 5, tzinfo=UTC))
    recorder = HistoryRecorder(pool, clock, check_every=0.05, jitter=0)
    stop = asyncio.Event()
    task = asyncio.create_task(recorder.run(stop))
    try:

        async def hours() -> set[datetime]:
            rows = await hdb.fetch(
                "SELECT DISTINCT hour FROM count_history_hours WHERE hour >= $1",
                datetime(2027, 6, 1, tzinfo=UTC),
            )
            return {r["hour"] for r in rows}

        for _ in range(100):
            if await hours():
                break
            await asyncio.sleep(0.05)
        assert await hours() == {datetime(2027, 6, 1, 10, tzinfo=UTC)}
        clock.move_to(datetime(2027, 6, 1, 11, 0, 1, tzinfo=UTC))  # an hour later
        for _ in range(100):
            if len(await hours()) == 2:
                break
            await asyncio.sleep(0.05)
        assert await hours() == {
            datetime(2027, 6, 1, 10, tzinfo=UTC),
            datetime(2027, 6, 1, 11, tzinfo=UTC),
        }
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await pool.close()


async def test_history_as_json_csv_and_chart(hdb: asyncpg.Connection) -> None:
    index = await TerritoryIndex.load(hdb)
    campaign = await campaign_of(hdb)
    marseille = await make_signature(hdb, code="13055")  # Provence-Alpes-Côte d'Azur (93)
    await hdb.execute(  # found in the register (issue 14: history.csv's last column)
        "UPDATE signatures SET verification_override = 'verified' WHERE id = $1", marseille
    )
    await record_hour(hdb, H0 + timedelta(hours=1))
    history = await read_history(hdb, campaign, index)  # type: ignore[arg-type]
    mine = [p for p in history.points if H0 <= p.hour <= H0 + timedelta(hours=1)]
    assert [p.hour for p in mine] == [H0, H0 + timedelta(hours=1)]
    assert mine[1].total == mine[0].total + 1
    assert mine[1].regions["93"] == mine[0].regions.get("93", 0) + 1

    body, etag, compressed = history.json()
    data = json.loads(body)
    assert data["campaign"] == SLUG
    assert data["regions"]["84"] == "Auvergne-Rhône-Alpes" and len(data["regions"]) == 18
    first = next(h for h in data["hours"] if h["hour"] == "2027-05-01T08:00:00Z")
    assert first["total"] == mine[0].total and first["regions"]["84"] == 2
    assert etag.startswith('"') and compressed[:2] == b"\x1f\x8b"

    text = history.csv()[0].decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["heure", "releve", "total", "verifiees"]
    # The régions, then (issue 14) the register matches, appended so that no column moves.
    assert rows[0][4:-1] == list(data["regions"].values())
    assert rows[0][-1] == "mandat_trouve_au_rne"
    assert all(len(r) == len(rows[0]) for r in rows)
    paris = next(r for r in rows[1:] if r[0] == "2027-05-01T10:00:00+02:00")  # 08:00 UTC
    assert int(paris[2]) == mine[0].total
    assert int(paris[4 + list(data["regions"]).index("84")]) == 2
    last = next(r for r in rows[1:] if r[0] == "2027-05-01T11:00:00+02:00")
    assert int(last[-1]) == mine[1].register_match == mine[0].register_match + 1

    svg = str(chart(history.points))
    assert svg.startswith("<svg") and 'role="img"' in svg and "<desc" in svg
    assert "1 mai" in svg
    assert "se construit" in str(chart(history.points[:1]))
    assert "Aucun relevé" in str(chart([]))
