"""A micro-cache for the busiest read, `GET /api/v1/campaigns/{slug}/counts`: the app's own answer,
replayed while the counts have not changed.

During a rush every partner page and widget polls the counts. Their body is built from memory once
per change (campaign/counts.py), but each request still crossed the whole framework: routing, the
Host check, CSRF, parameters, the response object, the security and CORS headers. That work was
more than half of a request's cost (bench/RESULTS.md). Here the first request of a given shape goes
through the app as usual; if the app answers 200, its exact answer (status, headers after every
hook, body) is kept, and later requests of the same shape get it back without entering the app, as
long as the counts' ETag is the one the kept answer carries.

A request's shape is everything the answer may depend on: the path, the query string, the Host and
Accept-Encoding headers. Requests that carry a condition (`If-None-Match`, `If-Modified-Since`) or
a cookie always go through the app, as do every other method and path, and any answer but a 200.
So the Host check, the 304s, the 404 of an unknown campaign and the 400 of a bad `level` stay the
app's. A route or middleware that makes the counts' answer depend on anything else (the client's
address, another header) must be reflected in `_shape` — or this cache removed.

The public pages kept in `runtime.pages` (campaign/site/cached_pages.py: `/`, `/carte`,
`/signataires`, the territories' pages) are replayed the same way, without a query string only,
while `runtime.pages.current(path)` is the ETag the kept answer carries. They depend on no cookie
(a visitor's cookies go to other paths), so a cookie does not bypass them; an answer that sets a
cookie is never kept. Browsers revalidate pages at each visit (`max-age=0`): an `If-None-Match`
that names the kept answer's ETag, while it is current, gets its empty 304 from here (the kept
answer's headers but its body's); any other condition goes through the app.

`HEAD` of a page (any path but the API's and the back office's) is answered as its `GET` without
the body: the same status and headers, `Content-Length` included.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar.types import (
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Message,
    Receive,
    Scope,
    Send,
)

PREFIX = "/api/v1/campaigns/"
SUFFIX = "/counts"
LEVELS = frozenset({"region", "departement", "commune"})
MAX_ENTRIES = 1024  # shapes kept (counts: campaigns × levels; pages) × Host × Accept-Encoding
_BYPASS = frozenset({b"if-none-match", b"if-modified-since", b"cookie"})
_PAGE_BYPASS = frozenset({b"if-modified-since"})
_NOT_IN_304 = frozenset({b"content-length", b"content-encoding", b"content-type"})

Shape = tuple[str, bytes, bytes | None, bytes | None]


class _Kept:
    __slots__ = ("_304", "body", "etag", "start")

    def __init__(self, etag: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.etag = etag
        self._304: Message | None = None
        self.start = cast(
            Message, {"type": "http.response.start", "status": 200, "headers": headers}
        )
        self.body = cast(Message, {"type": "http.response.body", "body": body, "more_body": False})

    def not_modified(self) -> Message:
        """The 304 of this answer: its headers, but those of its body."""
        if self._304 is None:
            headers = cast(dict[str, Any], self.start)["headers"]
            kept = [(n, v) for n, v in headers if n.lower() not in _NOT_IN_304]
            self._304 = cast(
                Message, {"type": "http.response.start", "status": 304, "headers": kept}
            )
        return self._304


def _if_none_match(scope: Scope) -> bytes | None:
    raw = cast(dict[str, Any], scope)
    found = None
    for name, value in raw["headers"]:
        if name == b"if-none-match":
            found = value if found is None else found + b"," + value
    return found


def _names(condition: bytes, etag: str) -> bool:
    """`If-None-Match` names this ETag (weak or strong, in a list) or is `*`."""
    for candidate in condition.decode("latin-1").split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _shape(scope: Scope | LifeSpanScope, pages: Any = None) -> Shape | None:
    """The request's shape, or None when it must go through the app. `pages`: the runtime's
    kept pages (a request for one of them, without a query string, may carry cookies)."""
    raw = cast(dict[str, Any], scope)
    if raw["type"] != "http" or raw["method"] != "GET":
        return None
    path: str = raw["path"]
    bypass = _BYPASS
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        if pages is None or raw["query_string"] or not pages.kept(path):
            return None
        bypass = _PAGE_BYPASS
    host = encoding = None
    for name, value in raw["headers"]:
        if name == b"host":
            if host is not None:
                return None  # two Host headers: let the app judge
            host = value
        elif name == b"accept-encoding":
            encoding = value if encoding is None else encoding + b"," + value
        elif name in bypass:
            return None
    return path, raw["query_string"], host, encoding


def _head_of_page(scope: Scope | LifeSpanScope) -> bool:
    raw = cast(dict[str, Any], scope)
    if raw["type"] != "http" or raw["method"] != "HEAD":
        return False
    path: str = raw["path"]
    return not path.startswith(("/api/", "/admin"))


def _level(query: bytes) -> str | None:
    if not query:
        return "region"
    if query.startswith(b"level=") and b"&" not in query:
        level = query[6:].decode("latin-1")
        return level if level in LEVELS else None
    return None


class HotReadsApp(Litestar):
    """The Litestar app, with the counts' answers replayed (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[Shape, _Kept] = {}

    def _current_etag(self, shape: Shape) -> str | None:
        runtime = getattr(self.state, "runtime", None)
        if runtime is None:
            return None
        if not shape[0].endswith(SUFFIX):  # a kept page (see the module's docstring)
            etag: str | None = runtime.pages.current(shape[0])
            return etag
        level = _level(shape[1])
        if runtime is None or level is None:
            return None
        campaign = runtime.campaigns.get(shape[0][len(PREFIX) : -len(SUFFIX)])
        if campaign is None:
            return None
        etag = runtime.counts.body(campaign.id, level)[1]
        return etag

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if _head_of_page(scope):
            await self._head(cast(Scope, scope), cast(Receive, receive), cast(Send, send))
            return
        runtime = getattr(self.state, "runtime", None)
        shape = _shape(scope, None if runtime is None else runtime.pages)
        if shape is None:
            await super().__call__(scope, receive, send)
            return
        await self._counts(shape, cast(Scope, scope), cast(Receive, receive), cast(Send, send))

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The page's GET, its body left out."""
        sent_end = False

        async def headers_only(message: Message) -> None:
            nonlocal sent_end
            raw = cast(dict[str, Any], message)
            if raw["type"] != "http.response.body":
                await send(message)
            elif not raw.get("more_body", False) and not sent_end:
                sent_end = True
                await send(cast(Message, {"type": "http.response.body", "body": b""}))

        get = cast(Scope, {**cast(dict[str, Any], scope), "method": "GET"})
        await super().__call__(get, receive, headers_only)

    async def _counts(self, shape: Shape, scope: Scope, receive: Receive, send: Send) -> None:
        etag = self._current_etag(shape)
        kept = self._kept.get(shape)
        if kept is not None and etag is not None and kept.etag == etag:
            condition = _if_none_match(scope)
            if condition is None:
                await send(kept.start)
                await send(kept.body)
                return
            if _names(condition, etag):
                await send(kept.not_modified())
                await send(cast(Message, {"type": "http.response.body", "body": b""}))
                return
        # Through the app, keeping its answer if it is a plain 200 for the current counts.
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []
        complete = False

        async def keep(message: Message) -> None:
            nonlocal start, complete
            raw = cast(dict[str, Any], message)
            if raw["type"] == "http.response.start":
                start = raw
            elif raw["type"] == "http.response.body":
                chunks.append(raw.get("body", b""))
                complete = not raw.get("more_body", False)
            await send(message)

        await super().__call__(scope, receive, keep)
        if start is None or start["status"] != 200 or not complete or etag is None:
            return
        headers = [(bytes(n), bytes(v)) for n, v in start.get("headers") or ()]
        if any(n.lower() == b"set-cookie" for n, _ in headers):
            return  # a visitor's answer: never replayed to another
        answered = next((v for n, v in headers if n.lower() == b"etag"), None)
        if answered is None or answered.decode("latin-1") != etag:
            return  # the counts moved while the app answered: keep nothing
        if len(self._kept) >= MAX_ENTRIES:
            self._kept.clear()
        self._kept[shape] = _Kept(etag, headers, b"".join(chunks))
