"""The counts' micro-cache (campaign/hotreads.py): the app's own answer, replayed only while the
counts are unchanged, and never in place of the app's checks."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from campaign.app import create_app
from campaign.core.db import Q
from campaign.core.settings import load_settings
from campaign.letter.campaigns import CampaignDefinition, save_campaign
from campaign.web.hotreads import HotReadsApp
from tests.support.app import free_port, serve_app


@pytest.fixture(scope="module")
async def served(dsn: str) -> AsyncIterator[tuple[HotReadsApp, str]]:
    """The app (kept at hand, to look into its cache) served by uvicorn."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        {
            "DATABASE_URL": dsn,
            "BASE_URL": base,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "DATA_DIR": os.environ["DATA_DIR"],
        }
    )
    app = create_app(settings, run_worker=False)
    assert isinstance(app, HotReadsApp)
    async with serve_app(app, port):
        yield app, base


@pytest.fixture
async def slug(db: asyncpg.Connection, served: tuple[HotReadsApp, str]) -> str:
    """A campaign of its own (counts from zero), known to the server."""
    name = f"hot-{uuid.uuid4().hex[:8]}"
    await save_campaign(
        db,
        CampaignDefinition(
            slug=name, title="Essai", launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC), body="Texte."
        ),
    )
    async with httpx.AsyncClient(base_url=served[1]) as client:
        for _ in range(100):
            if (await client.get(f"/api/v1/campaigns/{name}")).status_code == 200:
                return name
            await asyncio.sleep(0.05)
    raise AssertionError("the server never learnt about the new campaign")


def _without_date(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k != "date"]


async def test_a_replayed_answer_is_the_apps_own_until_the_counts_change(
    served: tuple[HotReadsApp, str], db: asyncpg.Connection, slug: str
) -> None:
    app, base = served
    path = f"/api/v1/campaigns/{slug}/counts"
    async with httpx.AsyncClient(base_url=base) as client:
        first = await client.get(path, params={"level": "departement"})
        assert first.status_code == 200
        assert any(key[0] == path for key in app._kept), "the app's answer was not kept"
        again = await client.get(path, params={"level": "departement"})
        assert _without_date(again) == _without_date(first)
        assert again.content == first.content
        assert again.headers["content-security-policy"]  # the hooks' headers, replayed too
        assert again.headers["access-control-allow-origin"] == "*"

        # A confirmation elsewhere: the next answers carry the new counts, never the kept ones.
        campaign_id = await db.fetchval("SELECT id FROM campaigns WHERE slug = $1", slug)
        await db.execute(Q["increment_count"], campaign_id, "departement", "13")
        for _ in range(100):
            moved = await client.get(path, params={"level": "departement"})
            if moved.headers["etag"] != first.headers["etag"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the answer never followed the counts")
        counts = {c["code"]: c["count"] for c in moved.json()["counts"]}
        assert counts["13"] == 1 and moved.json()["total"] == 1
        replayed = await client.get(path, params={"level": "departement"})
        assert replayed.content == moved.content
        assert replayed.headers["etag"] == moved.headers["etag"]


async def test_the_apps_checks_still_answer(served: tuple[HotReadsApp, str], slug: str) -> None:
    _, base = served
    path = f"/api/v1/campaigns/{slug}/counts"
    async with httpx.AsyncClient(base_url=base) as client:
        kept = await client.get(path)  # region, kept for this Host
        assert kept.status_code == 200
        # A condition goes through the app: 304.
        again = await client.get(path, headers={"If-None-Match": kept.headers["etag"]})
        assert again.status_code == 304
        # Another Host is judged by the app, not served from what was kept for ours.
        refused = await client.get(path, headers={"Host": "evil.example"})
        assert refused.status_code == 400
        assert (await client.get(path, params={"level": "canton"})).status_code == 400
        unknown = await client.get("/api/v1/campaigns/no-such-campaign/counts")
        assert unknown.status_code == 404
        # HEAD, and other query strings, go through the app.
        assert (await client.head(path)).status_code in (200, 405)
        assert (await client.get(path, params={"level": "region", "x": "1"})).status_code == 200


async def test_a_kept_page_and_its_304_are_replayed_without_the_app(
    served: tuple[HotReadsApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public pages (campaign/site/cached_pages.py) are replayed like the counts, cookies or
    not; a browser's revalidation gets its 304 from here too."""
    app, base = served
    pages = app.state.runtime.pages
    through_app = 0
    original = pages.get

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal through_app
        through_app += 1
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pages, "get", counted)
    gzip_only = {"Accept-Encoding": "gzip"}
    async with httpx.AsyncClient(base_url=base, cookies={"csrftoken": "x"}) as client:
        await client.get("/", headers=gzip_only)  # the page is built: now it is a kept page
        first = await client.get("/", headers=gzip_only)  # through the app, its answer kept
        assert first.status_code == 200 and through_app == 2
        again = await client.get("/", headers=gzip_only)
        assert again.content == first.content and through_app == 2
        assert _without_date(again) == _without_date(first)
        etag = first.headers["etag"]
        revalidated = await client.get("/", headers={**gzip_only, "If-None-Match": etag})
        assert revalidated.status_code == 304 and revalidated.content == b""
        assert revalidated.headers["etag"] == etag and through_app == 2
        assert revalidated.headers["cache-control"] == first.headers["cache-control"]
        other = await client.get("/", headers={**gzip_only, "If-None-Match": '"other"'})
        assert other.status_code == 200 and through_app == 3
