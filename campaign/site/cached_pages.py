"""The public pages served like the counts: the same bytes for every visitor between two changes
of what they show, rendered once per change and kept per process (`runtime.pages`), gzipped once,
with an ETag, `Cache-Control: public, max-age, stale-while-revalidate` (a CDN or a front server
may keep them) and a 304 to `If-None-Match`; campaign/web/hotreads.py replays the app's answer
while the page's ETag holds.

What a page shows moves with its state (`page_state`): the campaign as this process read it (its
settings and letter), what its dates decide (names shown, publication, closing), before the
launch the minute on the campaign's clock (the countdown; the second in its last minutes), the
hourly chart's history, the public address, and the counts' version (any count, metric or the
register's totals). The lists a page reads (newest signatories, the published list) follow the
counts a moment later: a page built before they caught up is built again at the next chance.

Nothing a visitor owns is in these pages: the sign form's anti-forgery and timing checks are a
cookie set by a tiny image (campaign/site/pages.py, `/signer/jeton`); a query string (relay or
invitation links, list filters) is served by the app for that request only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from litestar import Request, Response

from campaign.core.bodies import PageBody, PageState
from campaign.counts.latest import names_hidden
from campaign.letter import launch
from campaign.letter.campaigns import Campaign
from campaign.runtime import Runtime
from campaign.web.httpcache import cached_response

SHARED_MAX_AGE = 5
"""Seconds a CDN or a front server may keep a page without asking (`s-maxage`)."""
STALE = 30
"""Seconds a cache may serve a kept page while it asks for the new one."""
CACHE_CONTROL = f"public, max-age=0, s-maxage={SHARED_MAX_AGE}, stale-while-revalidate={STALE}"
"""A browser asks each time (`If-None-Match`: an empty 304 while nothing changed), so a person who
has just signed sees the new count on the next page, with or without JavaScript; shared caches
keep pages a few seconds."""
HTML = "text/html"  # Litestar adds the charset
LAUNCH_SECONDS = timedelta(minutes=10)
"""Before the launch instant, how long the pages are built again each second (see page_state)."""
OPT_NO_CSRF = {"exclude_from_csrf": True}
"""The route option that keeps Litestar's CSRF cookie off a cached page (no `Set-Cookie`)."""


def page_state(runtime: Runtime) -> PageState:
    """What a public page shows depends on, read from memory (cheap): at once, the current
    campaign (replaced whole when organisers change it), what its dates decide (names shown,
    published, signing closed), the minute (countdown, hourly chart) and the public address;
    a moment later (`runtime.pages.min_interval`), its counts."""
    now = runtime.clock.now()
    campaign = runtime.campaigns.current()
    if campaign is None:
        return (None, now.replace(second=0, microsecond=0)), None
    # Before the launch, the pages count the days and the letter's page says what time it is on
    # the server (static/live.js times the launch instant with it): to the minute, and to the
    # second in the last minutes. After it, nothing shown follows the clock but what the dates
    # decide: a page then stays the same (and its ETag) while nothing else changes.
    left = campaign.launch_at - now
    tick = None
    if timedelta(0) < left <= LAUNCH_SECONDS:
        tick = now.replace(microsecond=0)
    elif left > timedelta(0):
        tick = now.replace(second=0, microsecond=0)
    urgent = (
        campaign,
        names_hidden(campaign, now),
        launch.published(campaign, now),
        launch.closed_message(campaign, now),
        launch.closing_notice(campaign, now),
        tick,
        runtime.settings.base_url,
        runtime.history.kept(campaign.id),  # the chart: read again once a minute
    )
    return urgent, runtime.counts.body(campaign.id, "departement")[1]  # any count or total


def lists_settled(runtime: Runtime, campaign: Campaign, *, latest: bool) -> bool:
    """The lists a page read are as new as the counts (`latest`: it shows the newest
    signatories)."""
    version = runtime.counts.version(campaign.id)
    if latest and runtime.latest.version_read(campaign.id) != version:
        return False
    if launch.published(campaign, runtime.clock.now()):
        return runtime.publication.listing_version(campaign.id) == version
    return True


def render(request: Request[Any, Any, Any], template: str, context: dict[str, Any]) -> str:
    """A template rendered for every visitor (only the request's path is read: the page's)."""
    engine = request.app.template_engine
    assert engine is not None
    return str(engine.get_template(template).render(**context, request=request))


async def cached_page(
    runtime: Runtime,
    request: Request[Any, Any, Any],
    build: Callable[[], Awaitable[tuple[str, bool]]],
) -> Response[bytes]:
    """The page at the request's path, built by `build` (its HTML, and whether its lists were
    settled) once per change of its state."""

    async def built() -> tuple[PageBody, bool]:
        html, settled = await build()
        return PageBody.of(html), settled

    page = await runtime.pages.get(request.url.path, lambda: page_state(runtime), built)
    return cached_response(
        request,
        page.body,
        etag=page.etag,
        compressed=page.compressed,
        max_age=0,
        stale=STALE,
        media_type=HTML,
        headers={"Cache-Control": CACHE_CONTROL},
    )
