"""HTTP caching for public reads: ETag, `Cache-Control` with `max-age` and
`stale-while-revalidate`, `304 Not Modified`, and bodies gzipped once.

A CDN or a browser that holds a response revalidates it with `If-None-Match` and gets an empty
304 while nothing changed, so a rush of readers costs the service little: the bodies are built
from memory (counts) or cached for a second or two (lists), and hashed once.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from campaign.core.bodies import etag_of

JSON = "application/json"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
"""Pages that belong to one visitor (a token in the path, a form's answer): kept by nobody."""


def cache_control(max_age: int, stale: int) -> str:
    return f"public, max-age={max(0, max_age)}, stale-while-revalidate={max(0, stale)}"


def not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    """`If-None-Match` names this ETag (weak or strong, in a list) or is `*`."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def accepts_gzip(request: Request[Any, Any, Any]) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def cached_response(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    max_age: int,
    stale: int,
    media_type: str = JSON,
    etag: str | None = None,
    compressed: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """`body` with its validators, a 304 when the client already has it; `compressed` (the
    gzip of `body`) is sent to clients that accept it."""
    etag = etag or etag_of(body)
    out = {"ETag": etag, "Cache-Control": cache_control(max_age, stale), **(headers or {})}
    if compressed is not None:
        out["Vary"] = "Accept-Encoding"
    if not_modified(request, etag):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=out)
    if compressed is not None and accepts_gzip(request):
        out["Content-Encoding"] = "gzip"
        return Response(compressed, media_type=media_type, headers=out)
    return Response(body, media_type=media_type, headers=out)
