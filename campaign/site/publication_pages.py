"""The published letter over HTTP: what the letter page adds from the launch instant, the
fragment that static/live.js fetches at that instant, and the downloads (PDF, CSV, JSON, SVG,
PNG). Before the launch every route here answers 404 (the embargo on names still holds)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from markupsafe import Markup

from campaign.core.db import DB_ERRORS
from campaign.core.frenchdates import long_date
from campaign.letter import launch
from campaign.letter.campaigns import Campaign
from campaign.publication.letter import Artifact
from campaign.runtime import Runtime, RuntimeDep
from campaign.web.httpcache import cached_response

log = logging.getLogger(__name__)

PREFIX = "/publication"
_UNAVAILABLE = Markup(
    '<section class="published-list" id="signataires-publies"><h2>Les signataires</h2>'
    "<p>La liste des signataires est momentanément indisponible&nbsp;: rechargez la page dans "
    "quelques instants.</p></section>"
)


def downloads_url(campaign: Campaign) -> str:
    return f"{PREFIX}/{campaign.slug}"


async def published_context(runtime: Runtime, campaign: Campaign) -> dict[str, Any]:
    """What the letter page and the fragment show once the letter is published."""
    now = runtime.clock.now()
    try:
        listing_html = (await runtime.publication.listing(campaign)).html
    except DB_ERRORS as exc:  # the page stands (counts are in memory) without its list
        log.warning("published list left out: %s", type(exc).__name__)
        listing_html = _UNAVAILABLE
    return {
        "published": True,
        "published_on": long_date(campaign.launch_at),
        "published_list": listing_html,
        "downloads": downloads_url(campaign),
        "closed_message": launch.closed_message(campaign, now),
        "closing_notice": launch.closing_notice(campaign, now),
    }


def _published_or_404(runtime: Runtime, slug: str) -> Campaign:
    campaign = runtime.campaigns.get(slug)
    now = runtime.clock.now()
    if campaign is None or not launch.published(campaign, now):
        # Never cached: at the launch instant the same URL starts answering.
        raise NotFoundException(
            detail="Cette lettre n’est pas encore publiée."
            if campaign is not None
            else "Cette lettre n’existe pas.",
            headers={"Cache-Control": "no-store"},
        )
    return campaign


def _file(
    request: Request[Any, Any, Any], artifact: Artifact, media_type: str, filename: str
) -> Response[bytes]:
    return cached_response(
        request,
        artifact.body,
        etag=artifact.etag,
        max_age=30,
        stale=300,
        media_type=media_type,
        compressed=artifact.compressed,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class PublicationPages(Controller):
    path = PREFIX + "/{slug:str}"
    include_in_schema = False

    @get("/fragment", cache=False)
    async def fragment(
        self, runtime: RuntimeDep, slug: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """The published state's parts, for the letter pages open at the launch instant."""
        campaign = _published_or_404(runtime, slug)
        context = await published_context(runtime, campaign)
        context["total"] = runtime.counts.campaign(campaign.id).total
        del context["published_list"]  # the publication's own, rendered with the fragment
        artifact = await runtime.publication.fragment(campaign, context)
        return cached_response(
            request,
            artifact.body,
            etag=artifact.etag,
            max_age=0,
            stale=0,
            media_type="text/html",  # Litestar adds the charset
            compressed=artifact.compressed,
            headers={"Cache-Control": "no-cache"},
        )

    @get("/lettre-et-signataires.pdf")
    async def pdf(
        self, runtime: RuntimeDep, slug: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """The letter and its listed signatories (built once per change, see publication.py)."""
        campaign = _published_or_404(runtime, slug)
        artifact = await runtime.publication.pdf(campaign)
        return _file(request, artifact, "application/pdf", f"{campaign.slug}.pdf")

    @get("/signatures-par-territoire.csv")
    async def counts_csv(
        self, runtime: RuntimeDep, slug: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        campaign = _published_or_404(runtime, slug)
        artifact = await runtime.publication.counts_csv(campaign)
        name = f"{campaign.slug}-signatures-par-territoire.csv"
        return _file(request, artifact, "text/csv", name)  # Litestar adds the charset

    @get("/signatures-par-territoire.json")
    async def counts_json(
        self, runtime: RuntimeDep, slug: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        campaign = _published_or_404(runtime, slug)
        artifact = await runtime.publication.counts_json(campaign, runtime.clock.now())
        name = f"{campaign.slug}-signatures-par-territoire.json"
        return _file(request, artifact, "application/json", name)

    @get("/carte.svg")
    async def map_svg(
        self, runtime: RuntimeDep, slug: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        campaign = _published_or_404(runtime, slug)
        artifact = await runtime.publication.map_svg(campaign)
        return _file(request, artifact, "image/svg+xml", f"{campaign.slug}-carte.svg")

    @get("/carte.png")
    async def map_png(
        self, runtime: RuntimeDep, slug: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        campaign = _published_or_404(runtime, slug)
        artifact = await runtime.publication.map_png(campaign)
        return _file(request, artifact, "image/png", f"{campaign.slug}-carte.png")
