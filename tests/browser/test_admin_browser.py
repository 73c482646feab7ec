"""The back office in a real Chromium: an organiser logs in, follows the dashboard, finds a
signature, rejects it with a reason (the count drops live on the dashboard), restores it, and
downloads the filtered export."""

from __future__ import annotations

import csv
import io

import asyncpg
import pytest
from playwright.async_api import expect

from tests.support.admin import PASSWORD, make_organiser, make_signature
from tests.support.browser import Chromium, number, shown

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "is_mobile": False, "has_touch": False}


async def test_login_moderate_and_export_in_a_browser(
    chromium: Chromium,
    server: str,
    db: asyncpg.Connection,
) -> None:
    email = await make_organiser(db, "organiser")
    signature_id = await make_signature(
        db, given_name="Gaëlle", family_name="Navigatrice", ref="navigateur", code="44109"
    )
    async with chromium.context(accept_downloads=True, **DESKTOP) as context:
        page = await context.new_page()
        # An anonymous visit goes to the login page, and back after it.
        await page.goto(f"{server}/admin/signataires?relais=navigateur")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
        await page.get_by_label("Adresse électronique").fill(email)
        await page.get_by_label("Mot de passe").fill("pas le bon")
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_role("alert")).to_have_text("Adresse ou mot de passe incorrect.")
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Signataires")
        await expect(page.locator("#signatories")).to_contain_text("Navigatrice Gaëlle")

        # The dashboard, open in another tab, follows the counts live.
        dashboard = await context.new_page()
        async with dashboard.expect_response(lambda r: r.url.endswith("/events")):
            await dashboard.goto(f"{server}/admin")
        total = dashboard.locator("#total")
        before = number(await total.inner_text())

        await page.get_by_role("link", name="Navigatrice Gaëlle").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Gaëlle Navigatrice")
        await page.get_by_label("Motif du rejet").fill("Signature de test")
        await page.get_by_role("button", name="Rejeter").click()
        await expect(page.get_by_role("status")).to_have_text("Signature rejetée.")
        await expect(page.locator("#status")).to_have_text("Rejetée")
        await expect(page.locator(".history")).to_contain_text("Signature de test")
        await expect(total).to_have_text(shown(before - 1))

        await page.get_by_role("button", name="Restaurer").click()
        await expect(page.locator("#status")).to_have_text("Confirmée")
        await expect(total).to_have_text(shown(before))

        # Export what the list shows.
        await page.goto(f"{server}/admin/signataires?relais=navigateur")
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Exporter en CSV").click()
        download = await download_info.value
        assert download.suggested_filename.endswith(".csv")
        path = await download.path()
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8-sig")), delimiter=";"))
        assert [r[1:3] for r in rows[1:]] == [["Gaëlle", "Navigatrice"]]

        # Logging out ends the session: the back office asks to log in again.
        await page.get_by_role("button", name="Se déconnecter").click()
        await expect(page.get_by_role("alert")).to_have_text("Vous êtes déconnecté·e.")
        await page.goto(f"{server}/admin/signataires/{signature_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
