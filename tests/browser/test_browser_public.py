"""The public face in a real Chromium, on an app and a database of their own: the map recoloured
live when a signature is confirmed (and its table alternative), the newest signatories, the list's
filters, the embargo opening by itself at the (moved) launch instant, and the widget inside an
<iframe> of a page served from another origin, live, while the other pages refuse to be framed."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.support.app import free_port
from tests.support.browser import DESKTOP, Chromium, number, open_live, shown
from tests.support.mail import Mailbox
from tests.support.public import SLUG, PublicApp, make_signature, public_app, set_embargo

pytestmark = pytest.mark.browser

NEUTRAL = "#e8e8e8"
API = f"/api/v1/campaigns/{SLUG}"


@pytest.fixture(scope="module")
async def papp(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    async with public_app(pg_server, "public_browser", mailbox.port) as app:  # type: ignore[attr-defined]
        yield app


@pytest.fixture
async def pdb(papp: PublicApp) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(papp.dsn)
    yield conn
    await conn.close()


async def test_the_map_recolours_live_and_has_a_table_alternative(
    chromium: Chromium,
    papp: PublicApp,
    pdb: asyncpg.Connection,
) -> None:
    async with chromium.context(**DESKTOP) as context:
        page = await context.new_page()
        await open_live(page, f"{papp.base}/")
        await page.evaluate("window.__notReloaded = true")
        # The map is there without waiting for any script: server-side SVG, with its legend.
        carte = page.get_by_role("img", name="Signatures par département")
        await expect(carte).to_be_visible()
        creuse = page.locator('svg.carte path[data-code="23"]')
        await expect(creuse).to_have_attribute("fill", NEUTRAL)
        await expect(creuse.locator("title")).to_have_text("Creuse : 0 signature")
        paris = page.locator('svg.carte path[data-code="75"]')
        await expect(paris).to_have_count(2)  # the map and the zoom on Paris
        # The table alternative: the same figures, a row per département, named and linked.
        await page.get_by_text("Par département", exact=True).click()  # open the <details>
        table_cell = page.locator('td[data-level="departement"][data-code="23"]')
        await expect(table_cell).to_have_text("0")
        await expect(page.get_by_role("link", name="23 · Creuse")).to_have_attribute(
            "href", "/territoires/departement/23"
        )
        await expect(page.get_by_role("table").first).to_be_attached()
        total = number(await page.locator("#total").inner_text())

        # Confirmed signatures in the Creuse (Guéret) and in Paris.
        await make_signature(pdb, given_name="Léa", family_name="Creusoise", code="23096")
        await make_signature(pdb, given_name="Hugo", family_name="Parisien", code="75056")

        await expect(creuse).not_to_have_attribute("fill", NEUTRAL)
        await expect(creuse).to_have_attribute("data-value", "1")
        await expect(creuse.locator("title")).to_have_text("Creuse : 1 signature")
        for i in range(2):
            await expect(paris.nth(i)).not_to_have_attribute("fill", NEUTRAL)
        await expect(table_cell).to_have_text("1")
        await expect(page.locator("#total")).to_have_text(shown(total + 2))
        # The newest signatories follow (a moment after the total moved).
        latest = page.locator("#derniers")
        await expect(latest).to_contain_text("Hugo Parisien", timeout=8000)
        await expect(latest).to_contain_text("Léa Creusoise")
        assert await page.evaluate("window.__notReloaded === true"), "the page was reloaded"

        # The map by région, on its own page, recolours too.
        await open_live(page, f"{papp.base}/carte?niveau=region")
        bretagne = page.locator('svg.carte path[data-code="53"]')
        await expect(bretagne).to_have_attribute("fill", NEUTRAL)
        await make_signature(
            pdb,
            given_name="Yann",
            family_name="Breton",
            mandate="depute",
            level="departement",
            code="29",
        )
        await expect(bretagne).not_to_have_attribute("fill", NEUTRAL)
        await expect(page.locator('td[data-level="region"][data-code="53"]')).to_have_text("1")


async def test_the_list_filters(
    chromium: Chromium,
    papp: PublicApp,
    pdb: asyncpg.Connection,
) -> None:
    await make_signature(
        pdb, given_name="Maëlle", family_name="Quimper", mandate="maire", code="29232"
    )
    await make_signature(pdb, given_name="Jean", family_name="Lyonnais", code="69123")
    async with chromium.context() as context:  # a phone
        page = await context.new_page()
        await page.goto(f"{papp.base}/signataires")
        listing = page.locator("#liste")
        await expect(listing).to_contain_text("Maëlle Quimper")
        await expect(listing).to_contain_text("Jean Lyonnais")
        await page.get_by_label("Région", exact=True).select_option(label="Bretagne")
        await page.get_by_role("button", name="Rechercher").click()
        await expect(page).to_have_url(f"{papp.base}/signataires?q=&region=53&departement=&mandat=")
        await expect(listing).to_contain_text("Maëlle Quimper")
        await expect(listing).not_to_contain_text("Jean Lyonnais")
        await expect(page.get_by_label("Région", exact=True)).to_have_value("53")
        await page.get_by_label("Mandat", exact=True).select_option(label="Député·e")
        await page.get_by_role("button", name="Rechercher").click()
        await expect(page).to_have_url(re.compile(r"region=53.*mandat=depute"))
        await expect(page.locator("main")).not_to_contain_text("Maëlle Quimper")
        await page.get_by_role("link", name="Effacer les critères").click()
        await page.get_by_label("Nom ou commune", exact=True).fill("lyon")
        await page.get_by_role("button", name="Rechercher").click()
        await expect(listing).to_contain_text("Jean Lyonnais")
        await expect(listing).not_to_contain_text("Maëlle Quimper")


async def test_the_embargo_hides_names_then_opens_by_itself_at_the_moved_clock(
    chromium: Chromium,
    papp: PublicApp,
    pdb: asyncpg.Connection,
) -> None:
    await make_signature(pdb, given_name="Inès", family_name="Publique", code="33063")
    original = await pdb.fetchrow("SELECT embargo, launch_at FROM campaigns WHERE slug = $1", SLUG)
    assert original is not None
    now = datetime.now(UTC).replace(microsecond=0)
    launch = now + timedelta(hours=2)
    async with httpx.AsyncClient(base_url=papp.base) as web:
        await set_embargo(pdb, web, embargo=True, launch_at=launch)
        try:
            async with chromium.context(**DESKTOP) as context:
                # The browser's clock and the server's move together.
                await context.clock.install(time=now)
                listing = await context.new_page()
                await listing.goto(f"{papp.base}/signataires")
                await expect(listing.locator("#embargo")).to_contain_text("seront publiés le")
                await expect(listing.locator("main")).not_to_contain_text("Inès Publique")
                home = await context.new_page()
                await open_live(home, f"{papp.base}/")
                await expect(home.locator("#derniers-note")).to_contain_text("seront publiés")
                await expect(home.locator("#derniers")).not_to_contain_text("Inès")
                await expect(home.locator("#total")).not_to_have_text("0")  # counts are live

                # Just past the launch instant: nobody reloads anything by hand.
                papp.clock.move_to(launch + timedelta(seconds=1))
                await context.clock.fast_forward(int((launch - now).total_seconds() + 2) * 1000)
                await expect(listing.locator("#liste")).to_contain_text(
                    "Inès Publique", timeout=8000
                )
                await expect(listing.locator("#embargo")).to_have_count(0)
                await expect(home.locator("#derniers")).to_contain_text(
                    "Inès Publique", timeout=8000
                )
                await expect(home.locator("#countdown")).to_have_text("La lettre est publique.")
        finally:
            papp.clock.reset()
            await set_embargo(
                pdb, web, embargo=original["embargo"], launch_at=original["launch_at"]
            )


@contextlib.asynccontextmanager
async def partner_site(html: str) -> AsyncIterator[str]:
    """Another origin (another host name and port) serving one page: a partner's site."""
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = html.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_the_widget_lives_in_a_partner_sites_iframe(
    chromium: Chromium,
    papp: PublicApp,
    pdb: asyncpg.Connection,
) -> None:
    html = (
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Partenaire</title>"
        "</head><body><h1>Le site d’un partenaire</h1>"
        f"<iframe id='compteur' src='{papp.base}/widget' title='Compteur' width='360' "
        "height='480'></iframe>"
        f"<iframe id='interdit' src='{papp.base}/signataires' title='Liste' width='360' "
        "height='200'></iframe></body></html>"
    )
    async with partner_site(html) as partner, chromium.context(**DESKTOP) as context:
        page = await context.new_page()
        async with page.expect_response(lambda r: r.url.endswith("/events")):
            await page.goto(partner)
        assert not partner.startswith(papp.base)  # another origin
        widget = page.frame_locator("#compteur")
        total = widget.locator("#total")
        await expect(total).to_be_visible()
        before = number(await total.inner_text())
        nord = widget.locator('svg.carte path[data-code="32"]')  # Hauts-de-France
        await expect(nord).to_have_attribute("fill", NEUTRAL)
        await expect(widget.get_by_role("link", name="Lire et signer la lettre")).to_have_attribute(
            "target", "_blank"
        )

        await make_signature(pdb, given_name="Rose", family_name="Lilloise", code="59350")
        await expect(total).to_have_text(shown(before + 1))
        await expect(nord).not_to_have_attribute("fill", NEUTRAL)

        # Any other page refuses to be framed: the browser shows nothing of it (the partner's
        # page has loaded, frames included, since goto waits for its load event).
        blocked = await (await page.query_selector("#interdit")).content_frame()  # type: ignore[union-attr]
        assert blocked is not None
        assert "Les signataires" not in await blocked.content()
        assert not blocked.url.startswith(papp.base), blocked.url
