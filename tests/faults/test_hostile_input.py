"""Hostile input, through the JSON API and through the HTML form, over real HTTP.

Every hostile request is answered 4xx, names the offending field, and stores NOTHING: no row in
`signatures`, `signature_tokens` or `outbox`, and no message reaches the SMTP server. Names that
look like markup come back escaped on every page that shows them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.mail import Mailbox
from tests.support.signing import (
    SIGN,
    confirm_link,
    csrf_token,
    outbox_drained,
    valid_body,
    valid_form,
)

SLUG = "jouer-collectif"
TEXT_FIELDS = ("given_name", "family_name", "email", "territory_code", "comment", "ref")
ALL_FIELDS = (*TEXT_FIELDS, "mandate", "public")


def marker() -> str:
    return uuid.uuid4().hex[:10]


# -- nothing stored, nothing sent ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    signatures: int
    tokens: int
    outbox: int


async def snapshot(db: asyncpg.Connection) -> Snapshot:
    """The highest ids so far: identity columns only grow, so any new row has a higher id."""
    row = await db.fetchrow(
        "SELECT (SELECT coalesce(max(id), 0) FROM signatures) AS signatures,"
        "       (SELECT coalesce(max(id), 0) FROM signature_tokens) AS tokens,"
        "       (SELECT coalesce(max(id), 0) FROM outbox) AS outbox"
    )
    assert row is not None
    return Snapshot(row["signatures"], row["tokens"], row["outbox"])


async def assert_nothing_stored(
    db: asyncpg.Connection, mailbox: Mailbox, before: Snapshot, *needles: str
) -> None:
    """No new signature, token or outbox row, none naming the address, and no message for it."""
    new = await db.fetchrow(
        "SELECT (SELECT count(*) FROM signatures WHERE id > $1) AS signatures,"
        "       (SELECT count(*) FROM signature_tokens WHERE id > $2) AS tokens,"
        "       (SELECT count(*) FROM outbox WHERE id > $3) AS outbox",
        before.signatures,
        before.tokens,
        before.outbox,
    )
    assert new is not None
    assert dict(new) == {"signatures": 0, "tokens": 0, "outbox": 0}
    needles = tuple(n for n in (n.replace("\x00", "").strip().lower() for n in needles) if n)
    for needle in needles:
        assert not await db.fetchval(
            "SELECT count(*) FROM signatures WHERE position($1 in lower(email)) > 0", needle
        )
        assert not await db.fetchval(
            "SELECT count(*) FROM outbox WHERE position($1 in lower(recipient)) > 0", needle
        )
    await outbox_drained(db)
    for needle in needles:
        stray = [m for m in mailbox.messages if needle in str(m["X-Envelope-To"]).lower()]
        assert not stray, f"a message was sent to {[m['X-Envelope-To'] for m in stray]}"


# -- JSON API helpers ---------------------------------------------------------------------------


def field_errors(response: httpx.Response) -> dict[str, str]:
    """The `extra` of a 422: one `{"key": field, "message": …}` per bad field."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == 422
    assert isinstance(body["detail"], str) and body["detail"]
    errors: dict[str, str] = {}
    for item in body["extra"]:
        assert set(item) == {"key", "message"}, item
        assert isinstance(item["message"], str) and item["message"].strip()
        errors[item["key"]] = item["message"]
    for key in errors:
        assert key in body["detail"], body["detail"]
    return errors


async def assert_api_rejects(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    mailbox: Mailbox,
    body: dict[str, Any],
    field: str,
    message: str | None = None,
) -> None:
    before = await snapshot(db)
    response = await client.post(SIGN, json=body)
    errors = field_errors(response)
    assert set(errors) == {field}, errors
    if message is not None:
        assert message in errors[field], errors
    email = body.get("email")
    # The address as typed, and its marker: a stored or mailed variant of it still contains that.
    needles = [email, *re.findall("[0-9a-f]{10}", email.lower())] if isinstance(email, str) else []
    await assert_nothing_stored(db, mailbox, before, *needles)


def assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text


