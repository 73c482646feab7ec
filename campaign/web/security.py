"""HTTP hardening: security headers on every response, and the Host header checked.

Two pieces, both registered by the app factory (campaign/app.py):

- `security_headers(settings)`, a `before_send` hook: Litestar calls it for every response the
  app sends — pages, API, static files, redirects, error pages, 404s and 405s alike — so no
  route can forget it. It sets the Content-Security-Policy (files only: no inline script, no
  inline style, no `eval`), `X-Content-Type-Options`, `X-Frame-Options`, the `Referrer-Policy`,
  `Cache-Control: no-store` where a page must not be kept, and HSTS when the public address is
  https. It removes any `Server` header (uvicorn's own is turned off by `campaign serve`).
- `HostCheckMiddleware`: a request whose `Host` is not the public address's host, a name of
  `ALLOWED_HOSTS`, or loopback (local health checks) gets a 400 before it reaches a handler.

Route-level choices, all made here or in the route's `opt`:

- embeddable in other sites' frames: the paths of `EMBEDDABLE_PATHS`, or a handler with
  `opt={"embeddable": True}`; every other response says `frame-ancestors 'none'`;
- a URL that carries a secret (a path parameter whose name contains `token`, or a handler with
  `opt={"sensitive": True}`): `Referrer-Policy: no-referrer` and `Cache-Control: no-store`, so
  the token leaves neither in a Referer header nor in a cache;
- the back office (`/admin…`): `no-store`, never framed, no referrer;
- a response that matched no route (404, 405, a refused host): the strictest set.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from campaign.core.settings import Settings

EMBEDDABLE_PATHS: frozenset[str] = frozenset({"/widget"})
"""Pages that partner sites may show in a frame (the embeddable counter). Nothing else."""

OPT_EMBEDDABLE = "embeddable"
OPT_SENSITIVE = "sensitive"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_CSP_COMMON = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # the empty favicon is `data:,`
    "font-src 'self'",
    "connect-src 'self'",  # live counts (SSE) and the territory search
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
CSP = "; ".join((*_CSP_COMMON, "frame-ancestors 'none'"))
CSP_EMBEDDABLE = "; ".join((*_CSP_COMMON, "frame-ancestors *"))
HSTS = "max-age=31536000"
REFERRER_DEFAULT = "strict-origin-when-cross-origin"


def _classify(scope: Scope) -> tuple[bool, bool, bool]:
    """(embeddable, sensitive, no_store) for the route that answered this request."""
    path: str = scope.get("path", "")
    handler = scope.get("route_handler")
    if handler is None:  # no route matched: 404, 405, refused before routing
        return False, True, True
    opt: dict[str, Any] = getattr(handler, "opt", None) or {}
    params: dict[str, Any] = scope.get("path_params") or {}
    admin = path == "/admin" or path.startswith("/admin/")
    sensitive = bool(opt.get(OPT_SENSITIVE)) or any("token" in name for name in params)
    embeddable = not admin and (
        bool(opt.get(OPT_EMBEDDABLE))
        or any(path == p or path.startswith(p + "/") for p in EMBEDDABLE_PATHS)
    )
    return embeddable, sensitive or admin, sensitive or admin


def _policy(embeddable: bool, own: str | None) -> str:
    """The policy of a response. An embeddable page may narrow who frames it by sending its own
    `frame-ancestors` (e.g. partner sites only); every other response gets `'none'`."""
    if not embeddable:
        return CSP
    for directive in (own or "").split(";"):
        name, _, value = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors" and value.strip():
            return "; ".join((*_CSP_COMMON, f"frame-ancestors {value.strip()}"))
    return CSP_EMBEDDABLE


_Raw = list[tuple[bytes, bytes]]
_CSP_NAME = b"content-security-policy"
_REFERRER_NAME = b"referrer-policy"
_CACHE_NAME = b"cache-control"


def security_headers(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """The `before_send` hook that sets the security headers on every HTTP response.

    It runs for every response, so it works on the raw header list in one pass, with the headers
    it adds encoded once per kind of response (it was a tenth of the time of a counts request).
    """
    https = settings.base_url.startswith("https://")
    # Replaced whatever the response said (or removed: `Server`, `X-Frame-Options` when framed).
    replaced = {b"x-content-type-options", b"x-frame-options", b"server"}
    if https:
        replaced.add(b"strict-transport-security")

    @functools.cache
    def added(embeddable: bool, sensitive: bool, no_store: bool, referrer: bool) -> _Raw:
        out = [(b"x-content-type-options", b"nosniff")]
        if not embeddable:
            out.append((b"x-frame-options", b"DENY"))
        if sensitive:
            out.append((_REFERRER_NAME, b"no-referrer"))
        elif not referrer:
            out.append((_REFERRER_NAME, REFERRER_DEFAULT.encode()))
        if no_store:
            out.append((_CACHE_NAME, b"no-store"))
        if https:
            out.append((b"strict-transport-security", HSTS.encode()))
        return out

    csp = {False: CSP.encode(), True: CSP_EMBEDDABLE.encode()}

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        embeddable, sensitive, no_store = _classify(scope)
        own_csp: bytes | None = None
        referrer = False
        kept: _Raw = []
        for name, value in message.get("headers") or ():
            lower = name.lower()
            if lower == _CSP_NAME:
                own_csp = value if own_csp is None else own_csp
            elif lower in replaced:
                pass
            elif lower == _REFERRER_NAME:
                if not sensitive:
                    referrer = True
                    kept.append((name, value))
            elif lower == _CACHE_NAME:
                if not no_store:
                    kept.append((name, value))
            else:
                kept.append((name, value))
        if embeddable and own_csp is not None:
            kept.append((_CSP_NAME, _policy(True, own_csp.decode("latin-1")).encode("latin-1")))
        else:
            kept.append((_CSP_NAME, csp[embeddable]))
        kept += added(embeddable, sensitive, no_store, referrer)
        message["headers"] = kept

    return hook


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The public address's host, the names of ALLOWED_HOSTS, and loopback (health checks)."""
    names = {urlsplit(settings.base_url).hostname or "", *settings.allowed_hosts, *LOOPBACK_HOSTS}
    return frozenset(n.lower().strip() for n in names if n.strip())


