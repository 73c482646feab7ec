"""Hostile inputs on every route (issue 15, §2): NUL in paths, query strings and fields, invalid
UTF-8 in form bodies, extreme dates, CSV uploads with NUL — each a clear 4xx, never a 500, never a
traceback in the log, and nothing a request sends written raw into the log (no forged lines).

The walk is the app's own route list (tests/web/test_http_hardening.py's), anonymous and as an
organiser; POSTs carry a valid CSRF token (header) so that their bodies are really read, and the
forms' fields are those of the pages' own forms."""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from litestar import Litestar

from tests.support.admin import login, make_organiser
from tests.support.app import migrated_database
from tests.support.hardening import CapturedLogs, captured_logs, make_app, port_of, serve

SLUG = "jouer-collectif"
FORGED = "FORGED-LINE"
# What a hostile client puts in values: NUL, a forged log line, extreme or malformed dates.
VALUES = (
    "a\x00b",
    f"x\r\nERROR campaign: {FORGED}",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-0001-01-01",
    "-1",
    "2026-13-45",
    "\x00",
)
# Query parameters the handlers do not name but read (filters, pages, dates…).
EXTRA_QUERY = ("q", "page", "du", "au", "depuis", "jusqu", "date", "statut", "limit", "level")
NOT_QUERY = {"self", "runtime", "request", "data", "form", "mail_sink", "state", "scope"}
SKIPPED = {("POST", "/admin/deconnexion")}  # would end the session the walk goes on with


def route_list(app: Litestar) -> list[tuple[str, str, list[str]]]:
    """(method, path template, the names the handler takes) of every handler the app has."""
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            names = [n for n in inspect.signature(handler.fn).parameters if n not in NOT_QUERY]
            for method in sorted(handler.http_methods):
                if (method, route.path) not in SKIPPED and method in ("GET", "POST"):
                    found.append((method, route.path, names))
    return sorted(found)


def with_params(template: str, value: str) -> str:
    """The path template with `value` in each parameter (ints get a number)."""

    def one(match: re.Match[str]) -> str:
        if match.group(2) == "int":
            return "1"
        if match.group(1) == "slug" and value == "":
            return SLUG
        return quote(value, safe="") if value else "x"

    return re.sub(r"\{([a-z_]+):([a-z]+)\}", one, template)


class _Forms(HTMLParser):
    """The POST forms of a page: action, and each field's name and type."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self.forms.append((a.get("action", ""), {}))
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("type", tag)


def forms_of(html: str, page: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(html)
    return [(action or page, fields) for action, fields in parser.forms]


@pytest.fixture(scope="module")
async def hostile_dsn(pg_server: str) -> str:
    return await migrated_database(pg_server, "campaign_hostile")


@pytest.fixture(scope="module")
async def hostile_app(hostile_dsn: str) -> AsyncIterator[tuple[Litestar, str]]:
    app, base = make_app(DATABASE_URL=hostile_dsn)
    async with serve(app, port_of(base)) as url:
        yield app, url


@contextlib.contextmanager
def every_log() -> Iterator[list[CapturedLogs]]:
    with (
        captured_logs("campaign") as ours,
        captured_logs("uvicorn") as server,
        captured_logs("litestar") as framework,
    ):
        yield [ours, server, framework]


class Walk:
    """Requests of the walk, each answer checked: below 500, and its failures collected."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.count = 0

    async def send(self, client: httpx.AsyncClient, who: str, method: str, url: str, **kw: Any):
        self.count += 1
        try:
            if url.endswith("/events") and method == "GET":
                async with client.stream(method, url, **kw) as r:
                    status = r.status_code
                    text = ""
            else:
                r = await client.request(method, url, **kw)
                status, text = r.status_code, r.text
        except httpx.HTTPError as exc:
            self.failures.append(f"{who} {method} {url[:80]}: {type(exc).__name__}")
            return None
        if status >= 500 or "Traceback" in text:
            self.failures.append(f"{who} {method} {url[:100]} -> {status}")
        return r


@contextlib.asynccontextmanager
async def clients(
    base: str, dsn: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """An anonymous visitor and a logged-in organiser (role admin: every page)."""
    db = await asyncpg.connect(dsn)
    try:
        email = await make_organiser(db, "admin")
    finally:
        await db.close()
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as anonymous,
        httpx.AsyncClient(base_url=base, timeout=20) as organiser,
    ):
        assert (await login(organiser, email)).status_code == 303
        await anonymous.get("/")  # its CSRF cookie
        yield anonymous, organiser


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    token = client.cookies.get("csrftoken")
    assert token, "no CSRF cookie"
    return {"x-csrftoken": token}


def check_logs(logs: list[CapturedLogs], failures: list[str]) -> None:
    text = "\n".join(handler.text() for handler in logs)
    if "Traceback" in text:
        failures.append("a traceback in the log:\n" + text[-3000:])
    for line in text.splitlines():
        if FORGED in line and not line.startswith(("INFO", "WARNING", "ERROR", "DEBUG")):
            failures.append(f"a forged log line: {line[:200]}")
        if line.startswith(f"ERROR campaign: {FORGED}"):
            failures.append(f"a forged log line: {line[:200]}")
        if "\x00" in line:
            failures.append(f"a NUL in the log: {line[:200]!r}")