# -- HTML form helpers --------------------------------------------------------------------------


class FormView(HTMLParser):
    """What the sign form shows: error messages by field, values kept in the inputs."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.errors: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.selected: dict[str, str | None] = {}
        self.checked: set[str] = set()
        self.summary: list[str] = []
        self._error: str | None = None
        self._select: str | None = None
        self._in_summary = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "p" and a.get("class") == "error" and (a.get("id") or "").startswith("e-"):
            self._error = str(a["id"])[2:]
            self.errors[self._error] = ""
        elif tag == "div" and a.get("class") == "errors":
            self._in_summary = True
        elif tag == "li" and self._in_summary:
            self.summary.append("")
        elif tag == "input" and a.get("name"):
            name = str(a["name"])
            self.inputs[name] = a
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.checked.add(name)
            else:
                self.values[name] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.selected[self._select] = a.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._error = None
        elif tag == "select":
            self._select = None
        elif tag == "div":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        if self._error:
            self.errors[self._error] += data
        if self._in_summary and self.summary:
            self.summary[-1] += data


async def post_form(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    return await client.post("/signer", data={**data, "_csrf_token": await csrf_token(client)})


def assert_form_page(response: httpx.Response, status: int = 422) -> FormView:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    return FormView(response.text)


def assert_field_error(view: FormView, field: str, message: str) -> None:
    """The French message sits in the field's own block and the input points to it."""
    assert message in view.errors.get(field, ""), view.errors
    assert any(message in item for item in view.summary), view.summary
    if field == "public":
        return
    control = view.inputs.get(field) if field != "mandate" else None
    if control is not None:
        assert control.get("aria-invalid") == "true"
        assert f"e-{field}" in str(control.get("aria-describedby"))


def assert_values_kept(view: FormView, typed: dict[str, str], *, except_: set[str]) -> None:
    for name in TEXT_FIELDS:
        if name in except_ or not typed.get(name):
            continue
        assert view.values.get(name) == typed[name], (name, view.values.get(name))
    if "mandate" not in except_:
        assert view.selected.get("mandate") == typed["mandate"]
    if "public" not in except_ and typed.get("public") == "true":
        assert "public" in view.checked


# == JSON API =================================================================================


# "{m}" is replaced by a fresh marker in each test, so that parameters stay the same between runs.
INVALID_EMAILS = {
    "no-at": "{m}",
    "nothing-after-at": "{m}@",
    "nothing-before-at": "@{m}.fr",
    "no-tld": "{m}@mairie",
    "two-ats": "{m}@@mairie.fr",
    "space": "{m} martin@mairie.fr",
    "double-dot-domain": "{m}@mairie..fr",
    "leading-dot-domain": "{m}@.mairie.fr",
    "leading-hyphen-label": "{m}@-mairie.fr",
    "trailing-hyphen-label": "{m}@mairie-.fr",
    "trailing-dot": "{m}@mairie.fr.",
    "one-letter-tld": "{m}@mairie.f",
    "numeric-tld": "{m}@mairie.123",
    "underscore-domain": "{m}@mairie_69.fr",
    "leading-dot-local": ".{m}@mairie.fr",
    "trailing-dot-local": "{m}.@mairie.fr",
    "double-dot-local": "anne..{m}@mairie.fr",
    "quoted-local": '"{m}"@mairie.fr',
    "angle-brackets": "<{m}@mairie.fr>",
    "display-name": "Anne Martin <{m}@mairie.fr>",
    "comma-list": "{m}@mairie.fr,victime@exemple.fr",
    "semicolon-list": "{m}@mairie.fr;victime@exemple.fr",
    "ip-literal": "{m}@[127.0.0.1]",
    "localhost": "{m}@localhost",
    "non-ascii-local": "{m}é@mairie.fr",
    "non-ascii-domain": "{m}@mairié.fr",
    # KELVIN SIGN: str.lower() turns it into an ASCII "k", which is someone else's mailbox.
    "kelvin-sign": "\u212a{m}@mairie.fr",
    "fullwidth-at": "{m}\uff20mairie.fr",
    "local-over-64": "a" * 60 + "{m}@mairie.fr",
    "label-over-63": "{m}@" + "a" * 64 + ".fr",
    "over-254": "{m}@" + "a" * 250 + ".fr",
}


