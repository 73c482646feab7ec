"""Downloads (CSV, XLSX of the filtered signatories, streamed and audited) and the printable
list to publish with the letter, grouped by région and département."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from itertools import groupby
from typing import Any

from litestar import Controller, Request, get
from litestar.exceptions import HTTPException
from litestar.response import Stream, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.core import audit
from campaign.core.db import Q
from campaign.core.frenchdates import PARIS
from campaign.moderation import exports
from campaign.moderation.filters import SignatoryFilter, parse_filter
from campaign.runtime import Runtime, RuntimeDep
from campaign.web.httpcache import NO_STORE

_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def _body(
    runtime: Runtime, campaign_id: int, f: SignatoryFilter, fmt: str
) -> AsyncIterator[bytes]:
    # One connection for the whole download: the cursor lives in its transaction.
    async with runtime.pool.acquire() as conn:
        source = exports.rows(conn, campaign_id, f, runtime.index)
        chunks = exports.csv_chunks(source) if fmt == "csv" else exports.xlsx_chunks(source)
        async for chunk in chunks:
            yield chunk


class ExportController(Controller):
    path = "/admin"
    include_in_schema = False
    opt = {"role": "organiser"}

    @get(["/export.csv", "/export.xlsx"])
    async def export(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Stream:
        """The filtered signatories, streamed: the query string is the list's filter."""
        fmt = request.url.path.rsplit(".", 1)[1]
        campaign = current_campaign(runtime)
        f, errors = parse_filter(dict(request.query_params))
        if errors:  # never everything instead of what was asked
            raise HTTPException(status_code=400, detail=" ".join(errors))
        async with runtime.pool.acquire() as conn:
            await audit.record(
                conn, actor(user), "export", detail={"format": fmt, "filtre": f.params()}
            )
        stamp = datetime.now(PARIS).strftime("%Y%m%d-%H%M")
        return Stream(
            _body(runtime, campaign.id, f, fmt),
            media_type=_FORMATS[fmt],
            headers={
                **NO_STORE,
                "Content-Disposition": f'attachment; filename="signataires-{stamp}.{fmt}"',
            },
        )

    @get("/liste-a-publier", opt={"role": "viewer"})
    async def publication(self, runtime: RuntimeDep, user: UserDep) -> Template:
        """Consenting, confirmed signatories by région then département: a page to print."""
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(Q["admin_publication_list"], campaign.id)
        index = runtime.index
        groups = []
        for region_code, in_region in groupby(rows, key=lambda r: r["region"]):
            region = index.get("region", region_code) if region_code else None
            departements = []
            for dep_code, in_dep in groupby(in_region, key=lambda r: r["departement"]):
                dep = index.get("departement", dep_code) if dep_code else None
                departements.append((dep, list(in_dep)))
            groups.append((region, departements))
        groups.sort(key=lambda g: (g[0] is None, g[0].name if g[0] else ""))
        return page(
            "admin/publication.html",
            user,
            campaign,
            groups=groups,
            listed=len(rows),
        )
