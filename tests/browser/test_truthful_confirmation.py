"""On a phone, a signature the anti-abuse checks flag (here: the form's invisible field filled,
as robots do) is confirmed from the email like any other, and the page says what is true: it
will be counted after the team's check. Never that it counts now, never why it waits."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.app import unique_email
from tests.support.browser import Chromium, confirm_from_mailbox
from tests.support.mail import Mailbox

pytestmark = pytest.mark.browser


async def test_a_suspect_signer_reads_the_truth_on_a_phone(
    chromium: Chromium, server: str, mailbox: Mailbox
) -> None:
    address = unique_email("suspecte")
    async with chromium.context(java_script_enabled=False) as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        await page.get_by_label("Prénom", exact=True).fill("Line")
        await page.get_by_label("Nom", exact=True).fill("Soupçon")
        await page.get_by_label("Adresse électronique", exact=True).fill(address)
        await page.get_by_label("Mandat", exact=True).select_option(
            label="Conseiller·ère départemental·e"
        )
        await page.get_by_label("Territoire du mandat", exact=True).fill("33")
        await page.locator("#f-public").check()
        await page.locator("#f-website").fill("http://robot.example", force=True)
        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )
        await expect(page.locator("main")).to_contain_text("quelques minutes")

        await confirm_from_mailbox(page, mailbox, address)
        message = page.locator("main")
        await expect(message).to_contain_text("Elle sera comptée après vérification par l’équipe.")
        await expect(message).to_contain_text("une fois la vérification faite")
        text = await message.inner_text()
        for false in ("compte désormais", "apparaît dans la liste", "suspect", "robot"):
            assert false not in text
        # Readable on the phone: nothing wider than the screen.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
