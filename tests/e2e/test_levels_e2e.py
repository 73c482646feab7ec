"""Issue 14, §5's last test: every level of proof is rendered the same on every surface.

With the real register loaded, three signers of the letter: a maire proven by their town hall's
official domain (verified), the real maire of Saint-Étienne's name from a gmail address (a
register match only) and a conseillère the register does not know (declared only). Each level
must read the same on the public list, the API item, the back office's list and signature page,
its CSV and XLSX exports, the published list, the publication's CSV and JSON, and the PDF. The
expected words are written here, not read from campaign/register/levels.py: a surface that
drifts from them, or the dict itself, fails the test. The widget lists nobody (a total and a
map of signatures): it has no level to show."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest
from pypdf import PdfReader

from campaign.register.officials import load_command
from tests.support.admin import logged_in
from tests.support.app import app_server, migrated_database, unique_email
from tests.support.mail import Mailbox
from tests.support.signing import confirm_link, csrf_token

SLUG = "jouer-collectif"
API = f"/api/v1/campaigns/{SLUG}"
DOWNLOADS = f"/publication/{SLUG}"
SAINT_ETIENNE = "42218"  # its maire in the register (RNE, March 2026): Régis Juanico
AMBERIEU = "01004"  # its maire, Daniel Fabre; its town hall writes from @ville-amberieu.fr

VERIFIED = "élu·e vérifié·e (domaine officiel)"
REGISTER_MATCH = "mandat trouvé au RNE"
DECLARED = "déclaré"


class Signer:
    def __init__(
        self,
        given: str,
        family: str,
        mandate: str,
        code: str,
        address: str,
        *,
        level: str,
        label: str,
        api: tuple[bool, str | None, bool],
    ) -> None:
        self.given, self.family, self.mandate, self.code = given, family, mandate, code
        self.address = address
        self.level, self.label, self.api = level, label, api

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def public_mark(self) -> str | None:
        """What a public list writes after the name: nothing for a declared signatory."""
        return None if self.level == "declared" else self.label


def signers() -> list[Signer]:
    tag = uuid.uuid4().hex[:6]
    return [
        Signer(
            "Daniel",
            "Fabre",
            "maire",
            AMBERIEU,
            f"d.fabre.{tag}@ville-amberieu.fr",
            level="verified",
            label=VERIFIED,
            api=(True, "official_domain", True),
        ),
        Signer(
            "Régis",
            "Juanico",
            "maire",
            SAINT_ETIENNE,
            f"regis.juanico.{tag}@gmail.com",
            level="register_match",
            label=REGISTER_MATCH,
            api=(False, None, True),
        ),
        Signer(
            "Zélie",
            "Inventée",
            "conseiller_municipal",
            SAINT_ETIENNE,
            unique_email("niveaux"),
            level="declared",
            label=DECLARED,
            api=(False, None, False),
        ),
    ]


@pytest.fixture(scope="module")
async def loaded(pg_server: str) -> str:
    dsn = await migrated_database(pg_server, "levels_e2e")
    assert "Registre des élus chargé" in await load_command(dsn)
    return dsn


@pytest.fixture(scope="module")
async def site(loaded: str, mailbox: Mailbox) -> AsyncIterator[str]:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=loaded, SMTP_URL=smtp_url) as base:
        yield base


async def until(check: Any, what: str, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def sign(web: httpx.AsyncClient, mailbox: Mailbox, s: Signer) -> None:
    body = {
        "given_name": s.given,
        "family_name": s.family,
        "email": s.address,
        "mandate": s.mandate,
        "territory_code": s.code,
        "public": True,
    }
    response = await web.post(f"{API}/signatures", json=body)
    assert response.status_code == 202, response.text
    [message] = await mailbox.wait_for(s.address)
    link, _ = confirm_link(message)
    confirmed = await web.post(link, data={"_csrf_token": await csrf_token(web)})
    assert "votre signature est confirmée" in confirmed.text


async def api_item(web: httpx.AsyncClient, s: Signer) -> dict[str, Any]:
    page = (await web.get(f"{API}/signatories", params={"q": s.family, "limit": 5})).json()
    [item] = [i for i in page["items"] if i["given_name"] == s.given]
    return dict(item)


def _line(html: str, name: str, end: str) -> str:
    """The markup from a name to the end of its line (`</li>`, `</tr>`)."""
    start = html.index(name)
    return html[start : html.index(end, start)]


_MARK = re.compile(r'data-level="([a-z_]+)"[^>]*>([^<]*)<')


def mark(html: str, name: str, end: str = "</li>") -> tuple[str, str] | None:
    """The level and words written after `name` (None: no mark)."""
    found = _MARK.search(_line(html, name, end))
    return (found.group(1), found.group(2).strip()) if found else None


def public_mark(s: Signer) -> tuple[str, str] | None:
    return None if s.public_mark is None else (s.level, s.public_mark)


async def test_each_level_reads_the_same_on_every_surface(
    site: str, loaded: str, mailbox: Mailbox
) -> None:
    people = signers()
    async with httpx.AsyncClient(base_url=site, timeout=30) as web:
        for s in people:
            await sign(web, mailbox, s)

        # The verification worker compares each with the register (outside the request).
        async def all_checked() -> bool:
            items = [await api_item(web, s) for s in people]
            return all(
                (i["verified"], i["proof"], i["register_match"]) == s.api
                for i, s in zip(items, people, strict=True)
            )

        await until(all_checked, "the three levels to be reached")

        # The API items: the three fields.
        for s in people:
            item = await api_item(web, s)
            assert (item["verified"], item["proof"], item["register_match"]) == s.api, s.name

        # The public list of signatories.
        for s in people:
            page = (await web.get("/signataires", params={"q": s.family})).text
            assert mark(page, s.name) == public_mark(s), s.name

        # The widget lists nobody: only the total (every level counts) and the map.
        widget = (await web.get("/widget")).text
        assert "élu·e vérifié·e" not in widget and "RNE" not in widget

        # The back office: the list (its column and its filters) and each signature's page.
        conn = await asyncpg.connect(loaded)
        try:
            async with logged_in(site, conn, "organiser") as organiser:
                for s in people:
                    listed = await organiser.get("/admin/signataires", params={"q": s.family})
                    row = f"{s.family} {s.given}</a>"
                    assert mark(listed.text, row, "</tr>") == (s.level, s.label), s.name
                    signature_id = await conn.fetchval(
                        "SELECT id FROM signatures WHERE family_name = $1", s.family
                    )
                    detail = (await organiser.get(f"/admin/signataires/{signature_id}")).text
                    found = re.search(r'<dd id="level" data-level="([a-z_]+)">([^<]*)<', detail)
                    assert found and found.groups() == (s.level, s.label), s.name

                # The dashboard: the register matches, the maires declared and verified.
                board = (await organiser.get("/admin")).text
                assert '<strong id="register-match">2</strong>' in board
                assert '<strong id="maires-declared">2</strong>' in board
                assert '<strong id="maires-verified">1</strong>' in board

                async def filtered(**params: str) -> set[str]:
                    page = (await organiser.get("/admin/signataires", params=params)).text
                    return {s.family for s in people if s.family in page}

                assert await filtered(rne="oui") == {"Fabre", "Juanico"}
                assert await filtered(rne="non") == {"Inventée"}
                assert await filtered(preuve="domaine") == {"Fabre"}
                assert await filtered(preuve="aucune") == {"Juanico", "Inventée"}
                assert await filtered(preuve="equipe") == set()
                bad = await organiser.get("/admin/signataires", params={"preuve": "toutes"})
                assert bad.status_code == 400 and "Preuve inconnue." in bad.text

                # The exports, CSV and XLSX: the same words in « niveau de preuve ».
                text = (await organiser.get("/admin/export.csv")).content.decode("utf-8-sig")
                rows = list(csv.reader(io.StringIO(text), delimiter=";"))
                xlsx = (await organiser.get("/admin/export.xlsx")).content
                sheet = openpyxl.load_workbook(io.BytesIO(xlsx), read_only=True).active
                assert sheet is not None
                cells = [
                    ["" if v is None else str(v) for v in r]
                    for r in sheet.iter_rows(values_only=True)
                ]
                for table in (rows, cells):
                    header = table[0]
                    by_name = {r[header.index("nom")]: r for r in table[1:]}
                    for s in people:
                        r = by_name[s.family]
                        assert r[header.index("niveau de preuve")] == s.label, s.name
                        proof = {"official_domain": "domaine officiel"}.get(s.api[1] or "", "")
                        assert r[header.index("preuve")] == proof, s.name
                        assert r[header.index("élu·e vérifié·e")] == ("oui" if s.api[0] else "non")
                        rne = "oui" if s.api[2] else "non"
                        assert r[header.index("mandat trouvé au RNE")] == rne, s.name
        finally:
            # The letter published: its list, its PDF and its files.
            await conn.execute(
                "UPDATE campaigns SET launch_at = $2 WHERE slug = $1",
                SLUG,
                datetime.now(UTC) - timedelta(minutes=1),
            )
            await conn.close()

        async def published() -> bool:
            info = (await web.get(API, headers={"Cache-Control": "no-cache"})).json()
            return bool(info["published"])

        await until(published, "the letter to be published")

        async def listed_on_home() -> bool:  # pages follow at most once a second
            home = (await web.get("/")).text
            return 'id="signataires-publies"' in home and all(s.name in home for s in people)

        await until(listed_on_home, "the published list on the letter's page")
        home = (await web.get("/")).text
        listing = home[home.index('id="signataires-publies"') :]
        for s in people:
            assert mark(listing, s.name) == public_mark(s), s.name

        pdf = (await web.get(DOWNLOADS + "/lettre-et-signataires.pdf")).content
        text = " ".join(
            " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split()
        )
        for s in people:
            start = text.index(s.name)  # its line: up to the next signer's, or 120 characters
            ends = [text.index(o.name) for o in people if text.index(o.name) > start]
            line = text[start : min([*ends, start + 120])]
            for other in (VERIFIED, REGISTER_MATCH):
                assert (other in line) == (other == s.public_mark), (s.name, line)

        # The publication's counts per territory: the same levels, counted.
        expected = {AMBERIEU: (1, 1, 1), SAINT_ETIENNE: (2, 0, 1)}  # declared, verified, RNE
        body = (await web.get(DOWNLOADS + "/signatures-par-territoire.csv")).content
        table = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
        header = table[0]
        columns = [
            header.index(c) for c in ("signatures", "élus vérifiés", "mandats trouvés au RNE")
        ]
        by_code = {r[1]: r for r in table[1:] if r[0] == "commune"}
        for code, figures in expected.items():
            assert tuple(int(by_code[code][i]) for i in columns) == figures, code
        data = json.loads((await web.get(DOWNLOADS + "/signatures-par-territoire.json")).content)
        communes = {c["code"]: c for c in data["communes"]}
        for code, figures in expected.items():
            c = communes[code]
            assert (c["count"], c["verified"], c["register_match"]) == figures, code
