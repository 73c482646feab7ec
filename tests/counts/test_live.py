"""Live counts: SSE streams, keep-alives, a vanished client, and the listener surviving a drop."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from campaign.core.db import Q
from campaign.counts.live import LISTENER_NAME
from campaign.letter.campaigns import CampaignDefinition, save_campaign


@pytest.fixture
async def live_campaign(db: asyncpg.Connection, client: httpx.AsyncClient) -> tuple[int, str]:
    """A campaign of its own, so that counts start at zero; the server learns of it by NOTIFY."""
    slug = f"test-{uuid.uuid4().hex[:8]}"
    campaign_id = await save_campaign(
        db,
        CampaignDefinition(
            slug=slug, title="Essai", launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC), body="Texte."
        ),
    )
    for _ in range(100):
        if (await client.get(f"/api/v1/campaigns/{slug}")).status_code == 200:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the server never learnt about the new campaign")
    return campaign_id, slug


class Stream:
    """An SSE client reading in the background; keeps events and comments."""

    def __init__(self, client: httpx.AsyncClient, slug: str) -> None:
        self.events: list[dict[str, object]] = []
        self.comments = 0
        self._task = asyncio.create_task(self._read(client, slug))
        self._first = asyncio.Event()

    async def _read(self, client: httpx.AsyncClient, slug: str) -> None:
        async with client.stream("GET", f"/api/v1/campaigns/{slug}/events") as response:
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("data:"):
                    self.events.append(json.loads(line[5:]))
                    self._first.set()

    async def started(self) -> None:
        await asyncio.wait_for(self._first.wait(), 5)

    async def total(self, expected: int, timeout: float = 5) -> None:
        async def seen() -> None:
            while not any(e["total"] == expected for e in self.events):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(seen(), timeout)

    async def close(self) -> None:
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


async def bump(db: asyncpg.Connection, campaign_id: int, level: str, code: str) -> None:
    await db.execute(
        Q["increment_count"],  # what confirming a signature does
        campaign_id,
        level,
        code,
    )


async def test_a_client_that_leaves_does_not_break_the_others(
    server: str, db: asyncpg.Connection, live_campaign: tuple[int, str]
) -> None:
    campaign_id, slug = live_campaign
    clients = [httpx.AsyncClient(base_url=server, timeout=10) for _ in range(3)]
    streams = [Stream(c, slug) for c in clients]
    for s in streams:
        await s.started()
    assert streams[0].events[0] == {"total": 0, "changed": []}

    await streams[1].close()  # disconnects mid-stream
    await clients[1].aclose()
    await bump(db, campaign_id, "commune", "13055")  # Marseille
    for s in (streams[0], streams[2]):
        await s.total(1)
    event = next(e for e in streams[0].events if e["total"] == 1)
    changed = {(c["level"], c["code"]): c["count"] for c in event["changed"]}  # type: ignore[union-attr,index]
    assert changed == {("commune", "13055"): 1, ("departement", "13"): 1, ("region", "93"): 1}

    # Coalesced: a burst of changes reaches a client as a few events, ending on the right total.
    before = len(streams[0].events)
    for _ in range(20):
        await bump(db, campaign_id, "departement", "2A")
    await streams[0].total(21)
    assert len(streams[0].events) - before < 10
    for s in (streams[0], streams[2]):
        await s.close()
    for c in (clients[0], clients[2]):
        await c.aclose()


async def test_idle_streams_get_keep_alive_comments(
    client: httpx.AsyncClient, live_campaign: tuple[int, str]
) -> None:
    stream = Stream(client, live_campaign[1])
    await stream.started()
    await asyncio.sleep(1.3)  # the test server sends one every 0.5 s
    assert stream.comments >= 2
    await stream.close()


async def test_the_listener_reconnects_and_reloads_after_its_connection_drops(
    client: httpx.AsyncClient, db: asyncpg.Connection, live_campaign: tuple[int, str]
) -> None:
    campaign_id, slug = live_campaign
    stream = Stream(client, slug)
    await stream.started()
    # Kill the listening connection and change a count while nobody listens.
    async with db.transaction():
        killed = await db.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            LISTENER_NAME,
        )
        await bump(db, campaign_id, "region", "84")
    assert killed >= 1
    await stream.total(1, timeout=15)
    body = (await client.get(f"/api/v1/campaigns/{slug}/counts", params={"level": "region"})).json()
    assert {c["code"]: c["count"] for c in body["counts"]}["84"] == 1
    # And it listens again.
    await bump(db, campaign_id, "region", "84")
    await stream.total(2, timeout=5)
    await stream.close()
