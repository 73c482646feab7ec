"""The reach in a real Chromium: an organiser starts a mailing and watches its progress move
without reloading; a relay's secret page shows a new signature it brought without reloading."""

from __future__ import annotations

import re
import uuid

import asyncpg
import pytest
from playwright.async_api import expect

from campaign.core.audit import CLI_ACTOR
from campaign.core.settings import load_settings
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import mailings, relays
from tests.support.admin import PASSWORD, campaign_row, make_organiser, make_signature
from tests.support.browser import Chromium, shown
from tests.support.mail import Mailbox

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "is_mobile": False, "has_touch": False}


async def test_mailing_progress_moves_live(
    chromium: Chromium,
    server: str,
    db: asyncpg.Connection,
    mailbox: Mailbox,
) -> None:
    ref = f"nav-{uuid.uuid4().hex[:6]}"
    for _ in range(6):
        await make_signature(db, ref=ref)
    c = await campaign_row(db)
    draft = mailings.Draft(
        subject="Suivi en direct",
        body="Bonjour à toutes et à tous.\n",
        filter=SignatoryFilter(status="confirmed", ref=ref),
        rate=2,
    )
    mailing_id = await mailings.create(db, c["id"], draft, CLI_ACTOR)
    email = await make_organiser(db, "organiser")
    async with chromium.context(**DESKTOP) as context:
        page = await context.new_page()
        await page.goto(f"{server}/admin/envois/{mailing_id}")
        await page.get_by_label("Adresse électronique").fill(email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Suivi en direct")
        await expect(page.locator("#p-status")).to_have_text("Brouillon")
        await page.get_by_role("button", name="Envoyer à 6 signataires").click()
        # The confirmation step: nothing sent yet, the count and a sample of recipients.
        await expect(page.locator("#recipients-count")).to_contain_text("6")
        await expect(page.locator("#sample tbody tr")).to_have_count(5)
        await expect(page.locator("#sample")).to_contain_text("•••@")
        assert await db.fetchval("SELECT status FROM mailings WHERE id = $1", mailing_id) == "draft"
        await page.get_by_role("button", name="Confirmer l’envoi à 6 signataires").click()
        await expect(page.get_by_role("status")).to_have_text("L’envoi a commencé.")
        await expect(page.locator("#p-status")).to_have_text("En cours d’envoi")
        await page.evaluate("window.sameDocument = true")
        sent = page.locator("#p-sent")
        # Two per second: the count passes through intermediate values, then reaches 6, live.
        await expect(sent).not_to_have_text(shown(0), timeout=10_000)
        await expect(sent).to_have_text(shown(6), timeout=15_000)
        await expect(page.locator("#p-status")).to_have_text("Terminé", timeout=10_000)
        await expect(page.locator("#p-queued")).to_have_text(shown(0))
        # Once done, nothing left to pause or cancel, and no time left shown.
        await expect(page.locator("#form-pause")).to_be_hidden()
        await expect(page.locator("#form-cancel")).to_be_hidden()
        await expect(page.locator("#p-remaining")).to_have_text("")
        assert await page.evaluate("window.sameDocument === true")  # never reloaded
        await expect(page.locator("#p-minutes li").first).to_contain_text(
            re.compile(r"\d{2}:\d{2}")
        )


async def test_a_relay_sees_a_new_signature_live(
    chromium: Chromium,
    server: str,
    db: asyncpg.Connection,
) -> None:
    c = await campaign_row(db)
    settings = load_settings(
        {"BASE_URL": server, "SECRET_KEY": "test-secret-key-not-for-production"}
    )
    code = f"direct-{uuid.uuid4().hex[:6]}"
    index_territory = await db.fetchrow(
        "SELECT level, code, name, departement, region, population FROM territories "
        "WHERE level = 'departement' AND code = '35'"
    )
    from campaign.territories.index import Territory

    territory = Territory(
        level=index_territory["level"],
        code=index_territory["code"],
        name=index_territory["name"],
        departement=index_territory["departement"],
        region=index_territory["region"],
        population=index_territory["population"],
    )
    relay_id = await relays.create(
        db,
        settings,
        c["id"],
        name="Relais Ille-et-Vilaine",
        territory=territory,
        code=code,
        who=CLI_ACTOR,
    )
    relay = await relays.get(db, relay_id)
    assert relay is not None
    link = relays.secret_link(settings, relay)
    async with chromium.context() as context:  # a phone
        page = await context.new_page()
        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Relais Ille-et-Vilaine")
        await expect(page.locator("#relay-confirmed")).to_have_text(shown(0))
        before = await page.locator("#territory-confirmed").inner_text()
        await page.evaluate("window.sameDocument = true")
        await make_signature(
            db, given_name="Rennaise", family_name="Apportée", ref=code, code="35238"
        )
        await expect(page.locator("#relay-confirmed")).to_have_text(shown(1), timeout=10_000)
        await expect(page.locator("#relay-items")).to_contain_text("Rennaise Apportée")
        await expect(page.locator("#relay-items")).to_contain_text("Rennes (35)")
        await expect(page.locator("#territory-confirmed")).not_to_have_text(before)
        assert await page.evaluate("window.sameDocument === true")
        # Nothing else is reachable from there.
        response = await page.goto(f"{server}/admin")
        assert response is not None
        await expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
