"""The launch switch in a real Chromium (issue 7): the letter page, open a few seconds before the
launch instant, switches to its published state at the instant without a reload; without
JavaScript, a reload after the instant shows the same state. The server's clock is moved (the
page tells the browser what time it is on the server, so the browser's own clock is not)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.support.browser import DESKTOP, Chromium, open_live
from tests.support.mail import Mailbox
from tests.support.public import PublicApp, make_signature, public_app, set_embargo

pytestmark = pytest.mark.browser

BEFORE = timedelta(seconds=4)


@pytest.fixture(scope="module")
async def bapp(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    async with public_app(pg_server, "launch_browser", mailbox.port) as app:
        yield app


async def test_the_letter_page_publishes_itself_at_the_instant_without_a_reload(
    chromium: Chromium,
    bapp: PublicApp,
) -> None:
    db = await asyncpg.connect(bapp.dsn)
    launch = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    try:
        await make_signature(db, given_name="Inès", family_name="Lyonnaise", code="69123")
        await make_signature(
            db, given_name="Yann", family_name="Breton", mandate="depute", level="departement",
            code="29",
        )  # fmt: skip
        async with httpx.AsyncClient(base_url=bapp.base) as web:
            await set_embargo(db, web, embargo=True, launch_at=launch)
            # A few seconds before the instant, on the server's clock.
            bapp.clock.move_to(launch - BEFORE)
            async with chromium.context(**DESKTOP) as context:
                page = await context.new_page()
                await open_live(page, f"{bapp.base}/")
                await page.evaluate("window.__notReloaded = true")
                publication = page.locator("#publication")
                await expect(publication).to_be_empty()
                await expect(page.locator("#countdown")).to_contain_text("Publication le")
                # The last minute counts down in seconds, on the server's clock.
                await expect(page.locator("#countdown-value")).to_have_text(
                    re.compile(r"^[1-4] secondes?$")
                )
                await expect(page.locator("main")).not_to_contain_text("Inès Lyonnaise")

                # Nobody touches anything: at the instant the page fills itself.
                await expect(publication).to_contain_text("Lettre publiée le", timeout=12_000)
                await expect(publication.locator("[data-live-total]")).to_have_text("2 signataires")
                assert bapp.clock.now() >= launch  # not before the server's instant
                assert await page.evaluate("window.__notReloaded === true"), "page reloaded"
                await expect(page.locator("#countdown")).to_have_text("La lettre est publique.")
                # The embargo lifted at the same instant: the newest signatories show names.
                await expect(page.locator("#derniers")).to_contain_text("Inès Lyonnaise")
                listing = page.locator("#signataires-publies")
                aura = listing.locator("details", has_text="Auvergne-Rhône-Alpes")
                await expect(aura).to_have_attribute("open", "")  # a short list: all open
                await expect(aura).to_contain_text("Rhône (69)")
                await expect(aura).to_contain_text("Inès Lyonnaise")
                await expect(listing.locator("details", has_text="Bretagne")).to_contain_text(
                    "Yann Breton"
                )

                # The total stays live in the banner.
                await make_signature(db, given_name="Léa", family_name="Tardive", code="33063")
                await expect(publication.locator("[data-live-total]")).to_have_text("3 signataires")

                # The downloads answer, from the links of the banner.
                links = {
                    "La lettre et ses signataires": "application/pdf",
                    "CSV des signatures par territoire": "text/csv; charset=utf-8",
                    "JSON des signatures par territoire": "application/json",
                    "SVG de la carte": "image/svg+xml",
                    "PNG de la carte": "image/png",
                }
                for name, media_type in links.items():
                    link = publication.get_by_role("link", name=name, exact=True)
                    href = await link.get_attribute("href")
                    assert href is not None
                    response = await page.request.get(bapp.base + href)
                    assert response.status == 200, (name, response.status)
                    assert response.headers["content-type"] == media_type

            # Without JavaScript: the countdown before, the published state on a reload after.
            bapp.clock.move_to(launch - BEFORE)
            async with chromium.context(java_script_enabled=False) as context:
                page = await context.new_page()
                await page.goto(f"{bapp.base}/")
                await expect(page.locator("#publication")).to_be_empty()
                bapp.clock.move_to(launch + timedelta(seconds=1))
                await page.reload()
                await expect(page.locator("#publication")).to_contain_text("Lettre publiée le")
                await expect(page.locator("#signataires-publies")).to_contain_text("Inès Lyonnaise")
                await expect(
                    page.get_by_role("link", name="CSV des signatures par territoire")
                ).to_be_visible()
    finally:
        bapp.clock.reset()
        await db.close()
