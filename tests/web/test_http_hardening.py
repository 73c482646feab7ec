"""HTTP hardening, over real HTTP: security headers on every registered route (walked from the
app's own route list, anonymous and logged in), token pages kept out of caches and Referer
headers, HSTS over https, allowed hosts, capped bodies, unknown methods, no inline script or
style in any template, and error pages that carry an identifier also found in the log."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar import Litestar, MediaType, get
from litestar.params import FromPath

from campaign.app import PACKAGE_DIR
from campaign.web import security
from tests.support.admin import login, make_organiser
from tests.support.app import free_port, migrated_database, unique_email
from tests.support.browser import Chromium
from tests.support.hardening import SIGN, SLUG, body, captured_logs, make_app, port_of, serve

TOKEN = secrets.token_urlsafe(32)  # the shape of a confirmation token, unknown to the database
PARAMS = {"slug": SLUG, "file_path": "style.css", "path": "inconnu"}


def concrete(path: str) -> str:
    """A requestable URL for a route's path template."""

    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if kind == "int":
            return "1"
        if "token" in name:
            return TOKEN
        return PARAMS.get(name, "x")

    return re.sub(r"\{([a-z_]+):([a-z]+)\}", value, path)


def routes(app: Litestar) -> list[tuple[str, str, str, bool]]:
    """(method, template, url, sensitive) of every handler the app registered."""
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                sensitive = bool(handler.opt.get("sensitive")) or "token" in route.path
                found.append((method, route.path, concrete(route.path), sensitive))
    return sorted(set(found))


def check_headers(r: httpx.Response, where: str, *, sensitive: bool, https: bool = False) -> None:
    h = r.headers
    csp = h.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("object-src") == "object-src 'none'", where
    assert directives.get("base-uri") == "base-uri 'none'", where
    assert directives.get("script-src") == "script-src 'self'", where
    assert directives.get("style-src") == "style-src 'self'", where
    assert directives.get("form-action") == "form-action 'self'", where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    embeddable = (
        any(r.url.path == p or r.url.path.startswith(p + "/") for p in security.EMBEDDABLE_PATHS)
        and r.status_code < 400
    )
    if not embeddable:
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", where
        assert h.get("x-frame-options") == "DENY", where
    assert h.get("x-content-type-options") == "nosniff", where
    assert "server" not in h, where
    assert ("strict-transport-security" in h) is https, where
    if sensitive or r.url.path.startswith("/admin"):
        assert h.get("cache-control") == "no-store", where
        assert h.get("referrer-policy") == "no-referrer", where
    else:
        assert h.get("referrer-policy") in ("strict-origin-when-cross-origin", "no-referrer"), where


@pytest.fixture(scope="module")
async def walk_dsn(pg_server: str) -> str:
    return await migrated_database(pg_server, "campaign_headers")


@pytest.fixture(scope="module")
async def walked_app(walk_dsn: str) -> AsyncIterator[tuple[Litestar, str]]:
    """An app as `campaign serve` builds it in development (embedded mail sink, so the
    `/boite-mail` pages are registered too), on its own database."""
    app, base = make_app(DATABASE_URL=walk_dsn)
    async with serve(app, port_of(base)) as url:
        yield app, url


async def _request(client: httpx.AsyncClient, method: str, url: str) -> httpx.Response:
    if url.endswith("/events"):  # an endless stream: the headers are enough
        async with client.stream(method, url) as r:
            return r
    return await client.request(method, url)


async def test_the_walk_sees_every_kind_of_route(walked_app: tuple[Litestar, str]) -> None:
    app, _ = walked_app
    paths = {template for _, template, _, _ in routes(app)}
    for expected in (
        "/",
        "/signer",
        "/confirmer/{token:str}",
        "/admin",
        "/admin/export.csv",
        "/api/v1/campaigns/{slug:str}/signatures",
        "/api/v1/campaigns/{slug:str}/events",
        "/static/{file_path:path}",
        "/schema/openapi.json",
        "/boite-mail",
        "/health",
    ):
        assert expected in paths, expected
    assert len(routes(app)) >= 80


