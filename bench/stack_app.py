"""The service's app with extra routes for bench_counts.py --stack: what the service's middleware
stack costs with a handler that does nothing (`GET /api/v1/bench/bytes`, constant bytes), and
variants of the counts handler (`GET /api/v1/bench/counts/{variant}/{slug}?level=`), to see what
each piece of a handler costs. Same factory and settings as `campaign serve --workers N`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from litestar import Litestar, MediaType, Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response.base import ASGIResponse

from campaign.api.v1 import campaign_or_404
from campaign.cli import app_factory as campaign_app_factory
from campaign.runtime import RuntimeDep
from campaign.web.httpcache import cached_response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
Level = Literal["region", "departement", "commune"]


@get("/api/v1/bench/bytes", media_type=MediaType.JSON, include_in_schema=False)
async def constant_bytes() -> Response[bytes]:
    return Response(BODY, media_type=MediaType.JSON)


@get("/api/v1/bench/counts/di/{slug:str}", include_in_schema=False, cache=False)
async def with_di(
    slug: FromPath[str],
    runtime: RuntimeDep,
    request: Request[Any, Any, Any],
    level: FromQuery[Level] = "region",
) -> Response[bytes]:
    """As the service's handler."""
    c = campaign_or_404(runtime, slug)
    body, etag = runtime.counts.body(c.id, level)
    return cached_response(request, body, etag=etag, max_age=2, stale=10)


@get("/api/v1/bench/counts/state/{slug:str}", include_in_schema=False, cache=False)
async def from_state(
    slug: FromPath[str], request: Request[Any, Any, Any], level: FromQuery[Level] = "region"
) -> Response[bytes]:
    """The runtime from the app's state instead of a dependency."""
    runtime = request.app.state.runtime
    c = campaign_or_404(runtime, slug)
    body, etag = runtime.counts.body(c.id, level)
    return cached_response(request, body, etag=etag, max_age=2, stale=10)


@get("/api/v1/bench/counts/raw/{slug:str}", include_in_schema=False, cache=False)
async def raw(request: Request[Any, Any, Any]) -> Response[bytes]:
    """No typed parameter at all."""
    runtime = request.app.state.runtime
    c = campaign_or_404(runtime, request.path_params["slug"])
    body, etag = runtime.counts.body(c.id, request.query_params.get("level", "region"))
    return cached_response(request, body, etag=etag, max_age=2, stale=10)


@get("/api/v1/bench/counts/asgi/{slug:str}", include_in_schema=False, cache=False)
async def asgi(
    slug: FromPath[str], request: Request[Any, Any, Any], level: FromQuery[Level] = "region"
) -> ASGIResponse:
    """Typed parameters, the runtime from the state, an ASGIResponse with encoded headers."""
    runtime = request.app.state.runtime
    c = campaign_or_404(runtime, slug)
    body, etag = runtime.counts.body(c.id, level)
    return ASGIResponse(
        body=body,
        media_type=MediaType.JSON,
        headers=[
            (b"etag", etag.encode()),
            (b"cache-control", b"public, max-age=2, stale-while-revalidate=10"),
        ],
    )


def app_factory() -> Litestar:
    app = campaign_app_factory()
    for handler in (constant_bytes, with_di, from_state, raw, asgi):
        app.register(handler)
    return app
