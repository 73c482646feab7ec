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

from campaign.core.audit import CLI_ACTOR
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import mailings
from tests.support.admin import login, make_organiser, make_signature
from tests.support.app import migrated_database
from tests.support.hardening import CapturedLogs, captured_logs, make_app, port_of, serve
from tests.support.signing import csrf_token

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
    """The POST forms of a page: action, and each field's type and the value the page gives it
    (an input's value, a select's first or selected option, a textarea's text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, tuple[str, str]]]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                self.forms.append((a.get("action", ""), {}))
            return
        if not self.forms:
            return
        fields = self.forms[-1][1]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind not in ("checkbox", "radio") or "checked" in a or name not in fields:
                fields[name] = (kind, a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select = name
            fields[name] = ("select", "")
        elif tag == "option" and self._select:
            kind, value = fields[self._select]
            if not value or "selected" in a:
                fields[self._select] = (kind, a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ("textarea", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            fields = self.forms[-1][1]
            fields[self._textarea] = ("textarea", fields[self._textarea][1] + data)


def forms_of(html: str, page: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
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
        self.statuses: dict[int, int] = {}

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
        self.statuses[status] = self.statuses.get(status, 0) + 1
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
        await csrf_token(anonymous)  # the sign form's cookie and the other forms' CSRF cookie
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


PLACEHOLDER_FIELDS = {
    "nom": ("text", "x"),
    "email": ("email", "a@b.fr"),
    "date": ("date", "2027-01-01"),
    "motif": ("text", "x"),
}
FIELD_VALUES = (
    "a\x00b",
    f"x\r\nERROR campaign: {FORGED}",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
)


async def seed(db: asyncpg.Connection, organiser: httpx.AsyncClient) -> None:
    """Something behind each kind of page: signatures (ids 1 and 2), a relay, a mailing."""
    await make_signature(db)
    await make_signature(db, status="pending", email="attente@mairie-test.fr")
    campaign_id = await db.fetchval("SELECT id FROM campaigns WHERE slug = $1", SLUG)
    draft = mailings.Draft(subject="Nouvelles", body="Texte.", filter=SignatoryFilter(), rate=1)
    await mailings.create(db, campaign_id, draft, CLI_ACTOR)
    await organiser.post(
        "/admin/relais",
        data={"nom": "Relais", "territoire": "69", "code": "relais-seme"},
        headers=csrf_headers(organiser),
    )


async def page_forms(
    app: Litestar, client: httpx.AsyncClient
) -> dict[str, dict[str, tuple[str, str]]]:
    """The POST forms of every page the client can open, by action; a POST route no page shows
    a form for gets placeholder fields."""
    forms: dict[str, dict[str, tuple[str, str]]] = {}
    for method, template, _ in route_list(app):
        if method != "GET" or template.endswith("/events"):
            continue
        page = await client.get(with_params(template, ""))
        if "text/html" not in page.headers.get("content-type", ""):
            continue
        for action, fields in forms_of(page.text, page.url.path):
            if action.startswith("/") and action != "/admin/deconnexion":
                forms.setdefault(action.split("?")[0], {}).update(fields)
    for action in {with_params(t, "") for m, t, _ in route_list(app) if m == "POST"}:
        forms.setdefault(action, dict(PLACEHOLDER_FIELDS))
    for fields in forms.values():
        fields.pop("_csrf_token", None)  # the header carries it
    return forms


async def test_hostile_form_bodies_never_make_a_500(
    hostile_app: tuple[Litestar, str], hostile_dsn: str
) -> None:
    """Every form of every page, each of its fields in turn given each hostile value (the others
    as the page fills them), a body that is not UTF-8, and CSV uploads with NUL or not UTF-8."""
    app, base = hostile_app
    walk = Walk()
    with every_log() as logs:
        async with clients(base, hostile_dsn) as (anonymous, organiser):
            db = await asyncpg.connect(hostile_dsn)
            try:
                await seed(db, organiser)
            finally:
                await db.close()
            for who, client in (("anonymous", anonymous), ("organiser", organiser)):
                headers = csrf_headers(client)
                for action, fields in sorted((await page_forms(app, client)).items()):
                    raw = (
                        b"\xff\xfe=\xc3\x28&"
                        + "&".join(f"{quote(n)}=%FF%FE%C3%28" for n in fields).encode()
                    )
                    form_headers = {**headers, "content-type": "application/x-www-form-urlencoded"}
                    await walk.send(client, who, "POST", action, content=raw, headers=form_headers)
                    multipart = (
                        b"".join(
                            b'--b0undary\r\nContent-Disposition: form-data; name="'
                            + n.encode()
                            + b'"\r\n\r\n\xff\xfe\xc3\x28\x00\r\n'
                            for n in fields
                        )
                        + b"--b0undary--\r\n"
                    )
                    multipart_headers = {
                        **headers,
                        "content-type": "multipart/form-data; boundary=b0undary",
                    }
                    await walk.send(
                        client, who, "POST", action, content=multipart, headers=multipart_headers
                    )
                    good = {n: v for n, (kind, v) in fields.items() if kind != "file"}
                    files = [n for n, (kind, _) in fields.items() if kind == "file"]
                    for name in good:
                        for value in FIELD_VALUES:
                            data = {**good, name: value}
                            upload = {n: ("l.csv", b"email\n", "text/csv") for n in files}
                            kw: dict[str, Any] = {"files": upload} if upload else {}
                            await walk.send(
                                client, who, "POST", action, data=data, headers=headers, **kw
                            )
                    for content in (
                        b"email;nom;mandat;territoire\na\x00@b.fr;x\x00;maire;69123\n",
                        "prénom;nom;email;mandat;territoire\nAnne\x00;Martin;anne@mairie-test.fr;"
                        "maire;69123\n".encode(),
                        b"email;nom\n\xff\xfe\xc3\x28;x\n",
                        b"\x00\x00\x00",
                    ):
                        upload = {n: ("liste.csv", content, "text/csv") for n in files}
                        if upload:
                            await walk.send(
                                client,
                                who,
                                "POST",
                                action,
                                data=good,
                                files=upload,
                                headers=headers,
                            )
    check_logs(logs, walk.failures)
    assert walk.count > 500
    assert walk.statuses.get(400, 0) > 100  # the hostile values were read, and refused
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


# -- each refusal, as people and programs read it ---------------------------------------------


async def test_each_refusal_is_a_clear_4xx_that_names_the_field(
    hostile_app: tuple[Litestar, str], hostile_dsn: str
) -> None:
    _, base = hostile_app
    db = await asyncpg.connect(hostile_dsn)
    async with clients(base, hostile_dsn) as (anonymous, organiser):
        # The API: JSON naming the parameter.
        r = await anonymous.get("/api/v1/territories", params={"q": "ly\x00on"})
        assert r.status_code == 400
        assert r.json()["extra"] == [
            {"key": "q", "source": "query", "message": "Caractère nul interdit"}
        ]
        r = await anonymous.get(f"/api/v1/campaigns/{SLUG}/signatories?region=%FF%FE")
        assert r.status_code == 400 and r.json()["extra"][0]["key"] == "region"
        # Pages: a French page.
        r = await anonymous.get("/confirmer/abc%00def")
        assert r.status_code == 400 and "Adresse invalide." in r.text
        before = await db.fetchval("SELECT count(*) FROM signatures")
        r = await anonymous.post(
            "/signer",
            data={"given_name": "An\x00ne", "family_name": "Martin", "email": "a@mairie.fr"},
            headers=csrf_headers(anonymous),
        )
        # The signing form's validation refuses it next to the field, keeping what was typed
        # (tests/faults/test_hostile_input.py walks every field).
        assert r.status_code == 422 and "caractères non autorisés" in r.text
        assert 'value="Martin"' in r.text
        r = await anonymous.post(
            "/signer",
            content=b"given_name=\xff\xfe&family_name=Martin",
            headers={
                **csrf_headers(anonymous),
                "content-type": "application/x-www-form-urlencoded",
            },
        )
        assert (
            r.status_code == 400 and "mal encodé (UTF-8 attendu) (champ « given_name »)" in r.text
        )
        assert await db.fetchval("SELECT count(*) FROM signatures") == before

        # The back office: a relay's name, an account's address, a CSV with NUL: nothing written.
        relays = await db.fetchval("SELECT count(*) FROM relays")
        r = await organiser.post(
            "/admin/relais",
            data={"nom": "Réseau\x00Rhône", "territoire": "69", "code": "rhone-nul"},
            headers=csrf_headers(organiser),
        )
        assert r.status_code == 400 and "« nom »" in r.text
        accounts = await db.fetchval("SELECT count(*) FROM organisers")
        r = await organiser.post(
            "/admin/comptes",
            data={"email": "nul\x00@collectif-test.fr", "role": "viewer", "password": "x" * 16},
            headers=csrf_headers(organiser),
        )
        assert r.status_code == 400 and "« email »" in r.text
        # The same in a multipart body (as a form with a file sends it).
        r = await organiser.post(
            "/admin/comptes",
            data={"email": "nul\x00@collectif-test.fr", "role": "viewer", "password": "x" * 16},
            files={"rien": ("rien.txt", b"", "text/plain")},
            headers=csrf_headers(organiser),
        )
        assert r.status_code == 400 and "« email »" in r.text
        # A multipart text field that is not UTF-8.
        boundary = "----limite"
        raw = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="texte"\r\n\r\n'.encode()
            + b"pr\xe9nom;nom;email\r\n\xff\xfe\x00;x;y\r\n"
            + f"--{boundary}--\r\n".encode()
        )
        r = await organiser.post(
            "/admin/invitations/import",
            content=raw,
            headers={
                **csrf_headers(organiser),
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert r.status_code == 400 and "Texte mal encodé dans le formulaire" in r.text
        # Multipart bodies to the public form and the login page (read by the same function).
        nothing = {"rien": ("rien.txt", b"", "text/plain")}
        for client, path, data in (
            (anonymous, "/signer", {"given_name": "An\x00ne", "email": "a@mairie.fr"}),
            (anonymous, "/admin/connexion", {"email": "a\x00@b.fr", "password": "x"}),
        ):
            r = await client.post(path, data=data, files=nothing, headers=csrf_headers(client))
            if path == "/signer":  # refused by the form's validation, next to the field
                assert r.status_code == 422 and "caractères non autorisés" in r.text, path
            else:
                assert r.status_code == 400 and "Caractère nul interdit" in r.text, path
            r = await client.post(
                path,
                content=raw.replace(b"texte", b"email"),
                headers={
                    **csrf_headers(client),
                    "content-type": f"multipart/form-data; boundary={boundary}",
                },
            )
            assert r.status_code == 400 and "mal encodé" in r.text, path
        assert await db.fetchval("SELECT count(*) FROM signatures") == before
        invitations = await db.fetchval("SELECT count(*) FROM invitations")
        csv = (
            "prénom;nom;email;mandat;territoire\n"
            "An\x00ne;Martin;anne.nul@mairie-test.fr;maire;69123\n"
        )
        r = await organiser.post(
            "/admin/invitations/import",
            data={"texte": ""},
            files={"fichier": ("liste.csv", csv.encode(), "text/csv")},
            headers=csrf_headers(organiser),
        )
        assert r.status_code == 422 and "Ligne 2 : caractère nul interdit." in r.text
        assert await db.fetchval("SELECT count(*) FROM relays") == relays
        assert await db.fetchval("SELECT count(*) FROM organisers") == accounts
        assert await db.fetchval("SELECT count(*) FROM invitations") == invitations

        # Extreme dates in the filters (the list, a bulk action's preview, the exports) and in
        # the campaign's settings.
        for query in ("du=0001-01-01", "au=9999-12-31", "du=10000-01-01", "au=-0001-01-01"):
            for path in ("/admin/signataires", "/admin/signataires/lot", "/admin/export.csv"):
                r = await organiser.get(f"{path}?{query}")
                assert r.status_code == 400, (path, query)
                assert "Date invalide (format AAAA-MM-JJ, entre 2000 et 2100)." in r.text
        settings = await organiser.get("/admin/campagne")
        fields = {
            n: v
            for action, f in forms_of(settings.text, "/admin/campagne")
            for n, (_, v) in f.items()
        }
        launch = await db.fetchval("SELECT launch_at FROM campaigns WHERE slug = $1", SLUG)
        for moment in ("0001-01-01T00:00", "9999-12-31T23:59", "10000-01-01T00:00"):
            r = await organiser.post("/admin/campagne", data={**fields, "launch_at": moment})
            assert r.status_code == 422, moment
            assert "Date et heure attendues (heure de Paris), entre 2000 et 2100." in r.text
        assert await db.fetchval("SELECT launch_at FROM campaigns WHERE slug = $1", SLUG) == launch
    await db.close()


async def test_nothing_a_request_carries_forges_a_log_line(
    hostile_app: tuple[Litestar, str],
) -> None:
    """The one log line written from a request (an unhandled error's path) is escaped, and the
    app's log handler writes every message on one line."""
    import logging

    from campaign.core.logtext import OneLineFormatter, printable
    from campaign.web import errors

    assert printable("/a\r\nERROR forged\u2028x\x00") == "/a\\x0d\\x0aERROR forged\\x2028x\\x00"
    record = logging.LogRecord("campaign", logging.ERROR, "f", 1, "a %s", ("b\nc",), None)
    assert OneLineFormatter("%(levelname)s %(message)s").format(record) == "ERROR a b\\x0ac"
    app, _ = hostile_app
    formatter = app.logging_config.formatters["standard"]  # type: ignore[union-attr]
    assert formatter["()"] is OneLineFormatter

    class Request:
        method = "GET"
        scope = {"path": f"/boum/x\u2028ERROR campaign: {FORGED}"}

    with captured_logs() as logs:
        errors.internal_error(Request(), RuntimeError("boom"))  # type: ignore[arg-type]
    line = next(line for line in logs.lines if "unhandled" in line)
    assert f"/boum/x\\x2028ERROR campaign: {FORGED}" in line.splitlines()[0]
