"""The territory field in a real Chromium: the autocomplete (ARIA 1.2 combobox) driven by the
keyboard alone, its suggestions following the mandate; and, without JavaScript, an ambiguous
name answered by a choice of territories on the form."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.support.app import unique_email
from tests.support.browser import Chromium, confirm_from_mailbox
from tests.support.mail import Mailbox

pytestmark = pytest.mark.browser

SLUG = "jouer-collectif"


async def signed_territory(server: str, family: str) -> str:
    async with httpx.AsyncClient(base_url=server) as client:
        page = await client.get(f"/api/v1/campaigns/{SLUG}/signatories", params={"q": family})
    [item] = page.json()["items"]
    return str(item["territory_code"])


async def fill_person(page: Page, *, given: str, family: str, address: str) -> None:
    await page.get_by_label("Prénom", exact=True).fill(given)
    await page.get_by_label("Nom", exact=True).fill(family)
    await page.get_by_label("Adresse électronique", exact=True).fill(address)
    await page.locator("#f-public").check()


async def test_the_autocomplete_by_keyboard(
    chromium: Chromium,
    server: str,
    mailbox: Mailbox,
) -> None:
    address = unique_email("clavier")
    family = "Clavier" + address.split(".")[1][:6]
    async with chromium.context() as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        await fill_person(page, given="Inès", family=family, address=address)
        await page.get_by_label("Mandat", exact=True).select_option(label="Maire")

        field = page.get_by_role("combobox", name="Territoire du mandat")
        await expect(field).to_have_attribute("aria-expanded", "false")
        await expect(field).to_have_attribute("aria-autocomplete", "list")
        listbox = page.locator("#" + (await field.get_attribute("aria-controls") or "missing"))
        await field.focus()
        await page.keyboard.type("st eti", delay=30)

        await expect(field).to_have_attribute("aria-expanded", "true")
        await expect(listbox).to_be_visible()
        await expect(listbox).to_have_attribute("role", "listbox")
        options = listbox.get_by_role("option")
        await expect(options.first).to_contain_text("Saint-Étienne (42)")
        status = page.get_by_role("status").filter(has_text="suggestion")
        await expect(status).to_contain_text(re.compile(r"\d+ suggestions?"))
        assert await field.get_attribute("aria-activedescendant") is None

        # Down twice, up once: back on the first suggestion, announced as active.
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowUp")
        first = options.first
        await expect(first).to_have_attribute("aria-selected", "true")
        await expect(field).to_have_attribute(
            "aria-activedescendant", await first.get_attribute("id") or ""
        )
        await expect(options.nth(1)).to_have_attribute("aria-selected", "false")
        await expect(field).to_be_focused()  # the focus never leaves the field

        await page.keyboard.press("Enter")
        await expect(field).to_have_value("Saint-Étienne (42)")
        await expect(field).to_have_attribute("aria-expanded", "false")
        await expect(listbox).to_be_hidden()

        # Escape closes the list and keeps what was typed.
        await page.keyboard.press("End")
        await page.keyboard.type("x")
        await page.keyboard.press("Backspace")
        await page.keyboard.press("ArrowDown")
        await expect(field).to_have_attribute("aria-expanded", "true")
        await page.keyboard.press("Escape")
        await expect(field).to_have_attribute("aria-expanded", "false")
        await expect(field).to_have_value("Saint-Étienne (42)")

        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )
        await confirm_from_mailbox(page, mailbox, address)
    assert await signed_territory(server, family) == "42218"


async def test_suggestions_follow_the_mandate(chromium: Chromium, server: str) -> None:
    async with chromium.context() as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        mandate = page.get_by_label("Mandat", exact=True)
        field = page.get_by_role("combobox", name="Territoire du mandat")
        options = page.get_by_role("listbox").get_by_role("option")

        await mandate.select_option(label="Conseiller·ère départemental·e")
        await field.fill("loire")
        await expect(options.first).to_contain_text("Loire (42)")
        for text in await options.all_inner_texts():
            assert "département" in text, text

        await mandate.select_option(label="Conseiller·ère régional·e")
        await field.fill("")
        await field.press_sequentially("pays de")
        await expect(options.first).to_contain_text("Pays de la Loire")
        for text in await options.all_inner_texts():
            assert "région" in text, text

        await mandate.select_option(label="Maire")
        await field.fill("")
        await field.press_sequentially("42000")  # a postal code
        await expect(options.first).to_contain_text("Saint-Étienne (42)")
        await expect(options.first).to_contain_text("42000")
        await field.fill("")
        await field.press_sequentially("Lyon 3e Arrondissement")  # an arrondissement: its commune
        await expect(options.first).to_contain_text("Lyon (69)")


async def test_an_ambiguous_name_becomes_a_choice_without_javascript(
    chromium: Chromium,
    server: str,
    mailbox: Mailbox,
) -> None:
    address = unique_email("homonyme")
    family = "Homonyme" + address.split(".")[1][:6]
    async with chromium.context(java_script_enabled=False) as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        await fill_person(page, given="Paul", family=family, address=address)
        await page.get_by_label("Mandat", exact=True).select_option(label="Maire")
        await page.get_by_label("Territoire du mandat", exact=True).fill("Saint-Martin")
        await page.get_by_role("button", name="Signer la lettre").click()

        error = page.locator("#e-territory_code")
        await expect(error).to_contain_text("Plusieurs communes correspondent")
        choices = page.get_by_role("group", name="Lequel de ces territoires est le vôtre ?")
        await expect(choices).to_be_visible()
        radios = choices.get_by_role("radio")
        assert await radios.count() >= 4
        await choices.get_by_label(re.compile(r"^Saint-Martin \(65\)")).check()
        # What else was typed is still there.
        await expect(page.get_by_label("Nom", exact=True)).to_have_value(family)
        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )
        await confirm_from_mailbox(page, mailbox, address)
    code = await signed_territory(server, family)
    assert code.startswith("65"), code
