"""A town hall, on a phone at 360 px without JavaScript, opens the attestation link its email
carries and presses « Oui » for its maire: the signature is proven by the town hall."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from campaign.core import resources
from campaign.letter.campaigns import seed_campaigns
from tests.support.app import app_server, migrated_database
from tests.support.attestation import (
    SAINT_ETIENNE,
    SAINT_ETIENNE_MAIRIE,
    attestation_link,
    attestations_to,
    load_register_of,
    sign_and_confirm,
)
from tests.support.browser import Chromium
from tests.support.mail import Mailbox

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def browser_dsn(pg_server: str) -> str:
    dsn = await migrated_database(pg_server, "attestation_browser")
    conn = await asyncpg.connect(dsn)
    try:
        await seed_campaigns(conn, resources.DEMO_CAMPAIGNS)
        await load_register_of(conn, {SAINT_ETIENNE})
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="module")
async def site(browser_dsn: str, mailbox: Mailbox) -> AsyncIterator[str]:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=browser_dsn, SMTP_URL=smtp_url) as base:
        yield base


async def test_the_town_hall_says_yes_on_a_phone_without_javascript(
    chromium: Chromium, site: str, mailbox: Mailbox, browser_dsn: str
) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=10) as web:
        address = await sign_and_confirm(web, mailbox, "Régis", "Juanico", "maire", SAINT_ETIENNE)
    [message] = await attestations_to(mailbox, site, SAINT_ETIENNE_MAIRIE)
    link, _ = attestation_link(message)

    viewport = {"width": 360, "height": 740}
    async with chromium.context(java_script_enabled=False, viewport=viewport) as context:
        page = await context.new_page()
        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Saint-Étienne")
        await expect(page.locator("main")).to_contain_text("Régis Juanico, Maire")
        yes = page.get_by_role(
            "button", name="Oui, cette personne est bien élue de notre commune et a signé"
        )
        await expect(yes).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await yes.click()
        await expect(page.locator("main")).to_contain_text("Merci, votre réponse est enregistrée")
        await expect(page.locator("main")).to_contain_text(
            "Réponse enregistrée : oui, élu·e de la commune et signataire."
        )
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    conn = await asyncpg.connect(browser_dsn)
    try:
        proof = await conn.fetchval("SELECT proof FROM signatures WHERE email = $1", address)
    finally:
        await conn.close()
    assert proof == "mairie"