@pytest.mark.parametrize("template", INVALID_EMAILS.values(), ids=INVALID_EMAILS.keys())
async def test_api_rejects_invalid_email(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, template: str
) -> None:
    address = template.replace("{m}", marker())
    body = valid_body(email=address)
    message = "254 caractères au plus" if len(address) > 254 else "Adresse électronique invalide"
    await assert_api_rejects(client, db, mailbox, body, "email", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "chaîne de caractères"),
        (True, "chaîne de caractères"),
        (["anne@mairie.fr"], "chaîne de caractères"),
        ({"address": "anne@mairie.fr"}, "chaîne de caractères"),
        ("", "obligatoire"),
        ("   ", "obligatoire"),
        (None, "obligatoire"),
    ],
)
async def test_api_rejects_missing_or_non_string_email(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, value: Any, message: str
) -> None:
    await assert_api_rejects(client, db, mailbox, valid_body(email=value), "email", message)


CONTROLS = {
    "crlf": "\r\n",
    "lf": "\n",
    "cr": "\r",
    "nul": "\x00",
    "tab": "\t",
    "nel": "\x85",
    "line-separator": "\u2028",
    "rtl-override": "\u202e",
}


def _with_control(field: str, control: str, m: str = "{m}") -> str:
    """A plausible value with a control character inside: header injection, log forging…"""
    return {
        "given_name": f"Anne{control}Bcc: victime-{m}@exemple.fr",
        "family_name": f"Martin{control}X-Injected: {m}",
        "email": f"hostile.{m}@mairie-test.fr{control}Bcc: victime-{m}@exemple.fr",
        "territory_code": f"69123{control}",
        "comment": f"Bonjour{control}Subject: {m}",
        "ref": f"relais{control}{m}",
    }[field]


@pytest.mark.parametrize("control", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("field", TEXT_FIELDS)
async def test_api_rejects_control_characters(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, field: str, control: str
) -> None:
    body = valid_body(**{field: _with_control(field, control, marker())})
    await assert_api_rejects(client, db, mailbox, body, field, "non autorisés")
    # Also at either end, where a lax `strip()` would silently hide it.
    for end in ("start", "end"):
        base = valid_body()
        value = f"{control}{base[field]}" if end == "start" else f"{base[field]}{control}"
        base[field] = value
        await assert_api_rejects(client, db, mailbox, base, field, "non autorisés")


async def test_api_rejects_nul_in_mandate(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    for value in ("maire\x00", "maire\r\n", "\x00"):
        await assert_api_rejects(client, db, mailbox, valid_body(mandate=value), "mandate")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("given_name", "A" * 5000, "100 caractères au plus"),
        ("family_name", "M" * 5000, "100 caractères au plus"),
        ("given_name", "é" * 5000, "100 caractères au plus"),
        ("family_name", "Martin " * 700, "100 caractères au plus"),
        ("given_name", "A" * 101, "100 caractères au plus"),
        ("email", "a" * 5000 + "@mairie.fr", "254 caractères au plus"),
        ("territory_code", "6" * 5000, "caractères au plus"),
        ("comment", "c" * 5000, "280 caractères au plus"),
        ("comment", "c" * 281, "280 caractères au plus"),
        ("ref", "r" * 41, "40 caractères au plus"),
        ("ref", "relais 69", "Code relais invalide"),
        ("ref", "<script>", "Code relais invalide"),
    ],
    ids=lambda v: v if len(str(v)) < 20 else f"{str(v)[:8]}…x{len(str(v))}",
)
async def test_api_rejects_oversize_or_malformed_text(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    mailbox: Mailbox,
    field: str,
    value: str,
    message: str,
) -> None:
    await assert_api_rejects(client, db, mailbox, valid_body(**{field: value}), field, message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("roi", "Mandat inconnu"),
        ("MAIRE", "Mandat inconnu"),
        ("Maire", "Mandat inconnu"),
        ("maire ", "Mandat inconnu"),
        ("__proto__", "Mandat inconnu"),
        ("maire' OR '1'='1", "Mandat inconnu"),
        (1, "Mandat inconnu"),
        (["maire"], "Mandat inconnu"),
        ({"maire": True}, "Mandat inconnu"),
        (True, "Mandat inconnu"),
        ("", "Choisissez votre mandat"),
        (None, "Choisissez votre mandat"),
    ],
)
async def test_api_rejects_unknown_mandate(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, value: Any, message: str
) -> None:
    await assert_api_rejects(client, db, mailbox, valid_body(mandate=value), "mandate", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99999", "Code inconnu"),
        ("00000", "Code inconnu"),
        ("2C004", "Code inconnu"),
        ("ZZ", "Code inconnu"),
        ("Lyon", "Code inconnu"),  # the API takes codes; only the form resolves names
        ("75001", "Code inconnu"),  # a postal code of Paris, whose INSEE code is 75056
        ("../../etc/passwd", "Code inconnu"),
        ("69123' OR '1'='1", "Code inconnu"),
        ("%", "Code inconnu"),
        (69123, "chaîne de caractères"),
        (["69123"], "chaîne de caractères"),
        ("", "obligatoire"),
        (None, "obligatoire"),
    ],
)
async def test_api_rejects_unknown_territory(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, value: Any, message: str
) -> None:
    body = valid_body(territory_code=value)
    await assert_api_rejects(client, db, mailbox, body, "territory_code", message)


