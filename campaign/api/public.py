"""JSON API of the public face: the newest signatories, the hourly history (JSON and CSV).

Served from memory (see `campaign/public.py` and `campaign/history.py`), with ETag,
`Cache-Control: public, max-age, stale-while-revalidate` and 304, like the rest of the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromPath

from campaign.api.v1 import SignatoryItem, cached_answers, campaign_or_404, signatory_item
from campaign.counts.history import HistoryBody
from campaign.counts.latest import seconds_until_names
from campaign.runtime import RuntimeDep
from campaign.web.httpcache import cached_response


class LatestSignatories(msgspec.Struct, frozen=True, kw_only=True):
    """The newest public signatories (whatever is featured)."""

    embargo: bool
    """Names are under embargo: `items` is empty until `names_public_at`."""
    names_public_at: datetime | None = None
    items: list[SignatoryItem]


_encoder = msgspec.json.Encoder()


class PublicApi(Controller):
    path = "/api/v1/campaigns/{slug:str}"
    tags = ["campagnes"]

    @get(
        "/signatories/latest",
        operation_id="latestSignatories",
        responses=cached_answers(
            LatestSignatories,
            "Les derniers signataires publics, du plus récent au plus ancien "
            "(servi depuis la mémoire ; ETag ; Cache-Control public, 2 s).",
        ),
    )
    async def latest(
        self, slug: FromPath[str], runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """The newest confirmed signatories who agreed to be listed; none under embargo."""
        c = campaign_or_404(runtime, slug)
        hidden_for = seconds_until_names(c, runtime.clock.now())
        if hidden_for is not None:
            body = LatestSignatories(embargo=True, names_public_at=c.launch_at, items=[])
            return cached_response(
                request,
                _encoder.encode(body),
                max_age=min(2, hidden_for),
                stale=min(10, hidden_for),
            )
        rows = await runtime.latest.get(c.id, wait=True)  # never older than the counts seen
        body = LatestSignatories(embargo=False, items=[signatory_item(runtime, r) for r in rows])
        return cached_response(request, _encoder.encode(body), max_age=2, stale=10)

    @get(
        "/history.json",
        operation_id="historyJson",
        responses=cached_answers(
            HistoryBody,
            "Un relevé par heure : total, vérifiées, signatures par région "
            "(une région absente : zéro). Heures en UTC. ETag ; Cache-Control public, 5 min.",
        ),
    )
    async def history_json(
        self, slug: FromPath[str], runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """Hourly history of the counts, total and per région, as JSON."""
        c = campaign_or_404(runtime, slug)
        body, etag, compressed = (await runtime.history.get(c)).json()
        return cached_response(
            request, body, etag=etag, compressed=compressed, max_age=300, stale=3600
        )

    @get(
        "/history.csv",
        operation_id="historyCsv",
        responses=cached_answers(
            str,
            "Un relevé par ligne : heure (Paris, ISO 8601), moment du relevé, "
            "total, vérifiées (élus vérifiés), puis une colonne par région (dans l’ordre des "
            "codes INSEE), enfin mandat_trouve_au_rne (mandats trouvés au RNE). "
            "UTF-8, virgule. ETag ; Cache-Control public, 5 min.",
            media_type="text/csv",
        ),
    )
    async def history_csv(
        self, slug: FromPath[str], runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """Hourly history of the counts, total and per région, as CSV."""
        c = campaign_or_404(runtime, slug)
        body, etag, compressed = (await runtime.history.get(c)).csv()
        return cached_response(
            request,
            body,
            etag=etag,
            compressed=compressed,
            max_age=300,
            stale=3600,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{c.slug}-historique.csv"'},
        )
