"""The JSON API `/api/v1` (campaigns, live counts, signing, signatories, territories, history),
the health checks, and the error answers written into its OpenAPI document."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler


def routes() -> list[ControllerRouterHandler]:
    from campaign.api import opendata, public, v1

    return [
        v1.CampaignApi,
        public.PublicApi,
        v1.search_territories,
        v1.health,
        v1.ready,
        opendata.OpenDataApi,
    ]
