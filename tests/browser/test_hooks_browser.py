"""Webhooks in a real Chromium, on a phone: an administrator registers an endpoint, copies its
secret (shown once), presses « Envoyer un test », and the delivery log shows the ping delivered
to a real local receiver. An app and a database of its own: the session's app refuses local
addresses."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from playwright.async_api import expect

from tests.support.admin import PASSWORD, make_organiser
from tests.support.app import app_server, migrated_database
from tests.support.browser import Chromium
from tests.support.mail import Mailbox
from tests.support.receiver import receiver

pytestmark = pytest.mark.browser
NARROW = {"viewport": {"width": 360, "height": 740}}


async def test_an_admin_registers_an_endpoint_and_tests_it(
    chromium: Chromium, pg_server: str, mailbox: Mailbox
) -> None:
    dsn = await migrated_database(pg_server, f"hooks_browser_{uuid.uuid4().hex[:8]}")
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    db = await asyncpg.connect(dsn)
    try:
        async with (
            receiver() as r,
            app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, WEBHOOK_ALLOW_LOCAL="true") as base,
            chromium.context(**NARROW) as context,
        ):
            email = await make_organiser(db, "admin")
            page = await context.new_page()
            await page.goto(f"{base}/admin/webhooks")
            await page.get_by_label("Adresse électronique").fill(email)
            await page.get_by_label("Mot de passe").fill(PASSWORD)
            await page.get_by_role("button", name="Se connecter").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
            await page.get_by_label("Adresse (https://…)").fill(r.url)
            await page.get_by_label("Signature confirmée").check()
            await page.get_by_label("Signature retirée").check()
            await page.get_by_role("button", name="Enregistrer le point d’accès").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Point d’accès enregistré"
            )
            secret = await page.get_by_label("Secret").input_value()
            assert secret.startswith("whsec_")
            await page.get_by_role("link", name="Voir le point d’accès et envoyer un test").click()
            await expect(page.locator("body")).not_to_contain_text(secret)
            await page.get_by_role("button", name="Envoyer un test").click()
            await expect(page.get_by_role("status")).to_contain_text("Un évènement de test")
            for _ in range(50):
                if r.ok():
                    break
                await page.wait_for_timeout(100)
            assert [g.json["type"] for g in r.ok()] == ["ping"]
            await page.reload()
            row = page.locator("#deliveries tbody tr").first
            await expect(row).to_contain_text("Remis")
            await expect(row).to_contain_text("HTTP 200")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"the endpoint's page is {width} px wide"
            await page.goto(f"{base}/admin/webhooks")
            await expect(page.locator("#webhooks")).to_contain_text(r.url)
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        await db.close()
