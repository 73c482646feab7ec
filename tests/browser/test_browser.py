"""The pages in a real Chromium on a phone-sized screen: sign, confirm from the email, watch the
counts move live on another page; a form with errors; the whole path without JavaScript.

The app runs in the pytest session's event loop (the `server` fixture), so Playwright's async API
drives the browser: its sync API would block the loop that serves the pages.

Nothing here is skipped: without /usr/bin/chromium the tests fail and say how to install it.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.support.app import unique_email
from tests.support.browser import Chromium, confirm_from_mailbox, number, shown
from tests.support.mail import Mailbox
from tests.support.signing import confirm_link

pytestmark = pytest.mark.browser


async def fill_sign_form(
    page: Page,
    *,
    given: str,
    family: str,
    address: str,
    mandate: str,
    territory: str,
    public: bool,
) -> None:
    await page.get_by_label("Prénom", exact=True).fill(given)
    await page.get_by_label("Nom", exact=True).fill(family)
    await page.get_by_label("Adresse électronique", exact=True).fill(address)
    await page.get_by_label("Mandat", exact=True).select_option(label=mandate)
    if public:  # before the territory: its suggestions, once open, may cover the checkbox
        await page.locator("#f-public").check()
    await page.get_by_label("Territoire du mandat", exact=True).fill(territory)


async def test_sign_on_a_phone_and_watch_counts_move_live(
    chromium: Chromium, server: str, mailbox: Mailbox
) -> None:
    address = unique_email("mobile")
    async with chromium.context() as watcher, chromium.context() as signer:
        # Page A follows the counts; its stream is open before anyone signs.
        page_a = await watcher.new_page()
        async with page_a.expect_response(lambda r: r.url.endswith("/events")):
            await page_a.goto(f"{server}/")
        total = page_a.locator("#total")
        region = page_a.locator('[data-level=region][data-code="84"]')
        before_total = number(await total.inner_text())
        before_region = number(await region.inner_text())
        await page_a.evaluate("window.__notReloaded = true")

        # Page B signs as a mayor of Lyon, then confirms from the email.
        page_b = await signer.new_page()
        await page_b.goto(f"{server}/")
        await fill_sign_form(
            page_b,
            given="Camille",
            family="Lefèvre",
            address=address,
            mandate="Maire",
            territory="Lyon",
            public=True,
        )
        await page_b.get_by_role("button", name="Signer la lettre").click()
        await expect(page_b.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )
        assert page_b.url == f"{server}/merci"
        [message] = await mailbox.wait_for(address)
        link, _ = confirm_link(message)
        await page_b.goto(link)
        summary = page_b.locator("dl.summary")
        await expect(summary).to_contain_text("Camille Lefèvre")
        await expect(summary).to_contain_text("Maire")
        await expect(summary).to_contain_text("Lyon")
        await expect(summary).to_contain_text("Oui, mon nom apparaîtra")
        await page_b.get_by_role("button", name="Je confirme ma signature").click()
        await expect(page_b.get_by_role("heading", level=1)).to_have_text(
            "Merci, votre signature est confirmée"
        )

        # Page A, never reloaded, shows the new counts.
        await expect(total).to_have_text(shown(before_total + 1))
        await expect(region).to_have_text(shown(before_region + 1))
        assert await page_a.evaluate("window.__notReloaded === true"), "page A was reloaded"


async def test_form_errors_are_shown_next_to_their_fields(chromium: Chromium, server: str) -> None:
    async with chromium.context() as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        await page.get_by_label("Prénom", exact=True).fill("Anne")
        await page.get_by_label("Adresse électronique", exact=True).fill("pas-une-adresse")
        await page.get_by_label("Territoire du mandat", exact=True).fill("Lyon")
        await page.locator("#f-comment").fill("Bravo pour cette lettre.")
        await page.locator("#f-ref").fill("code relais !")
        await page.locator("#f-public").check()
        await page.get_by_role("button", name="Signer la lettre").click()

        summary = page.locator("#erreurs")
        await expect(summary).to_be_visible()
        await expect(page).to_have_title(re.compile(r"^Erreur"))
        bad = ["family_name", "email", "mandate", "ref"]
        await expect(summary).to_contain_text(f"{len(bad)} erreurs")
        links = summary.locator("a")
        await expect(links).to_have_count(len(bad))
        hrefs = [await link.get_attribute("href") for link in await links.all()]
        assert sorted(hrefs) == sorted(f"#f-{name}" for name in bad)

        for name in bad:
            field = page.locator(f"#f-{name}")
            error = page.locator(f"#e-{name}")
            await expect(error).to_be_visible()
            await expect(error).not_to_be_empty()
            # The message sits in the same block as its field and is announced with it.
            wrapper = page.locator(".field", has=field)
            await expect(wrapper.locator(f"#e-{name}")).to_have_count(1)
            await expect(field).to_have_attribute("aria-invalid", "true")
            await expect(field).to_have_attribute("aria-describedby", re.compile(rf"\be-{name}\b"))
        for name in ["given_name", "territory_code", "comment", "public"]:
            await expect(page.locator(f"#e-{name}")).to_have_count(0)

        # What was typed is still there.
        await expect(page.get_by_label("Prénom", exact=True)).to_have_value("Anne")
        await expect(page.get_by_label("Adresse électronique", exact=True)).to_have_value(
            "pas-une-adresse"
        )
        await expect(page.get_by_label("Territoire du mandat", exact=True)).to_have_value("Lyon")
        await expect(page.locator("#f-comment")).to_have_value("Bravo pour cette lettre.")
        await expect(page.locator("#f-ref")).to_have_value("code relais !")
        await expect(page.locator("#f-public")).to_be_checked()

        # Each link of the summary leads to its field.
        for name in bad:
            await summary.locator(f'a[href="#f-{name}"]').click()
            await expect(page).to_have_url(re.compile(rf"#f-{name}$"))
            await expect(page.locator(f"#f-{name}")).to_be_in_viewport()


async def test_signing_works_without_javascript(
    chromium: Chromium, server: str, mailbox: Mailbox
) -> None:
    address = unique_email("sansjs")
    async with chromium.context(java_script_enabled=False) as context:
        page = await context.new_page()
        await page.goto(f"{server}/")
        region = page.locator('[data-level=region][data-code="75"]')
        before_total = number(await page.locator("#total").inner_text())
        before_region = number(await region.inner_text())

        await fill_sign_form(
            page,
            given="Jean",
            family="Dupont",
            address=address,
            mandate="Conseiller·ère départemental·e",
            territory="33",
            public=False,
        )
        await page.get_by_role("button", name="Signer la lettre").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vérifiez votre boîte de réception"
        )
        await confirm_from_mailbox(page, mailbox, address)

        await page.goto(f"{server}/")
        await expect(page.locator("#total")).to_have_text(shown(before_total + 1))
        table = page.get_by_role("table", name="Par région")
        await expect(table).to_be_visible()
        await expect(table.get_by_role("row")).to_have_count(1 + 18)  # header + 18 régions
        await expect(region).to_have_text(shown(before_region + 1))
        await expect(
            table.get_by_role("row", name=re.compile("Nouvelle-Aquitaine")).locator("td")
        ).to_have_text(shown(before_region + 1))
