"""CORS for reads of the JSON API, so that partner sites and open-data users can read the counts,
the signatories and the history from their own pages (a `before_send` hook of the app).

`GET` and `HEAD` under `/api/v1/` answer `Access-Control-Allow-Origin: *` and expose `ETag`; the
API reads no cookie, so no credentials are involved. A preflight (`OPTIONS`, answered by
Litestar's automatic handler) gets the read methods only, the request headers a reader needs for
revalidation and for the event stream, and a day of `max-age`. Writes (`POST …/signatures`) get
no CORS header: another site's page cannot read their answer, and a preflight for them is refused
by the browser, since the allowed methods do not include POST. Framing and the other security
headers are `campaign/security.py`'s.
"""

from __future__ import annotations

from litestar.types import Message, Scope

API_PREFIX = "/api/v1/"
READ_METHODS = frozenset({"GET", "HEAD"})
ALLOW_HEADERS = "If-None-Match, If-Modified-Since, Cache-Control, Last-Event-ID"


_READ = [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", b"ETag")]
_PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
    (b"access-control-max-age", b"86400"),
]


async def api_cors(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    if not scope.get("path", "").startswith(API_PREFIX):
        return
    method = scope.get("method", "")
    if method in READ_METHODS:
        added = _READ
    elif method == "OPTIONS":
        added = _PREFLIGHT
    else:
        return
    # Every response of the API's reads goes through here: the raw list, in one pass.
    names = {name for name, _ in added}
    headers = [h for h in message.get("headers") or () if h[0].lower() not in names]
    headers += added
    message["headers"] = headers