@functools.lru_cache(maxsize=512)
def _host_allowed_cached(host: str, allowed: frozenset[str]) -> bool:
    return host_allowed(host, allowed)


def host_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a Host header names one of `allowed` (a `*.domain` entry allows its subdomains)."""
    if not host:
        return False
    parts = urlsplit(f"//{host}")
    try:
        name = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if not name:
        return False
    for entry in allowed:
        if entry == "*" or entry == name:
            return True
        if entry.startswith("*.") and name.endswith(entry[1:]):
            return True
    return False


class HostCheckMiddleware(ASGIMiddleware):
    """Refuses (400) a request whose Host header is not one of the service's names."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, allowed: frozenset[str], public_host: str) -> None:
        self.allowed = allowed
        self.public_host = public_host

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        # The first Host header, as MutableScopeHeaders.get would give it (names are lower case
        # in an ASGI scope); the verdict for a given Host is remembered.
        host = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"host"), None)
        if not host or not _host_allowed_cached(host, self.allowed):
            headers = MutableScopeHeaders(scope)
            # The error page builds URLs from the request: give it the public host, never the
            # refused one (which may not even parse).
            headers["host"] = self.public_host
            raise HTTPException(status_code=400, detail="Nom d’hôte non autorisé.")
        await next_app(scope, receive, send)


def host_check(settings: Settings) -> HostCheckMiddleware:
    return HostCheckMiddleware(allowed_hosts(settings), urlsplit(settings.base_url).netloc)


_SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})


def cross_site(headers: Mapping[str, str], settings: Settings) -> bool:
    """A form posted from another site, as the browser tells it: `Sec-Fetch-Site` (any browser
    of the last years), else `Origin` (naming neither the public address nor the Host). A
    request that says neither (old browsers, scripts) is judged by the form's SameSite cookie."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _SAME_ORIGIN_FETCH
    origin = headers.get("origin")
    if origin is None:
        return False
    netloc = urlsplit(origin.strip()).netloc.lower()
    own = {urlsplit(settings.base_url).netloc.lower(), (headers.get("host") or "").lower()}
    return not netloc or netloc not in own