async def test_hostile_paths_and_query_strings_never_make_a_500(
    hostile_app: tuple[Litestar, str], hostile_dsn: str
) -> None:
    app, base = hostile_app
    walk = Walk()
    with every_log() as logs:
        async with clients(base, hostile_dsn) as (anonymous, organiser):
            for method, template, names in route_list(app):
                params = [*names, *EXTRA_QUERY]
                for who, client in (("anonymous", anonymous), ("organiser", organiser)):
                    headers = csrf_headers(client) if method == "POST" else {}
                    for value in VALUES:
                        if "{" in template:
                            url = with_params(template, value)
                            await walk.send(client, who, method, url, headers=headers)
                        url = with_params(template, "")
                        query = {name: value for name in params}
                        await walk.send(client, who, method, url, params=query, headers=headers)
    check_logs(logs, walk.failures)
    assert walk.count > 1000
    assert not walk.failures, "\n".join(walk.failures[:60])


async def test_hostile_form_bodies_never_make_a_500(
    hostile_app: tuple[Litestar, str], hostile_dsn: str
) -> None:
    app, base = hostile_app
    walk = Walk()
    with every_log() as logs:
        async with clients(base, hostile_dsn) as (anonymous, organiser):
            for who, client in (("anonymous", anonymous), ("organiser", organiser)):
                # Each page's own forms, every field given each hostile value.
                forms: dict[str, dict[str, str]] = {}
                for method, template, _ in route_list(app):
                    if method != "GET" or template.endswith("/events"):
                        continue
                    page = await client.get(with_params(template, ""))
                    if "text/html" not in page.headers.get("content-type", ""):
                        continue
                    for action, fields in forms_of(page.text, page.url.path):
                        if action.startswith("/") and action != "/admin/deconnexion":
                            forms.setdefault(action.split("?")[0], {}).update(fields)
                posts = {with_params(t, "") for m, t, _ in route_list(app) if m == "POST"}
                for action in sorted(posts - set(forms)):
                    forms[action] = {"nom": "text", "email": "email", "date": "date"}
                headers = csrf_headers(client)
                for action, fields in sorted(forms.items()):
                    raw = (
                        b"\xff\xfe=\xc3\x28&"
                        + "&".join(f"{quote(n)}=%FF%FE%C3%28" for n in fields).encode()
                    )
                    await walk.send(
                        client,
                        who,
                        "POST",
                        action,
                        content=raw,
                        headers={**headers, "content-type": "application/x-www-form-urlencoded"},
                    )
                    for value in VALUES:
                        data = {n: value for n, kind in fields.items() if kind != "file"}
                        files = {
                            n: ("liste.csv", f"email;nom\n{value};x\n".encode(), "text/csv")
                            for n, kind in fields.items()
                            if kind == "file"
                        }
                        if files:
                            await walk.send(
                                client, who, "POST", action, data=data, files=files, headers=headers
                            )
                            bad = {
                                n: ("l.csv", b"email\n\xff\xfe\x00\n", "text/csv") for n in files
                            }
                            await walk.send(
                                client, who, "POST", action, data=data, files=bad, headers=headers
                            )
                        else:
                            await walk.send(client, who, "POST", action, data=data, headers=headers)
    check_logs(logs, walk.failures)
    assert walk.count > 300
    assert not walk.failures, "\n".join(walk.failures[:60])


async def test_hostile_json_names_the_field(hostile_app: tuple[Litestar, str]) -> None:
    _, base = hostile_app
    walk = Walk()
    body = {
        "given_name": "Anne",
        "family_name": "Martin",
        "email": "anne.hostile@mairie-exemple.fr",
        "mandate": "maire",
        "territory_code": "69123",
        "public": True,
        "comment": "Pour.",
        "ref": "relais",
    }
    with every_log() as logs:
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            for field in ("given_name", "family_name", "email", "territory_code", "comment", "ref"):
                for value in ("a\x00b", f"a\r\n{FORGED}"):
                    r = await walk.send(
                        client,
                        "anonymous",
                        "POST",
                        f"/api/v1/campaigns/{SLUG}/signatures",
                        json={**body, field: value},
                    )
                    if r is not None and "\x00" in value:
                        assert r.status_code in (400, 422), (field, r.status_code)
                        assert field in r.text, (field, r.text)
            r = await walk.send(
                client,
                "anonymous",
                "POST",
                f"/api/v1/campaigns/{SLUG}/signatures",
                content=b'{"given_name": "\xff\xfe"}',
                headers={"content-type": "application/json"},
            )
            assert r is not None and r.status_code == 400
    check_logs(logs, walk.failures)
    assert not walk.failures, "\n".join(walk.failures)
