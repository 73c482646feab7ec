"""The open data in the API: the same files as `/donnees/{slug}/…` (Data Package, CSV files
under Licence Ouverte 2.0, their Table Schemas), built once per change of the counts."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from campaign.api.v1 import cached_answers, campaign_or_404
from campaign.runtime import RuntimeDep
from campaign.web.httpcache import cached_response

MAX_AGE, STALE = 60, 600


class OpenDataApi(Controller):
    path = "/api/v1/campaigns/{slug:str}/donnees"
    tags = ["données ouvertes"]

    @get(
        "/{name:str}",
        operation_id="openData",
        responses=cached_answers(
            str,
            "Un fichier des données ouvertes : `datapackage.json` (la liste des ressources), "
            "`regions.csv`, `departements.csv`, `communes.csv`, `mandats.csv` (UTF-8, virgule, "
            "Licence Ouverte 2.0) et leur schéma `<nom>.schema.json` (Table Schema). "
            "ETag ; Cache-Control public, 1 min.",
            media_type="text/csv",
        ),
    )
    async def file(
        self,
        slug: FromPath[str],
        name: FromPath[str],
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
    ) -> Response[bytes]:
        """One file of the open data (the same as under /donnees/{slug}/)."""
        campaign = campaign_or_404(runtime, slug)
        found = None
        if campaign.status != "draft":
            found = await runtime.opendata.file(campaign, name, runtime.settings.publisher_name)
        if found is None:
            raise NotFoundException(detail=f"Fichier inconnu : {name}")
        return cached_response(
            request,
            found.body,
            etag=found.etag,
            max_age=MAX_AGE,
            stale=STALE,
            media_type=found.media_type,
        )
