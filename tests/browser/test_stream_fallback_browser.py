"""A page refused a live stream (the server's caps) polls the counts API instead."""

from __future__ import annotations

import httpx

from tests.support.app import app_server
from tests.support.browser import Chromium
from tests.support.mail import Mailbox


async def test_a_page_refused_a_stream_polls_the_counts(
    chromium: Chromium, dsn: str, mailbox: Mailbox
) -> None:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, SSE_MAX_PER_NETWORK="1") as base,
        httpx.AsyncClient(base_url=base, timeout=10) as held,
        held.stream("GET", "/api/v1/campaigns/jouer-collectif/events") as stream,
        chromium.context() as context,
    ):
        assert stream.status_code == 200  # the one stream 127.0.0.1's network may hold
        page = await context.new_page()
        refused: list[int] = []
        page.on(
            "response", lambda r: refused.append(r.status) if r.url.endswith("/events") else None
        )
        async with page.expect_request(lambda r: "/counts?level=" in r.url, timeout=15000):
            await page.goto(base + "/")
        assert refused == [503]
