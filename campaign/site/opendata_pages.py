"""The open data at stable URLs, `/donnees/{slug}/…`: the Data Package, each CSV file and its
Table Schema (campaign/publication/opendata.py); cacheable (ETag, 304), readable from any site."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from campaign.letter.campaigns import Campaign
from campaign.publication.opendata import COG, LICENCE, RESOURCES, RNE
from campaign.runtime import Runtime, RuntimeDep
from campaign.web.httpcache import cached_response

MAX_AGE, STALE = 60, 600


class OpenDataPages(Controller):
    path = "/donnees"
    include_in_schema = False

    @get("/{slug:str}")
    async def index(self, runtime: RuntimeDep, slug: FromPath[str]) -> Template:
        """What the files are, their licence and sources, for people (the package is for tools)."""
        campaign = _campaign_or_404(runtime, slug)
        return Template(
            "opendata.html",
            context={
                "campaign": campaign,
                "root": f"/donnees/{campaign.slug}",
                "resources": list(RESOURCES.values()),
                "licence": LICENCE,
                "sources": [COG, RNE],
                "publisher": runtime.settings.publisher_name,
            },
        )

    @get("/{slug:str}/{name:str}")
    async def file(
        self,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        campaign = _campaign_or_404(runtime, slug)
        found = await runtime.opendata.file(campaign, name, runtime.settings.publisher_name)
        if found is None:
            raise NotFoundException(detail="Fichier inconnu.")
        return cached_response(
            request,
            found.body,
            etag=found.etag,
            max_age=MAX_AGE,
            stale=STALE,
            media_type=found.media_type,
            headers={"Access-Control-Allow-Origin": "*"},
        )


def _campaign_or_404(runtime: Runtime, slug: str) -> Campaign:
    campaign = runtime.campaigns.get(slug)
    if campaign is None or campaign.status == "draft":
        raise NotFoundException(detail="Campagne inconnue.")
    return campaign
