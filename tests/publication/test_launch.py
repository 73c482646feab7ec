"""The publication at the launch instant and the closing date, over HTTP, on an app and a database
of their own whose clock the tests move (campaign/clock.py): nothing published before the
instant, the letter page in its published state after it (no restart), the downloads, the
closing date closing the form politely (page and API), the back office's closing setting."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from campaign.core.frenchdates import long_date
from tests.support.admin import csrf_of, logged_in
from tests.support.app import unique_email
from tests.support.mail import Mailbox
from tests.support.public import SLUG, PublicApp, eventually, make_signature, public_app

DOWNLOADS = f"/publication/{SLUG}"
FILES = (
    "/lettre-et-signataires.pdf",
    "/signatures-par-territoire.csv",
    "/signatures-par-territoire.json",
    "/carte.svg",
    "/carte.png",
)
API = f"/api/v1/campaigns/{SLUG}"


@pytest.fixture(scope="module")
async def lapp(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    async with public_app(pg_server, "launch", mailbox.port) as app:
        yield app


@pytest.fixture
async def ldb(lapp: PublicApp) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(lapp.dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def web(lapp: PublicApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lapp.base, timeout=30) as client:
        yield client


async def set_campaign(
    db: asyncpg.Connection,
    web: httpx.AsyncClient,
    *,
    launch_at: datetime,
    closing_at: datetime | None = None,
    status: str = "open",
    embargo: bool = False,
) -> None:
    """Change the campaign as the back office does, then wait until the app reloaded it."""
    await db.execute(
        "UPDATE campaigns SET launch_at = $2, closing_at = $3, status = $4, embargo = $5 "
        "WHERE slug = $1",
        SLUG,
        launch_at,
        closing_at,
        status,
        embargo,
    )

    async def reloaded() -> bool:
        info = (await web.get(API, headers={"Cache-Control": "no-cache"})).json()
        return bool(
            datetime.fromisoformat(info["launch_at"]) == launch_at
            and info["status"] == status
            and (info["closing_at"] and datetime.fromisoformat(info["closing_at"])) == closing_at
        )

    await eventually(reloaded, what="the campaign to be reloaded")


async def total_shown(lapp: PublicApp, expected: int) -> None:
    async def reached() -> bool:
        return lapp.runtime.counts.campaign(await _campaign_id(lapp)).total == expected

    await eventually(reached, what=f"the counts to reach {expected}")


async def _campaign_id(lapp: PublicApp) -> int:
    campaign = lapp.runtime.campaigns.get(SLUG)
    assert campaign is not None
    return campaign.id


async def signatories(db: asyncpg.Connection) -> dict[str, int]:
    """A small crowd in three régions: listed ones, and every kind that must not be listed."""
    ids = {
        "lyon": await make_signature(db, given_name="Anne", family_name="Lyonnaise", code="69123"),
        "villeurbanne": await make_signature(
            db, given_name="Bruno", family_name="Zola", code="69266"
        ),
        "featured": await make_signature(db, given_name="Zoé", family_name="Vedette", code="69259"),
        "depute": await make_signature(
            db,
            given_name="Yann",
            family_name="Député",
            mandate="depute",
            level="departement",
            code="29",
        ),
        "regional": await make_signature(
            db,
            given_name="Rose",
            family_name="Régionale",
            mandate="conseiller_regional",
            level="region",
            code="53",
        ),
        "hostile": await make_signature(
            db, given_name="<script>alert(1)</script>", family_name="=HYPERLINK(1)", code="75056"
        ),
        "private": await make_signature(
            db, given_name="Paul", family_name="Discret", code="69123", public=False
        ),
        "pending": await make_signature(
            db, given_name="Pia", family_name="Attente", code="69123", status="pending"
        ),
        "rejected": await make_signature(
            db, given_name="Rémi", family_name="Rejeté", code="69123", status="rejected"
        ),
        "withdrawn": await make_signature(
            db, given_name="Wanda", family_name="Retirée", code="69123", status="withdrawn"
        ),
        "suspect": await make_signature(
            db, given_name="Sam", family_name="Suspect", code="69123", status="pending"
        ),
    }
    # Proven (issue 14): the badge; Zola only matches the register: no badge.
    await db.execute(
        "UPDATE signatures SET verification_override = 'verified', proof = 'organisers', "
        "proof_at = now(), proof_note = 'test' WHERE id = $1",
        ids["lyon"],
    )
    await db.execute(
        "UPDATE signatures SET verification_override = 'verified' WHERE id = $1",
        ids["villeurbanne"],
    )
    await db.execute("UPDATE signatures SET featured = true WHERE id = $1", ids["featured"])
    # A suspect signature is kept but neither counted nor listed (campaign/abuse.py).
    await db.execute(
        "UPDATE signatures SET suspect = true, status = 'confirmed', confirmed_at = now() "
        "WHERE id = $1",
        ids["suspect"],
    )
    return ids


async def test_nothing_is_published_before_the_instant_then_everything_at_it(
    lapp: PublicApp, ldb: asyncpg.Connection, web: httpx.AsyncClient
) -> None:
    await signatories(ldb)
    counted = await ldb.fetchval(
        "SELECT coalesce(sum(confirmed), 0) FROM territory_counts tc "
        "JOIN campaigns c ON c.id = tc.campaign_id WHERE c.slug = $1",
        SLUG,
    )
    await total_shown(lapp, counted)
    launch = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await set_campaign(ldb, web, launch_at=launch, embargo=True)
    try:
        # Before: the countdown, no banner, no list, no names (embargo), every download a 404.
        page = await web.get("/")
        assert page.status_code == 200
        assert "Lettre publiée le" not in page.text
        assert 'id="countdown"' in page.text
        assert "Lyonnaise" not in page.text
        assert "signataires-publies" not in page.text
        for path in (*FILES, "/fragment"):
            response = await web.get(DOWNLOADS + path)
            assert response.status_code == 404, path
            assert response.headers["cache-control"] == "no-store"
        assert (await web.get(API)).json()["published"] is False

        # One second past the instant, no restart: the same app publishes.
        lapp.clock.move_to(launch + timedelta(seconds=1))
        page = await web.get("/")
        assert page.status_code == 200
        html = page.text
        noun = "signataires" if counted > 1 else "signataire"
        assert "Lettre publiée le" in html
        banner = re.search(
            r"Lettre publiée le ([^<]+) avec\s+<span data-live-total>([^<]+)</span>", html
        )
        assert banner is not None
        assert banner.groups() == (long_date(launch), f"{counted} {noun}")
        assert 'id="countdown"' not in html
        info = (await web.get(API)).json()
        assert info["published"] is True and info["names_hidden"] is False

        # The list: by région (by name), then département; featured first; verified marks.
        listing = html[html.index('id="signataires-publies"') :]
        bretagne = listing.index("<h3>Bretagne</h3>")
        aura = listing.index("<h3>Auvergne-Rhône-Alpes</h3>")
        idf = listing.index("<h3>Île-de-France</h3>")
        assert aura < bretagne < idf
        # In Bretagne, the regional mandates first, then the départements.
        assert bretagne < listing.index("Mandats régionaux") < listing.index("Finistère (29)")
        rhone = listing[listing.index("Rhône (69)") : bretagne]
        assert rhone.index("Zoé Vedette") < rhone.index("Anne Lyonnaise") < rhone.index("Zola")
        lyon_line = rhone[rhone.index("Anne Lyonnaise") :].split("</li>")[0]
        assert "élu·e vérifié·e" in lyon_line
        assert "élu·e vérifié·e" not in rhone[rhone.index("Bruno Zola") :].split("</li>")[0]
        for hidden in ("Discret", "Attente", "Rejeté", "Retirée", "Suspect"):
            assert hidden not in html, hidden
        # Escaped, never markup.
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
        listed = 6

        # The fragment live.js fetches at the instant: the same parts, for their slots.
        fragment = await web.get(DOWNLOADS + "/fragment")
        assert fragment.status_code == 200
        assert fragment.headers["cache-control"] == "no-cache"
        assert fragment.headers["content-type"] == "text/html; charset=utf-8"
        gz = await web.get(DOWNLOADS + "/fragment", headers={"Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.text == fragment.text
        assert 'data-slot="publication"' in fragment.text
        assert 'data-slot="publication-liste"' in fragment.text
        assert "Anne Lyonnaise" in fragment.text and "Lettre publiée le" in fragment.text

        await check_downloads(lapp, web, counted, listed)
    finally:
        lapp.clock.reset()


async def check_downloads(
    lapp: PublicApp, web: httpx.AsyncClient, counted: int, listed: int
) -> None:
    pub = lapp.runtime.publication
    pub.pdf_interval = 0  # rebuilt at each change (a test does not wait 30 s)
    pdf = await web.get(DOWNLOADS + "/lettre-et-signataires.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{SLUG}.pdf"'
    assert pdf.content.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = " ".join(text.split())
    assert "Jouer collectif" in flat
    assert "Mesdames et Messieurs les élus" in flat  # the letter itself
    assert f"avec {counted} signataires" in flat
    assert f"{listed} élu·es ont accepté" in flat
    for name in ("Anne Lyonnaise", "Zoé Vedette", "Yann Député", "Rose Régionale"):
        assert name in flat, name
    assert "<script>alert(1)</script> =HYPERLINK(1)" in flat  # text, as typed
    assert "Discret" not in flat and "Suspect" not in flat
    assert flat.index("Auvergne-Rhône-Alpes") < flat.index("Bretagne") < flat.index("Île-de")

    # Cached: the same bytes and ETag, a 304 for a client that has them, no second build.
    builds = pub.builds.get("pdf", 0)
    again = await web.get(DOWNLOADS + "/lettre-et-signataires.pdf")
    assert again.content == pdf.content
    assert again.headers["etag"] == pdf.headers["etag"]
    not_modified = await web.get(
        DOWNLOADS + "/lettre-et-signataires.pdf", headers={"If-None-Match": pdf.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert pub.builds["pdf"] == builds

    # The counts per territory, as CSV (French spreadsheets) and JSON.
    response = await web.get(DOWNLOADS + "/signatures-par-territoire.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode()[1:]), delimiter=";"))
    assert rows[0][:5] == ["niveau", "code", "nom", "signatures", "élus vérifiés"]
    assert rows[0][-3:] == [  # issue 14: declared next to verified
        "mandats trouvés au RNE",
        "maires signataires déclarés",
        "part des maires signataires déclarés",
    ]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("région", "84")][2] == "Auvergne-Rhône-Alpes"
    assert int(by_key[("département", "69")][3]) >= 3
    assert int(by_key[("commune", "69123")][3]) >= 1
    assert sum(int(r[3]) for r in rows[1:] if r[0] == "région") == counted
    gz = await web.get(
        DOWNLOADS + "/signatures-par-territoire.csv", headers={"Accept-Encoding": "gzip"}
    )
    assert gz.headers["content-encoding"] == "gzip" and gz.content == response.content

    data = json.loads((await web.get(DOWNLOADS + "/signatures-par-territoire.json")).content)
    assert data["campaign"] == SLUG and data["total"] == counted
    assert len(data["departements"]) == len(lapp.runtime.index.all("departement"))
    dep = {t["code"]: t for t in data["departements"]}
    assert dep["69"]["count"] >= 3 and dep["29"]["count"] >= 1
    assert {t["code"] for t in data["communes"]} >= {"69123", "69266", "75056"}

    # The map, as SVG and PNG.
    svg = await web.get(DOWNLOADS + "/carte.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert 'data-code="69" data-value="' in svg.text
    assert "<script" not in svg.text and "<a " not in svg.text
    png = await web.get(DOWNLOADS + "/carte.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png.content[16:24])
    assert width == 1600 and height > 1000

    # A new signature: the counts files follow at once, the list and the PDF at the next read.
    await make_signature_in(lapp, given_name="Nouvelle", family_name="Arrivée", code="13055")
    await total_shown(lapp, counted + 1)
    json_after = json.loads((await web.get(DOWNLOADS + "/signatures-par-territoire.json")).content)
    assert json_after["total"] == counted + 1

    async def pdf_follows() -> bool:
        body = (await web.get(DOWNLOADS + "/lettre-et-signataires.pdf")).content
        words = " ".join(
            " ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages).split()
        )
        return "Nouvelle Arrivée" in words and f"avec {counted + 1} signataires" in words

    await eventually(pdf_follows, timeout=10, what="the PDF to list the new signatory")
    # Built again for the change (twice at most: the total may move a moment before the list).
    assert builds + 1 <= pub.builds["pdf"] <= builds + 2
    assert "Nouvelle Arrivée" in (await web.get("/")).text


async def make_signature_in(lapp: PublicApp, **fields: str) -> int:
    conn = await asyncpg.connect(lapp.dsn)
    try:
        return await make_signature(conn, **fields)  # type: ignore[arg-type]
    finally:
        await conn.close()


async def sign_form(web: httpx.AsyncClient) -> httpx.Response:
    page = await web.get("/")
    assert 'src="/signer/jeton"' in page.text
    await web.get("/signer/jeton")  # the form's image: its cookie
    return await post_signing(web, "")


async def post_signing(web: httpx.AsyncClient, csrf_token: str) -> httpx.Response:
    """The signing form, filled in, posted with this CSRF token."""
    return await web.post(
        "/signer",
        data={
            "given_name": "Clara",
            "family_name": "Tardive",
            "email": unique_email("tardive"),
            "mandate": "maire",
            "territory_code": "69123",
            "public": "true",
            "_csrf_token": csrf_token,
        },
    )


def sign_body() -> dict[str, object]:
    return {
        "given_name": "Clara",
        "family_name": "Tardive",
        "email": unique_email("tardive"),
        "mandate": "maire",
        "territory_code": "69123",
        "public": True,
    }


async def test_signing_goes_on_after_the_launch_then_closes_politely_at_the_closing_date(
    lapp: PublicApp, ldb: asyncpg.Connection, web: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    launch = now + timedelta(days=1)
    closing = launch + timedelta(days=30)
    await set_campaign(ldb, web, launch_at=launch, closing_at=closing)
    try:
        # Published and still open: the form, with until when.
        lapp.clock.move_to(launch + timedelta(hours=1))
        page = await web.get("/")
        assert "Lettre publiée le" in page.text
        assert 'action="/signer"' in page.text
        assert "Signatures ouvertes jusqu’au" in page.text
        assert (await sign_form(web)).status_code == 303
        assert (await web.post(API + "/signatures", json=sign_body())).status_code == 202
        assert (await web.get(API)).json()["signing_open"] is True

        # One second past the closing date: a polite message instead of the form, a 409.
        lapp.clock.move_to(closing + timedelta(seconds=1))
        page = await web.get("/")
        assert page.status_code == 200
        assert 'action="/signer"' not in page.text
        assert "La signature de cette lettre est close depuis le" in page.text
        assert "Merci à toutes celles et ceux qui l’ont signée." in page.text
        assert "Lettre publiée le" in page.text  # still published
        posted = await sign_form_closed(web)
        assert posted.status_code == 409
        assert "La signature de cette lettre est close depuis le" in posted.text
        answer = await web.post(API + "/signatures", json=sign_body())
        assert answer.status_code == 409
        assert answer.json()["detail"].startswith("La signature de cette lettre est close depuis")
        info = (await web.get(API)).json()
        assert info["signing_open"] is False and info["published"] is True

        # Back before the closing date, the status « Close » of the back office closes it too.
        lapp.clock.move_to(launch + timedelta(hours=2))
        await set_campaign(ldb, web, launch_at=launch, closing_at=closing, status="closed")
        answer = await web.post(API + "/signatures", json=sign_body())
        assert answer.status_code == 409
        assert answer.json()["detail"] == (
            "La signature de cette lettre est close. "
            "Merci à toutes celles et ceux qui l’ont signée."
        )
        assert 'action="/signer"' not in (await web.get("/")).text
    finally:
        lapp.clock.reset()
        await set_campaign(ldb, web, launch_at=launch, closing_at=None)


async def sign_form_closed(web: httpx.AsyncClient) -> httpx.Response:
    """The form as a visitor had it open before the closing date, posted after it."""
    assert (await web.get("/signer/jeton")).status_code == 200  # the form's cookie
    return await post_signing(web, "")


async def test_organisers_set_the_closing_date_in_the_campaign_settings(
    lapp: PublicApp, ldb: asyncpg.Connection, web: httpx.AsyncClient
) -> None:
    before = await ldb.fetchrow(
        "SELECT c.title, c.launch_at, c.goal, c.status, v.body FROM campaigns c "
        "JOIN letter_versions v ON v.campaign_id = c.id AND v.version = c.current_version "
        "WHERE c.slug = $1",
        SLUG,
    )
    async with logged_in(lapp.base, ldb, "admin") as admin:
        page = await admin.get("/admin/campagne")
        assert 'name="closing_at"' in page.text
        form = {
            "title": before["title"],
            "addressees": "",
            "summary": "",
            "launch_at": "2027-07-08T09:00",
            "closing_at": "2027-07-01T09:00",
            "goal": str(before["goal"]),
            "status": before["status"],
            "body": before["body"],
            "action": "enregistrer",
            "_csrf_token": csrf_of(page.text),
        }
        bad = await admin.post("/admin/campagne", data=form)
        assert bad.status_code == 422
        assert "La clôture doit venir après la publication." in bad.text
        bad = await admin.post("/admin/campagne", data={**form, "closing_at": "bientôt"})
        assert bad.status_code == 422
        saved = await admin.post("/admin/campagne", data={**form, "closing_at": "2027-12-31T18:00"})
        assert saved.status_code == 303
        stored = await ldb.fetchval("SELECT closing_at FROM campaigns WHERE slug = $1", SLUG)
        assert stored == datetime(2027, 12, 31, 17, 0, tzinfo=UTC)  # 18:00 in Paris
        page = await admin.get("/admin/campagne")
        assert 'value="2027-12-31T18:00"' in page.text
        entry = await ldb.fetchrow(
            "SELECT after->>'clôture' AS closing FROM audit_log "
            "WHERE action = 'campaign.update' ORDER BY id DESC LIMIT 1"
        )
        assert entry["closing"] == "2027-12-31T18:00:00+01:00"

        async def known() -> bool:
            info = (await web.get(API, headers={"Cache-Control": "no-cache"})).json()
            return bool(info["closing_at"] == "2027-12-31T17:00:00Z")

        await eventually(known, what="the closing date to reach the API")
        # Emptied: no closing date.
        saved = await admin.post("/admin/campagne", data={**form, "closing_at": ""})
        assert saved.status_code == 303
        assert await ldb.fetchval("SELECT closing_at FROM campaigns WHERE slug = $1", SLUG) is None
    await ldb.execute(
        "UPDATE campaigns SET launch_at = $2 WHERE slug = $1", SLUG, before["launch_at"]
    )
