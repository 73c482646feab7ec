"""The session's browser (a real Chromium driven by Playwright's async API) and what the browser
tests share: screen sizes, counts as displayed, confirming from the mailbox. The `chromium`
fixture itself is in tests/conftest.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.mail import Mailbox
from tests.support.signing import confirm_link

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "fr-FR",
    "timezone_id": "Europe/Paris",
}
TIMEOUT_MS = 10_000


class Chromium:
    """The session's browser, or why there is none (reported as a test failure, never a skip)."""

    def __init__(self, browser: Browser | None, problem: str | None) -> None:
        self._browser = browser
        self._problem = problem

    @asynccontextmanager
    async def context(self, **options: Any) -> AsyncIterator[BrowserContext]:
        if self._browser is None:
            pytest.fail(self._problem or "Chromium did not start", pytrace=False)
        context = await self._browser.new_context(**{**PHONE, **options})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()


DESKTOP: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 900},
    "is_mobile": False,
    "has_touch": False,
}


def number(text: str) -> int:
    """A count as displayed ("1 234", with any kind of space)."""
    digits = re.sub(r"\s", "", text)
    assert digits.isdigit(), f"not a count: {text!r}"
    return int(digits)


def shown(n: int) -> re.Pattern[str]:
    """The display of a count, whatever space groups its thousands."""
    return re.compile(r"^\s*" + r"\s?".join(f"{n:,}".split(",")) + r"\s*$")


async def confirm_from_mailbox(page: Page, mailbox: Mailbox, address: str) -> None:
    """Open the link of the email just received, check the summary, press the button."""
    [message] = await mailbox.wait_for(address)
    link, _ = confirm_link(message)
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer votre signature")
    await page.get_by_role("button", name="Je confirme ma signature").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Merci, votre signature est confirmée"
    )


async def open_live(page: Page, url: str) -> None:
    """Open a page and wait until its event stream answered (so no change is missed)."""
    async with page.expect_response(lambda r: r.url.endswith("/events")):
        await page.goto(url)
