"""The open data at stable URLs, `/donnees/{slug}/…`: the Data Package, each CSV file and its
Table Schema (campaign/publication/opendata.py); cacheable (ETag, 304), readable from any site."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from campaign.runtime import RuntimeDep
from campaign.web.httpcache import cached_response

MAX_AGE, STALE = 60, 600


class OpenDataPages(Controller):
    path = "/donnees"
    include_in_schema = False

    @get("/{slug:str}/{name:str}")
    async def file(
        self,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        campaign = runtime.campaigns.get(slug)
        if campaign is None or campaign.status == "draft":
            raise NotFoundException(detail="Campagne inconnue.")
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
