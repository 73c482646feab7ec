"""Public search of the signatories: a minimum length, literal wildcards (full-width ones too), a
per-network rate and a short cache, on the page and on the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from campaign.core.bounded import RatePerMinute
from tests.support.mail import Mailbox
from tests.support.public import SLUG, PublicApp, eventually, make_signature, public_app

API = f"/api/v1/campaigns/{SLUG}/signatories"


@pytest.fixture(scope="module")
async def sapp(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    async with public_app(pg_server, "search_bounds", mailbox.port) as app:  # type: ignore[attr-defined]
        conn = await asyncpg.connect(app.dsn)
        try:
            for family in ("Cent%Pour", "Centaupour", "Sous_Trait", "Sousxtrait", "Barre\\Oblique"):
                await make_signature(conn, given_name="Élise", family_name=family)
        finally:
            await conn.close()
        async with httpx.AsyncClient(base_url=app.base, timeout=10) as web:

            async def listed() -> bool:
                return bool((await web.get(API)).json()["total"] == 5)

            await eventually(listed, what="the five signatures to be listed")
        yield app


async def names(web: httpx.AsyncClient, q: str) -> list[str]:
    response = await web.get(API, params={"q": q})
    assert response.status_code == 200, response.text
    return sorted(item["family_name"] for item in response.json()["items"])


async def test_percent_underscore_and_backslash_are_literal_even_full_width(
    sapp: PublicApp,
) -> None:
    sapp.runtime.search_rate = RatePerMinute(0)
    async with httpx.AsyncClient(base_url=sapp.base, timeout=10) as web:
        assert await names(web, "t%p") == ["Cent%Pour"]
        assert await names(web, "t\uff05p") == ["Cent%Pour"]  # ％, NFKC's %
        assert await names(web, "s_t") == ["Sous_Trait"]
        assert await names(web, "s\uff3ft") == ["Sous_Trait"]  # ＿
        assert await names(web, "e\\o") == ["Barre\\Oblique"]
        assert await names(web, "%%%") == []
        page = await web.get("/signataires", params={"q": "t\uff05p"})
        assert "Cent%Pour" in page.text and "Centaupour" not in page.text


async def test_a_search_shorter_than_three_characters_is_refused_in_french(
    sapp: PublicApp,
) -> None:
    sapp.runtime.search_rate = RatePerMinute(0)
    async with httpx.AsyncClient(base_url=sapp.base, timeout=10) as web:
        refused = await web.get(API, params={"q": " a b "})
        assert refused.status_code == 400
        assert refused.json()["extra"] == [{"key": "q", "message": "Au moins 3 caractères."}]
        page = await web.get("/signataires", params={"q": "\uff05\uff05"})
        assert page.status_code == 200
        assert (
            "Tapez au moins 3\u00a0caractères" in page.text
            or "Tapez au moins 3 caractères" in page.text
        )
        assert "Centaupour" in page.text  # the list, unfiltered


async def test_searches_past_the_networks_rate_get_429_and_retry_after(sapp: PublicApp) -> None:
    sapp.runtime.search_rate = RatePerMinute(3)
    try:
        async with httpx.AsyncClient(base_url=sapp.base, timeout=10) as web:
            for q in ("cent", "sous", "barre"):
                assert (await web.get(API, params={"q": q})).status_code == 200
            api = await web.get(API, params={"q": "oblique"})
            assert api.status_code == 429 and int(api.headers["retry-after"]) > 0
            page = await web.get("/signataires", params={"q": "oblique"})
            assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
            assert "Trop de recherches depuis votre réseau" in page.text
            # The list itself, with no search, is not limited.
            assert (await web.get("/signataires")).status_code == 200
    finally:
        sapp.runtime.search_rate = RatePerMinute(0)


async def test_the_same_search_is_answered_from_the_cache_until_the_counts_change(
    sapp: PublicApp,
) -> None:
    sapp.runtime.search_rate = RatePerMinute(0)
    async with httpx.AsyncClient(base_url=sapp.base, timeout=10) as web:
        assert await names(web, "nouvel") == []
        conn = await asyncpg.connect(sapp.dsn)
        try:
            # A new signature changes the counts, hence the cache's key: seen at once.
            await make_signature(conn, given_name="Jean", family_name="Nouvel")

            async def seen() -> bool:
                return await names(web, "nouvel") == ["Nouvel"]

            await eventually(seen, what="the new signature in the search")
            # A change the counts do not see is served from the cache for a few seconds.
            await conn.execute(
                "UPDATE signatures SET family_name = 'Nouvelle' WHERE family_name = 'Nouvel'"
            )
        finally:
            await conn.close()
        assert await names(web, "nouvel") == ["Nouvel"]  # the cached answer
        assert await names(web, "nouve") == ["Nouvelle"]  # another search reads the database
        sapp.runtime.searches.ttl = 0  # expired: read again
        assert await names(web, "nouvel") == ["Nouvelle"]
        sapp.runtime.searches.ttl = 10.0
