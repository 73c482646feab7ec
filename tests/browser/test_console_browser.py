"""A catalyst on a 360 px phone, in Chromium, without JavaScript: logs in through the back
office's form, lands on its console, opens a commune and notes a call; no page of the console
scrolls sideways."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from playwright.async_api import expect

from tests.support.admin import PASSWORD
from tests.support.browser import Chromium
from tests.support.catalysts import make_catalyst, territory

pytestmark = pytest.mark.browser
WIDTH = 360
PHONE_NO_JS: dict[str, Any] = {
    "viewport": {"width": WIDTH, "height": 740},
    "java_script_enabled": False,
}


async def test_a_catalyst_works_its_console_on_a_phone_without_javascript(
    server: str, db: asyncpg.Connection, chromium: Chromium
) -> None:
    email = await make_catalyst(db, [territory("departement", "48"), territory("commune", "07010")])
    async with chromium.context(**PHONE_NO_JS) as context:
        page = await context.new_page()
        await page.goto(f"{server}/admin/connexion")
        await page.get_by_label("Adresse électronique").fill(email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Mes communes")
        assert page.url == f"{server}/console"
        wide: list[str] = []
        for path in ("/console", "/console/alliance/departement/48", "/console/affiche"):
            await page.goto(server + path)
            width = await page.evaluate("document.documentElement.scrollWidth")
            if width > WIDTH:
                wide.append(f"{path}: {width} px")
        await page.goto(f"{server}/console")
        await page.locator("#to_invite a").first.click()
        await expect(page.locator("#queue")).to_have_text("Pas encore invitée")
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            wide.append(f"{page.url}: {width} px")
        await page.get_by_role("radio", name="Appel").check()
        await page.get_by_label("Note").fill("Message laissé au secrétariat")
        await page.get_by_role("button", name="Enregistrer").click()
        await expect(page.get_by_role("status")).to_contain_text("Votre note est enregistrée")
        await expect(page.locator("#contacts")).to_contain_text("Message laissé au secrétariat")
    assert not wide, "console pages wider than a 360 px phone: " + ", ".join(wide)