@pytest.mark.parametrize(
    ("mandate", "code", "message"),
    [
        ("depute", "69123", "un département"),  # a commune
        ("senateur", "2A004", "un département"),  # a commune
        ("conseiller_departemental", "69123", "un département"),  # a commune
        ("maire", "69", "une commune"),  # a département
        ("adjoint", "2A", "une commune"),  # a département
        ("president_intercommunalite", "974", "une commune"),  # a département
        ("conseiller_regional", "69", "une région"),  # a département
        ("president_region", "974", "une région"),  # a département
        ("conseiller_regional", "69123", "une région"),  # a commune
    ],
)
async def test_api_rejects_territory_at_wrong_level(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    mailbox: Mailbox,
    mandate: str,
    code: str,
    message: str,
) -> None:
    body = valid_body(mandate=mandate, territory_code=code)
    await assert_api_rejects(client, db, mailbox, body, "territory_code", message)


async def test_api_reads_a_region_code_as_the_departement_of_that_code(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A région code with `conseiller_departemental` cannot be refused: every région code is also
    a département code (84 is Auvergne-Rhône-Alpes and Vaucluse, 11 Île-de-France and Aude).
    The mandate decides the level, so it is read as the département and stored as one."""
    body = valid_body(mandate="conseiller_departemental", territory_code="84")
    response = await client.post(SIGN, json=body)
    assert response.status_code == 202, response.text
    row = await db.fetchrow(
        "SELECT territory_level, territory_code FROM signatures WHERE email = $1", body["email"]
    )
    assert row is not None
    assert dict(row) == {"territory_level": "departement", "territory_code": "84"}


@pytest.mark.parametrize(
    "value",
    ["true", "false", "on", "yes", "1", 1, 0, 1.0, [], {}, [True], {"value": True}],
    ids=repr,
)
async def test_api_rejects_non_boolean_consent(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, value: Any
) -> None:
    await assert_api_rejects(client, db, mailbox, valid_body(public=value), "public", "booléenne")


async def test_api_treats_null_consent_as_absent(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Decision: `"public": null` means the same as leaving `public` out, that is NOT listed.
    It cannot make anyone public by accident, so refusing it would only annoy integrators."""
    for body in (valid_body(public=None), {k: v for k, v in valid_body().items() if k != "public"}):
        response = await client.post(SIGN, json=body)
        assert response.status_code == 202, response.text
        stored = await db.fetchval("SELECT public FROM signatures WHERE email = $1", body["email"])
        assert stored is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "confirmed"),
        ("emails_sent", 0),
        ("id", 1),
        ("admin", True),
        ("verified", True),
        ("featured", True),
        ("website", "http://spam.example"),
        ("_csrf_token", "x"),
        ("__proto__", {"admin": True}),
        ("Email", "autre@mairie.fr"),
        ("given_name ", "Anne"),
        ("", "vide"),
        ("nul\x00key", "x"),
    ],
    ids=repr,
)
async def test_api_rejects_unknown_fields(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, field: str, value: Any
) -> None:
    body = valid_body(**{field: value})
    await assert_api_rejects(client, db, mailbox, body, field, "Champ inconnu")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" ",
        b"{",
        b"}",
        b"{'given_name': 'Anne'}",
        b'{"given_name": "Anne",}',
        b'{"given_name": }',
        b'{"given_name": "Anne"} trailing',
        b'{"public": NaN}',
        b'{"given_name": "\\ud800"}',  # a lone surrogate
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b"given_name=Anne&family_name=Martin",  # a form body sent to the API
        b"\x00\x01\x02",
    ],
    ids=repr,
)
async def test_api_rejects_malformed_json(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, raw: bytes
) -> None:
    before = await snapshot(db)
    response = await client.post(SIGN, content=raw, headers={"content-type": "application/json"})
    assert_json_error(response, 400)
    await assert_nothing_stored(db, mailbox, before)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b'{"given_name": "\xff\xfe", "email": "x@mairie.fr"}',
            id="invalid-utf8",
        ),
        pytest.param(
            b"[" * 60_000,
            id="deep-nesting",
        ),
        pytest.param(b'{"public": ' + b"9" * 5000 + b"}", id="huge-integer"),
        pytest.param(b'{"public": 1e999999}', id="huge-float"),
    ],
)
async def test_api_rejects_json_that_breaks_the_decoder(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, raw: bytes
) -> None:
    before = await snapshot(db)
    response = await client.post(SIGN, content=raw, headers={"content-type": "application/json"})
    assert_json_error(response, 400)
    await assert_nothing_stored(db, mailbox, before)