async def test_every_route_answers_with_the_security_headers(
    walked_app: tuple[Litestar, str], walk_dsn: str
) -> None:
    app, base = walked_app
    db = await asyncpg.connect(walk_dsn)
    try:
        admin_email = await make_organiser(db, "admin")
    finally:
        await db.close()
    checked = 0
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as anonymous,
        httpx.AsyncClient(base_url=base, timeout=20) as organiser,
    ):
        assert (await login(organiser, admin_email)).status_code == 303
        for method, template, url, sensitive in routes(app):
            for who, client in (("anonymous", anonymous), ("admin", organiser)):
                if method == "POST" and template == "/admin/deconnexion":
                    continue  # would end the session the walk goes on with
                r = await _request(client, method, url)
                where = f"{who} {method} {template} -> {r.status_code}"
                assert r.status_code < 500, where
                check_headers(r, where, sensitive=sensitive)
                checked += 1
        # What no route answers gets them too.
        for method, url in (("GET", "/nulle-part"), ("PROPFIND", "/"), ("TRACE", "/api/v1/x")):
            r = await anonymous.request(method, url)
            check_headers(r, f"{method} {url} -> {r.status_code}", sensitive=True)
    assert checked >= 160


async def test_token_pages_are_never_cached_nor_leaked_in_referers(
    client: httpx.AsyncClient,
) -> None:
    for method in ("GET", "POST"):
        r = await client.request(method, f"/confirmer/{TOKEN}")
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"
    page = await client.get("/")
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "no-store" not in page.headers.get("cache-control", "")


async def test_hsts_when_the_public_address_is_https(dsn: str) -> None:
    port = free_port()
    app, _ = make_app(
        DATABASE_URL=dsn,
        SMTP_URL="smtp://127.0.0.1:9",
        BASE_URL="https://jouer-collectif.example",
        MAIL_FROM="lettre@jouer-collectif.example",  # a public site has real addresses
        PUBLISHER_EMAIL="donnees@jouer-collectif.example",
        ALLOWED_HOSTS="127.0.0.1",
    )
    async with serve(app, port) as base, httpx.AsyncClient(base_url=base) as c:
        for path in ("/", "/api/v1/territories?q=lyon", "/nulle-part", "/admin"):
            r = await c.get(path)
            assert r.headers["strict-transport-security"] == "max-age=31536000", path


async def test_only_the_service_s_host_names_are_answered(dsn: str) -> None:
    port = free_port()
    app, _ = make_app(
        DATABASE_URL=dsn,
        SMTP_URL="smtp://127.0.0.1:9",
        BASE_URL="https://jouer-collectif.example",
        MAIL_FROM="lettre@jouer-collectif.example",  # a public site has real addresses
        PUBLISHER_EMAIL="donnees@jouer-collectif.example",
        ALLOWED_HOSTS="signer.example.org, *.partenaires.example",
    )
    async with serve(app, port) as base, httpx.AsyncClient(base_url=base) as c:
        for host in (
            "jouer-collectif.example",
            "JOUER-COLLECTIF.example:443",
            "signer.example.org",
            "widget.partenaires.example",
            f"127.0.0.1:{port}",
            "localhost",
        ):
            r = await c.get("/health", headers={"Host": host})
            assert r.status_code == 200, host
        for host in (
            "evil.example",
            "jouer-collectif.example.evil.example",
            "partenaires.example.evil",
            "jouer-collectif.example:abc",
            "",
        ):
            for path in ("/", "/health", "/api/v1/campaigns/jouer-collectif"):
                r = await c.get(path, headers={"Host": host})
                assert r.status_code == 400, (host, path)
                check_headers(r, host, sensitive=False, https=True)
        page = await c.get("/", headers={"Host": "evil.example"})
        assert "text/html" in page.headers["content-type"]
        assert "Nom d’hôte non autorisé" in page.text or "Requête invalide" in page.text
        api = await c.get("/api/v1/campaigns/jouer-collectif", headers={"Host": "evil.example"})
        assert api.json()["detail"] == "Nom d’hôte non autorisé."


