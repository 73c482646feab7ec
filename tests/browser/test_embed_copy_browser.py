"""/integrer in a real Chromium: « Copier le code » puts the snippet on the clipboard and says
so; without JavaScript there is no dead button and the read-only snippet can be selected."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser import DESKTOP, Chromium

pytestmark = pytest.mark.browser


async def test_the_copy_button_copies_the_snippet(chromium: Chromium, server: str) -> None:
    async with chromium.context(**DESKTOP) as context:
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        page = await context.new_page()
        await page.goto(f"{server}/integrer")
        snippet = page.locator("#extrait-region")
        await expect(snippet).to_have_attribute("readonly", "")
        buttons = page.get_by_role("button", name="Copier le code")
        await expect(buttons.first).to_be_visible()
        await buttons.first.click()
        await expect(page.get_by_role("status").first).to_have_text("Code copié.")
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied == await snippet.input_value()
        assert copied.startswith("<iframe src=") and "/widget" in copied


async def test_without_javascript_the_snippet_is_selectable(
    chromium: Chromium, server: str
) -> None:
    async with chromium.context(java_script_enabled=False) as context:
        page = await context.new_page()
        await page.goto(f"{server}/integrer")
        await expect(page.get_by_role("button", name="Copier le code").first).to_be_hidden()
        snippet = page.locator("#extrait-region")
        await expect(snippet).to_be_visible()
        await snippet.select_text()
        assert "<iframe" in await page.evaluate("String(window.getSelection())") or (
            "<iframe" in await snippet.input_value()
        )