@pytest.mark.parametrize(
    "raw",
    [b"[]", b"null", b"true", b"42", b'"anne@mairie.fr"', b"[{}]"],
    ids=repr,
)
async def test_api_rejects_a_non_object_body(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, raw: bytes
) -> None:
    before = await snapshot(db)
    response = await client.post(SIGN, content=raw, headers={"content-type": "application/json"})
    assert_json_error(response, 400)
    await assert_nothing_stored(db, mailbox, before)


async def test_api_rejects_an_array_of_valid_signatures(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    bodies = [valid_body(), valid_body()]
    before = await snapshot(db)
    response = await client.post(SIGN, json=bodies)
    assert_json_error(response, 400)
    await assert_nothing_stored(db, mailbox, before, *(b["email"] for b in bodies))


async def _chunks(payload: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
async def test_api_rejects_a_2mb_body(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, transfer: str
) -> None:
    body = valid_body(comment="x" * (2 * 1024 * 1024))
    payload = httpx.Request("POST", "/", json=body).content
    assert len(payload) > 2_000_000
    before = await snapshot(db)
    content = payload if transfer == "content-length" else _chunks(payload)
    response = await client.post(
        SIGN, content=content, headers={"content-type": "application/json"}
    )
    assert_json_error(response, 413)
    await assert_nothing_stored(db, mailbox, before, body["email"])


async def test_api_reports_every_error_at_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    m = marker()
    body = {
        "given_name": "Anne\r\nBcc: x@exemple.fr",
        "family_name": "M" * 5000,
        "email": f"{m}@@mairie",
        "mandate": "roi",
        "territory_code": "Atlantide",
        "public": "true",
        "comment": "c" * 5000,
        "ref": "relais 69 !",
        "status": "confirmed",
    }
    before = await snapshot(db)
    errors = field_errors(await client.post(SIGN, json=body))
    assert set(errors) == {*ALL_FIELDS, "status"}, errors
    await assert_nothing_stored(db, mailbox, before, m)


# == HTML form ================================================================================


@dataclass(frozen=True)
class FormCase:
    field: str
    value: str
    message: str
    others: dict[str, str] | None = None


def _form_cases() -> dict[str, FormCase]:
    cases = {
        "email-no-at": FormCase("email", "{m}.mairie.fr", "Adresse électronique invalide"),
        "email-two-at": FormCase("email", "{m}@@mairie.fr", "Adresse électronique invalide"),
        "email-no-tld": FormCase("email", "{m}@mairie", "Adresse électronique invalide"),
        "email-double-dot": FormCase("email", "a..{m}@mairie.fr", "Adresse électronique invalide"),
        "email-list": FormCase(
            "email", "{m}@mairie.fr,victime@exemple.fr", "Adresse électronique invalide"
        ),
        "email-display-name": FormCase(
            "email", "Anne <{m}@mairie.fr>", "Adresse électronique invalide"
        ),
        "given-name-5000": FormCase("given_name", "A" * 5000, "100 caractères au plus"),
        "family-name-5000": FormCase("family_name", "M" * 5000, "100 caractères au plus"),
        "comment-5000": FormCase("comment", "c" * 5000, "280 caractères au plus"),
        "ref-invalid": FormCase("ref", "relais 69 !", "Code relais invalide"),
        "mandate-unknown": FormCase("mandate", "roi", "Mandat inconnu"),
        "mandate-injected": FormCase("mandate", "maire\r\nX: y", "Mandat inconnu"),
        "territory-unknown": FormCase("territory_code", "Atlantide-{m}", "Aucune commune"),
        "territory-code-unknown": FormCase("territory_code", "99999", "Aucune commune"),
        "commune-for-depute": FormCase(
            "territory_code", "69123", "Aucun département", {"mandate": "depute"}
        ),
        "departement-for-maire": FormCase("territory_code", "69", "Aucune commune"),
        "region-name-for-conseiller-departemental": FormCase(
            "territory_code",
            "Bretagne",
            "Aucun département",
            {"mandate": "conseiller_departemental"},
        ),
        "commune-for-conseiller-regional": FormCase(
            "territory_code", "Lyon", "Aucune région", {"mandate": "conseiller_regional"}
        ),
        "consent-not-boolean": FormCase("public", "peut-être", "booléenne"),
    }
    for field in TEXT_FIELDS:
        for name, control in (("crlf", "\r\n"), ("lf", "\n"), ("nul", "\x00")):
            cases[f"{field}-{name}"] = FormCase(
                field, _with_control(field, control), "caractères non autorisés"
            )
    return cases


FORM_CASES = _form_cases()


@pytest.mark.parametrize("case", FORM_CASES.values(), ids=FORM_CASES.keys())
async def test_form_shows_the_error_next_to_the_field_and_keeps_the_other_values(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, case: FormCase
) -> None:
    typed = valid_form(
        given_name='Anne "><script>alert(1)</script>',
        family_name="Martin & <b>Fils</b>",
        comment="Jouer collectif ' onmouseover='alert(1)",
        **(case.others or {}),
    )
    m = marker()
    typed[case.field] = case.value.replace("{m}", m)
    before = await snapshot(db)
    response = await post_form(client, typed)
    view = assert_form_page(response)
    assert set(view.errors) == {case.field}, view.errors
    assert_field_error(view, case.field, case.message)
    assert_values_kept(view, typed, except_={case.field})
    # Kept values are escaped: the markup typed in the names never comes back as markup.
    assert "<script>alert(1)</script>" not in response.text
    assert "<b>Fils</b>" not in response.text
    assert "' onmouseover='" not in response.text
    if case.field != "given_name":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    needles = [typed["email"] if case.field != "email" else m]
    await assert_nothing_stored(db, mailbox, before, *needles)


async def test_form_shows_every_error_at_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    m = marker()
    typed = {
        "given_name": "Anne\r\nBcc: x@exemple.fr",
        "family_name": "M" * 5000,
        "email": f"{m}@@mairie",
        "mandate": "roi",
        "territory_code": f"Atlantide-{m}",
        "public": "peut-être",
        "comment": "c" * 5000,
        "ref": "relais 69 !",
    }
    before = await snapshot(db)
    response = await post_form(client, typed)
    view = assert_form_page(response)
    assert set(view.errors) == set(ALL_FIELDS), view.errors
    assert len(view.summary) == len(ALL_FIELDS), view.summary
    assert f"Le formulaire contient {len(ALL_FIELDS)} erreurs." in response.text
    for field in ALL_FIELDS:
        assert view.errors[field].strip()
    await assert_nothing_stored(db, mailbox, before, m)


async def test_form_summary_counts_the_errors(client: httpx.AsyncClient) -> None:
    response = await post_form(client, {})
    view = assert_form_page(response)
    required = {"given_name", "family_name", "email", "mandate", "territory_code"}
    assert set(view.errors) == required
    assert f"Le formulaire contient {len(required)} erreurs." in response.text


async def test_form_rejects_a_file_in_a_text_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    """A multipart body whose `given_name` is a file part: no browser sends that for a text
    input, so it must be refused like any other bad value, not stringified."""
    typed = valid_form()
    before = await snapshot(db)
    token = await csrf_token(client)
    fields = {k: v for k, v in typed.items() if k != "given_name"}
    response = await client.post(
        "/signer",
        data={**fields, "_csrf_token": token},
        files={"given_name": ("Anne", b"Anne", "text/plain")},
    )
    view = assert_form_page(response)
    assert "given_name" in view.errors, view.errors
    await assert_nothing_stored(db, mailbox, before, typed["email"])


async def test_form_rejects_a_2mb_body(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    typed = valid_form(comment="x" * (2 * 1024 * 1024))
    before = await snapshot(db)
    response = await post_form(client, typed)
    assert response.status_code == 413, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert "trop volumineuses" in response.text
    await assert_nothing_stored(db, mailbox, before, typed["email"])


@pytest.mark.parametrize("case", ["no-cookie", "forged-cookie", "cross-site", "foreign-origin"])
async def test_form_without_its_cookie_or_from_another_site_is_refused(
    client: httpx.AsyncClient, server: str, db: asyncpg.Connection, mailbox: Mailbox, case: str
) -> None:
    """The sign form's anti-forgery check is its cookie (SameSite=Strict, set by the form's
    image) and the browser's word on where the form comes from (campaign/site/pages.py)."""
    typed = valid_form()
    before = await snapshot(db)
    headers = {}
    if case == "no-cookie":
        await csrf_token(client)  # another visitor's cookie does not help this one
        async with httpx.AsyncClient(base_url=server, timeout=10) as stranger:
            response = await stranger.post("/signer", data=typed)
    elif case == "forged-cookie":
        async with httpx.AsyncClient(
            base_url=server, timeout=10, cookies={"formulaire": "99." + "x" * 22}
        ) as forger:
            response = await forger.post("/signer", data=typed)
    else:
        await csrf_token(client)  # the cookie is there: the origin alone refuses
        headers = (
            {"Sec-Fetch-Site": "cross-site"}
            if case == "cross-site"
            else {"Origin": "https://evil.example"}
        )
        response = await client.post("/signer", data=typed, headers=headers)
    assert response.status_code == 403, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    if headers:
        assert "Accès refusé" in response.text
        assert "Rechargez la page" in response.text
    else:  # the form comes back as typed, with the cookie
        assert "cookie technique" in response.text
        assert f'value="{typed["email"]}"' in response.text
    assert "Traceback" not in response.text
    await assert_nothing_stored(db, mailbox, before, typed["email"])


async def test_form_with_the_honeypot_filled_looks_like_success_and_is_flagged(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Flag, don't reject (issue 6): kept as a suspect for a person to review, never counted."""
    human = await post_form(client, valid_form())
    assert human.status_code == 303
    typed = valid_form(website="http://spam.example")
    robot = await post_form(client, typed)
    assert robot.status_code == human.status_code
    assert robot.headers["location"] == human.headers["location"] == "/merci"
    assert robot.content == human.content
    row = await db.fetchrow(
        "SELECT suspect, suspect_reasons FROM signatures WHERE email = $1", typed["email"]
    )
    assert row is not None and row["suspect"]
    assert "honeypot" in row["suspect_reasons"]


# == Names that look like markup ==============================================================

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def assert_escaped(html: str, *, shown: bool) -> None:
    assert SCRIPT not in html
    assert "<script>alert" not in html
    # Every occurrence of the payload is the escaped one.
    assert html.count("alert(1)") == html.count(ESCAPED)
    if shown:
        assert ESCAPED in html


async def test_markup_in_names_is_escaped_everywhere(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    tag = f"xss{marker()}"
    body = valid_body(given_name=SCRIPT, family_name=f"{SCRIPT}{tag}", public=True)
    response = await client.post(SIGN, json=body)
    assert response.status_code == 202, response.text
    stored = await db.fetchrow(
        "SELECT given_name, family_name FROM signatures WHERE email = $1", body["email"]
    )
    assert stored is not None
    assert dict(stored) == {"given_name": SCRIPT, "family_name": f"{SCRIPT}{tag}"}

    [message] = await mailbox.wait_for(body["email"])
    html_part = message.get_body(("html",))
    assert html_part is not None
    assert_escaped(html_part.get_content(), shown=True)
    link, _ = confirm_link(message)

    page = await client.get(link)
    assert page.status_code == 200
    assert "Je confirme ma signature" in page.text
    assert_escaped(page.text, shown=True)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    result = await client.post(link, data={"_csrf_token": token.group(1)})
    assert result.status_code == 200
    assert "votre signature est confirmée" in result.text
    assert_escaped(result.text, shown=False)

    assert_escaped((await client.get("/")).text, shown=False)
    listed = await client.get("/signataires", params={"q": tag})
    assert listed.status_code == 200
    assert_escaped(listed.text, shown=True)
    assert tag in listed.text
    assert_escaped((await client.get("/signataires")).text, shown=False)

    api = await client.get(f"/api/v1/campaigns/{SLUG}/signatories", params={"q": tag})
    assert api.status_code == 200
    assert api.headers["content-type"].startswith("application/json")
    [item] = api.json()["items"]
    assert item["given_name"] == SCRIPT
    assert item["family_name"] == f"{SCRIPT}{tag}"


# == NUL bytes in the public search parameters ==================================================


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param("/signataires", {"q": "Anne\x00"}, id="page-q"),
        pytest.param(f"/api/v1/campaigns/{SLUG}/signatories", {"q": "\x00"}, id="api-q"),
        pytest.param(
            f"/api/v1/campaigns/{SLUG}/signatories",
            {"region": "84\x00"},
            id="api-region",
        ),
        pytest.param(
            f"/api/v1/campaigns/{SLUG}/signatories",
            {"departement": "\x0069"},
            id="api-departement",
        ),
        pytest.param(
            f"/api/v1/campaigns/{SLUG}/signatories",
            {"mandate": "maire\x00"},
            id="api-mandate",
        ),
        pytest.param("/api/v1/territories", {"q": "Lyon\x00"}, id="api-territories"),
        pytest.param(f"/api/v1/campaigns/{SLUG}/counts", {"level": "\x00"}, id="api-counts"),
    ],
)
async def test_nul_bytes_in_search_parameters_are_not_a_server_error(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    """A search for nothing that can exist: no result or a 400, never a 500."""
    response = await client.get(path, params=params)
    assert response.status_code in (200, 400), response.text[:300]
    assert "Traceback" not in response.text
    if path.startswith("/api/"):
        assert response.headers["content-type"].startswith("application/json")
        if path.endswith("/signatories") and response.status_code == 200:
            assert response.json()["items"] == []
