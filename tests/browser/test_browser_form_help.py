"""The form helps, in a real Chromium on a phone (390×844): after a failed submit focus is on the
error summary, with and without JavaScript; the thank-you page repeats the address and its copy
button copies the letter's link."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.app import unique_email
from tests.support.browser import Chromium

pytestmark = pytest.mark.browser


async def fill(page: Page, *, address: str, mandate: str | None, territory: str) -> None:
    await page.get_by_label("Prénom", exact=True).fill("Claire")
    await page.get_by_label("Nom", exact=True).fill("Durand")
    await page.get_by_label("Adresse électronique", exact=True).fill(address)
    await page.locator("#f-public").check()
    if mandate:
        await page.get_by_label("Mandat", exact=True).select_option(label=mandate)
    await page.get_by_label("Territoire du mandat", exact=True).fill(territory)


async def close_suggestions(page: Page, javascript: bool) -> None:
    """Typed without picking a suggestion: the list, once open, closed with Escape."""
    if javascript:
        suggestions = page.locator("#territoire-suggestions")
        await expect(suggestions).to_be_visible()
        await page.get_by_label("Territoire du mandat", exact=True).press("Escape")
        await expect(suggestions).to_be_hidden()


@pytest.mark.parametrize("javascript", [False, True])
async def test_a_failed_submit_focuses_the_error_summary(
    chromium: Chromium, server: str, javascript: bool
) -> None:
    async with chromium.context(java_script_enabled=javascript) as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        await fill(page, address=unique_email("focus"), mandate=None, territory="saint-eti")
        await close_suggestions(page, javascript)
        await page.get_by_role("button", name="Signer la lettre").click()

        summary = page.locator("#erreurs")
        await expect(summary).to_be_focused()
        await expect(summary).to_contain_text("Mandat : Choisissez votre mandat.")
        # The territory kept its value and is no error until the mandate is known.
        await expect(page.locator("#e-territory_code")).to_have_count(0)
        await expect(page.get_by_label("Territoire du mandat", exact=True)).to_have_value(
            "saint-eti"
        )
        await page.get_by_label("Mandat", exact=True).select_option(label="Maire")
        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(summary).to_be_focused()
        choices = page.get_by_role("group", name="Lequel de ces territoires est le vôtre ?")
        await expect(choices.get_by_role("radio")).to_have_count(8)
        await choices.get_by_label("Saint-Étienne (42)", exact=False).first.check()
        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )


async def test_the_thank_you_page_repeats_the_address_and_copies_the_link(
    chromium: Chromium, server: str
) -> None:
    address = unique_email("partage")
    async with chromium.context(permissions=["clipboard-read", "clipboard-write"]) as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        await fill(page, address=address, mandate="Maire", territory="Lyon")
        await close_suggestions(page, javascript=True)
        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )
        assert page.url == f"{server}/merci"
        await expect(page.locator(".typed-address")).to_have_text(
            f"Adresse indiquée\u00a0: {address}"
        )
        await page.get_by_role("button", name="Copier le lien").click()
        await expect(page.get_by_role("status").filter(has_text="Lien")).to_have_text("Lien copié.")
        assert await page.evaluate("navigator.clipboard.readText()") == f"{server}/"
        # The page fits the phone's width, share block included.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        # Reloaded, the address is gone (its cookie was read once).
        await page.reload()
        await expect(page.locator(".typed-address")).to_have_count(0)