async def test_request_bodies_are_capped(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    address = unique_email("gros")
    big = body(address, comment="x" * 100_000)
    r = await client.post(SIGN, json=big)
    assert r.status_code == 413
    assert r.json()["status_code"] == 413
    r = await client.post(
        SIGN, content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    form = await client.post("/signer", data={"given_name": "x" * 100_000, "email": address})
    assert form.status_code in (403, 413)  # refused either way, and never read whole
    assert await db.fetchval("SELECT count(*) FROM signatures WHERE email = $1", address) == 0


@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "PATCH", "DELETE", "PUT", "FOO", "MKCOL"])
@pytest.mark.parametrize("path", ["/", "/signataires", "/api/v1/territories", SIGN, "/admin"])
async def test_unknown_methods_are_refused(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await client.request(method, path)
    # 405 from the router; 403 when the CSRF check comes first; 400 from the HTTP parser for a
    # method it does not know at all.
    assert r.status_code in (400, 403, 405, 501), r.status_code
    assert "Traceback" not in r.text


class _InlineFinder(HTMLParser):
    """Tags of a template that need `unsafe-inline`: inline scripts, styles, event handlers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value or "" for name, value in attrs}
        line = self.getpos()[0]
        if tag == "script" and "src" not in names:
            self.found.append(f"{line}: inline <script>")
        if tag == "style":
            self.found.append(f"{line}: <style> element")
        for name, value in names.items():
            if name == "style" or name.startswith("on"):
                self.found.append(f"{line}: {name}= on <{tag}>")
            if value.strip().lower().startswith("javascript:"):
                self.found.append(f"{line}: javascript: URL on <{tag}>")


def test_no_template_has_inline_script_or_style() -> None:
    """The CSP allows scripts and styles from files only: a template may not rely on more."""
    offenders = []
    for path in sorted(Path(PACKAGE_DIR / "templates").rglob("*.html")):
        finder = _InlineFinder()
        finder.feed(path.read_text())
        offenders += [f"{path.relative_to(PACKAGE_DIR)}:{f}" for f in finder.found]
    assert not offenders, "\n".join(offenders)


# -- error pages: French, generic, an identifier also in the log -------------------------------


@get("/boum", include_in_schema=False)
async def boom_page() -> str:
    raise RuntimeError("secret detail")


@get("/api/v1/boum", include_in_schema=False, media_type=MediaType.JSON)
async def boom_api() -> dict[str, str]:
    raise KeyError("secret detail")


UNAVAILABLE = {
    "arret": asyncpg.exceptions.AdminShutdownError,  # the server is shutting down (57P01)
    "demarrage": asyncpg.exceptions.CannotConnectNowError,  # starting up (57P03)
    "annulee": asyncpg.exceptions.QueryCanceledError,  # statement timeout (57014)
    "saturee": asyncpg.exceptions.TooManyConnectionsError,  # 53300
    "perdue": asyncpg.exceptions.ConnectionDoesNotExistError,  # 08003
    "echec": asyncpg.exceptions.ConnectionFailureError,  # 08006
    "client": asyncpg.exceptions.InternalClientError,  # a connection broken by a restart
    "interface": asyncpg.exceptions.InterfaceError,
}


@get("/api/v1/panne/{kind:str}", include_in_schema=False, media_type=MediaType.JSON)
async def database_failure(kind: FromPath[str]) -> dict[str, str]:
    if kind == "delai":
        raise TimeoutError
    if kind == "refus":
        raise ConnectionRefusedError
    if kind == "socket":  # the server's Unix socket gone (a restart): raised by the driver
        await asyncpg.connect("postgresql://campaign@/campaign?host=/nonexistent-socket-dir")
    if kind == "fichier":  # not the database: a bug or a missing file of ours
        raise FileNotFoundError("/nulle/part.csv")
    raise UNAVAILABLE[kind]("boom")


async def test_every_kind_of_database_failure_is_a_503_with_retry_after(dsn: str) -> None:
    app, base = make_app(DATABASE_URL=dsn, SMTP_URL="smtp://127.0.0.1:9")
    app.register(database_failure)
    async with serve(app, port_of(base)) as url, httpx.AsyncClient(base_url=url) as c:
        for kind in [*UNAVAILABLE, "delai", "refus", "socket"]:
            r = await c.get(f"/api/v1/panne/{kind}")
            assert r.status_code == 503, kind
            assert r.headers["retry-after"] == "5"
            assert re.fullmatch(r"[0-9a-f]{8}", r.json()["error_id"])


async def test_only_the_database_answers_503_a_missing_file_is_a_500_in_the_log(dsn: str) -> None:
    app, base = make_app(DATABASE_URL=dsn, SMTP_URL="smtp://127.0.0.1:9")
    app.register(database_failure)
    with captured_logs() as logs:
        async with serve(app, port_of(base)) as url, httpx.AsyncClient(base_url=url) as c:
            r = await c.get("/api/v1/panne/fichier")
    assert r.status_code == 500
    assert "retry-after" not in r.headers
    assert "nulle" not in r.text
    error_id = r.json()["error_id"]
    logged = "\n".join(logs.lines)
    assert f"error {error_id}: unhandled on GET /api/v1/panne/fichier" in logged
    assert "FileNotFoundError" in logged  # with its traceback


async def test_an_unexpected_error_gets_a_french_page_with_an_identifier_found_in_the_log(
    dsn: str,
) -> None:
    app, base = make_app(DATABASE_URL=dsn, SMTP_URL="smtp://127.0.0.1:9")
    app.register(boom_page)
    app.register(boom_api)
    with captured_logs() as logs:
        async with serve(app, port_of(base)) as url, httpx.AsyncClient(base_url=url) as c:
            page = await c.get("/boum")
            api = await c.get("/api/v1/boum")
    assert page.status_code == 500
    assert "text/html" in page.headers["content-type"]
    assert "Erreur interne" in page.text and "Une erreur inattendue" in page.text
    page_id = re.search(r"<code>([0-9a-f]{8})</code>", page.text)
    assert page_id, page.text
    for leak in ("Traceback", "RuntimeError", "secret detail"):
        assert leak not in page.text
    check_headers(page, "500 page", sensitive=False)

    assert api.status_code == 500
    payload = api.json()
    assert set(payload) == {"status_code", "detail", "error_id"}
    assert re.fullmatch(r"[0-9a-f]{8}", payload["error_id"])
    assert payload["error_id"] in payload["detail"]
    assert "secret" not in api.text and "KeyError" not in api.text
    assert page_id.group(1) != payload["error_id"]

    lines = [line for line in logs.lines if line.startswith("ERROR campaign.web.errors")]
    assert any(f"error {page_id.group(1)}: unhandled on GET /boum" in line for line in lines)
    assert any(
        f"error {payload['error_id']}: unhandled on GET /api/v1/boum" in line for line in lines
    )


# -- the policy breaks nothing in a real browser ----------------------------------------------


@pytest.mark.browser
async def test_no_page_breaks_the_content_security_policy_in_chromium(
    chromium: Chromium,
    server: str,
) -> None:
    """Chromium reports every resource, script or style the policy blocks: none may be."""
    violations: list[str] = []
    async with chromium.context() as context:
        page = await context.new_page()
        page.on(
            "console",
            lambda m: (
                violations.append(f"{page.url}: {m.text}")
                if "Content Security Policy" in m.text or "Refused to" in m.text
                else None
            ),
        )
        for path in (
            "/",
            "/signataires",
            "/confidentialite",
            "/merci",
            f"/confirmer/{TOKEN}",
            "/admin/connexion",
            "/nulle-part",
            *sorted(security.EMBEDDABLE_PATHS),
        ):
            await page.goto(f"{server}{path}")
            await page.wait_for_load_state("networkidle")
    assert not violations, "\n".join(violations)
