"""The public face over real HTTP, on an app and a database of their own: the map on the pages,
territory pages, the public list with its filters, the embargo (opened by moving the clock), the
widget, CORS and cache headers on the API."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import unescape

import asyncpg
import httpx
import pytest

from tests.support.mail import Mailbox
from tests.support.public import (
    SLUG,
    PublicApp,
    eventually,
    make_signature,
    public_app,
    set_embargo,
)

API = f"/api/v1/campaigns/{SLUG}"


@pytest.fixture(scope="module")
async def papp(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    async with public_app(pg_server, "public_face", mailbox.port) as app:  # type: ignore[attr-defined]
        conn = await asyncpg.connect(app.dsn)
        try:
            # Public and confirmed: listed. Not public, or pending: never listed.
            await make_signature(conn, given_name="Anne", family_name="Martin", code="69123")
            await make_signature(
                conn,
                given_name="Bernard",
                family_name="Petit",
                mandate="conseiller_municipal",
                code="13055",
            )
            await make_signature(
                conn, given_name="Claire", family_name="Discrète", mandate="adjoint", public=False
            )
            await make_signature(conn, given_name="Paul", family_name="Attente", status="pending")
            featured = await make_signature(
                conn,
                given_name="Denise",
                family_name="Avant",
                mandate="conseiller_departemental",
                level="departement",
                code="35",
            )
            await conn.execute("UPDATE signatures SET featured = true WHERE id = $1", featured)
            # Confirmed but suspect (campaign/abuse.py): neither counted nor listed.
            suspect = await make_signature(
                conn, given_name="Sylvie", family_name="Suspecte", status="pending"
            )
            await conn.execute(
                "UPDATE signatures SET status = 'confirmed', confirmed_at = now(), suspect = true "
                "WHERE id = $1",
                suspect,
            )
        finally:
            await conn.close()
        async with httpx.AsyncClient(base_url=app.base, timeout=10) as web:

            async def counted() -> bool:
                return bool((await web.get(API)).json()["total"] == 4)

            await eventually(counted, what="the four confirmed signatures to be counted")
        yield app


@pytest.fixture
async def web(papp: PublicApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=papp.base, timeout=10) as c:
        yield c


@pytest.fixture
async def pdb(papp: PublicApp) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(papp.dsn)
    yield conn
    await conn.close()


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# == the map and the pages =======================================================================


async def test_home_page_shows_the_map_the_table_and_the_newest_signatories(
    web: httpx.AsyncClient,
) -> None:
    page = await web.get("/")
    assert page.status_code == 200
    html = page.text
    # The map is inline SVG, drawn on the server: 101 départements (Paris twice, in the zoom).
    svg = re.search(r'<div class="carte-wrap" data-measure="count"[^>]*>(<svg.*?</svg>)', html)
    assert svg, "no map on the home page"
    codes = re.findall(r'<path d="[^"]+" data-level="departement" data-code="([^"]+)"', svg[1])
    assert {"2A", "2B", "971", "972", "973", "974", "976", "69", "13"} <= set(codes)
    assert len(set(codes)) == 101
    # Rhône and Bouches-du-Rhône have signatures: coloured; the Creuse has none: neutral.
    rhone = re.search(
        r'data-code="69" data-value="2" data-label="Rhône" fill="(#[0-9a-f]{6})"', html
    )
    creuse = re.search(
        r'data-code="23" data-value="0" data-label="Creuse" fill="(#[0-9a-f]{6})"', html
    )
    assert rhone and creuse and rhone[1] != creuse[1] == "#e8e8e8"
    assert "Signatures confirmées" in svg[1]  # the legend
    assert "IGN, INSEE (Licence Ouverte 2.0)" in svg[1]  # the attribution
    # The accessible alternative: the same figures in tables, linked from the map's section.
    assert 'href="#territoires-titre"' in html
    assert re.search(
        r'<a href="/territoires/departement/69">69 · Rhône</a></th><td class="num" '
        r'data-level="departement" data-code="69"[^>]*>2</td>',
        html,
    )
    # The newest public signatories; never a name that did not consent, nor a pending one.
    latest = html[html.index('id="derniers"') : html.index("Tous les signataires")]
    assert "Anne Martin" in latest and "Bernard Petit" in latest and "Denise Avant" in latest
    assert "Discrète" not in html and "Attente" not in html and "Suspecte" not in html


async def test_map_page_by_region_and_by_share_of_maires_with_its_table(
    web: httpx.AsyncClient,
) -> None:
    page = await web.get("/carte", params={"niveau": "region"})
    assert page.status_code == 200
    assert re.search(r'data-level="region" data-code="84" data-value="2"', page.text)
    assert 'data-level="region" data-code="93" data-value="1"' in page.text  # Marseille (PACA)
    assert re.search(
        r'<td class="num"[^>]* data-level="region" data-code="84"[^>]*>2</td>', page.text
    )
    coverage = await web.get("/carte", params={"mesure": "maires"})
    assert coverage.status_code == 200
    assert 'data-measure="coverage"' in coverage.text
    # Issue 14: the maires who signed, declared as well as verified, on the map and its table.
    declared = await web.get("/carte", params={"mesure": "maires_declared"})
    assert declared.status_code == 200
    assert 'data-measure="coverage_declared"' in declared.text
    assert "Part des maires signataires déclarés par département" in unescape(declared.text)
    for page_text in (coverage.text, declared.text):
        assert re.search(r'data-coverage-declared="departement:69">[^<]+<', page_text)
        assert re.search(r'data-coverage="departement:69">[^<]+<', page_text)
        assert "Maires signataires déclarés" in page_text
        assert "Maires signataires vérifiés" in page_text
    home = (await web.get("/")).text
    assert re.search(r'data-coverage-declared="departement:69">[^<]+<', home)
    for params, name in (({"niveau": "commune"}, "niveau"), ({"mesure": "x"}, "mesure")):
        bad = await web.get("/carte", params=params)
        assert bad.status_code == 400
        assert f"« {name} »" in unescape(bad.text)


async def test_territory_pages_show_counts_communes_and_signatories(
    web: httpx.AsyncClient,
) -> None:
    page = await web.get("/territoires/region/84")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Auvergne-Rhône-Alpes" in text
    assert "Départements de la région" in text and "Rhône (69)" in text
    assert re.search(
        r'<th scope="row">Lyon \(69\)</th>\s*<td class="num"[^>]* data-level="commune" '
        r'data-code="69123"[^>]*>2</td>',
        page.text,
    )
    assert "Anne Martin" in text and "Bernard Petit" not in text and "Discrète" not in text
    assert 'href="/signataires?region=84"' in page.text
    dep = await web.get("/territoires/departement/13")
    assert dep.status_code == 200
    assert "Marseille (13)" in text_of(dep.text) and "Bernard Petit" in text_of(dep.text)
    assert 'href="/territoires/region/93"' in dep.text  # up to its région
    for path in ("/territoires/departement/99", "/territoires/region/69", "/territoires/commune/1"):
        missing = await web.get(path)
        assert missing.status_code == 404, path
        assert "Traceback" not in missing.text


# == the public list ==============================================================================


async def test_public_list_filters_by_region_departement_mandate_and_text(
    web: httpx.AsyncClient,
) -> None:
    async def names(**params: str) -> list[str]:
        page = await web.get("/signataires", params=params)
        assert page.status_code == 200, page.text[:300]
        return re.findall(r"<strong>([^<]+)</strong>", page.text.split('id="liste"', 1)[-1])

    everyone = await names()
    assert everyone[0] == "Denise Avant"  # featured first
    assert set(everyone) == {"Denise Avant", "Anne Martin", "Bernard Petit"}
    assert await names(region="84") == ["Anne Martin"]
    assert await names(departement="13") == ["Bernard Petit"]
    assert await names(departement="35") == ["Denise Avant"]  # a départemental mandate
    assert await names(mandat="conseiller_municipal") == ["Bernard Petit"]
    assert await names(q="marseille") == ["Bernard Petit"]  # by commune
    assert await names(q="MARTIN") == ["Anne Martin"]
    assert await names(region="84", mandat="adjoint") == []
    for field, value in (("region", "99"), ("departement", "20"), ("mandat", "roi")):
        bad = await web.get("/signataires", params={field: value})
        assert bad.status_code == 400
        assert f"« {field} »" in unescape(bad.text)


async def test_signatories_api_same_filters_paginated_and_documented(
    web: httpx.AsyncClient,
) -> None:
    page = (await web.get(f"{API}/signatories", params={"limit": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["embargo"] is False
    assert page["items"][0]["family_name"] == "Avant" and page["items"][0]["featured"] is True
    second = (await web.get(f"{API}/signatories", params={"limit": 2, "page": 2})).json()
    assert [i["family_name"] for i in second["items"]] == ["Martin"] or len(second["items"]) == 1
    lyon = (await web.get(f"{API}/signatories", params={"region": "84"})).json()
    assert [i["territory_name"] for i in lyon["items"]] == ["Lyon"]
    assert (await web.get(f"{API}/signatories", params={"mandate": "roi"})).status_code == 400
    schema = (await web.get("/schema/openapi.json")).json()
    op = schema["paths"]["/api/v1/campaigns/{slug}/signatories"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {
        "region",
        "departement",
        "mandate",
        "q",
        "page",
        "limit",
    }
    assert {"200", "304"} <= set(op["responses"])
    for path in ("/signatories/latest", "/history.json", "/history.csv"):
        assert "/api/v1/campaigns/{slug}" + path in schema["paths"]


# == the embargo ==================================================================================


async def test_embargo_hides_names_everywhere_and_opens_at_the_launch_instant(
    papp: PublicApp, web: httpx.AsyncClient, pdb: asyncpg.Connection
) -> None:
    original = await pdb.fetchrow("SELECT embargo, launch_at FROM campaigns WHERE slug = $1", SLUG)
    assert original is not None
    launch = (papp.clock.now() + timedelta(hours=3)).replace(microsecond=0)
    await set_embargo(pdb, web, embargo=True, launch_at=launch)
    try:
        names = ("Anne Martin", "Bernard Petit", "Denise Avant")
        pages = ["/", "/signataires", "/territoires/region/84", "/territoires/departement/13"]
        for path in pages:
            html = (await web.get(path)).text
            assert not any(n in html for n in names), path
        assert "seront publiés le" in text_of((await web.get("/signataires")).text)
        # The API: no name, and no count that a search could turn into a name.
        for params in ({}, {"q": "Martin"}, {"region": "84"}):
            hidden = await web.get(f"{API}/signatories", params=params)
            body = hidden.json()
            assert body["items"] == [] and body["total"] == 0 and body["embargo"] is True
            assert body["names_public_at"].startswith(launch.strftime("%Y-%m-%dT%H:%M"))
            max_age = int(re.search(r"max-age=(\d+)", hidden.headers["cache-control"])[1])  # type: ignore[index]
            assert max_age <= 10
        latest = (await web.get(f"{API}/signatories/latest")).json()
        assert latest == {
            "embargo": True,
            "names_public_at": latest["names_public_at"],
            "items": [],
        }
        assert (await web.get(API)).json()["names_hidden"] is True

        # Counts stay live under the embargo.
        before = (await web.get(API)).json()["total"]
        await make_signature(pdb, given_name="Émile", family_name="Embargo", code="75056")

        async def counted() -> bool:
            return bool((await web.get(API)).json()["total"] == before + 1)

        await eventually(counted, what="the count to move under the embargo")
        assert "Embargo" not in (await web.get("/")).text

        # One second before the launch, still hidden; at the launch instant, open: no restart,
        # no manual step, the same process.
        papp.clock.move_to(launch - timedelta(seconds=1))
        assert (await web.get(f"{API}/signatories")).json()["embargo"] is True
        papp.clock.move_to(launch)
        opened = (await web.get(f"{API}/signatories")).json()
        assert opened["embargo"] is False and opened["total"] == 4
        assert "Émile Embargo" in (await web.get("/signataires")).text
        assert "Anne Martin" in (await web.get("/territoires/region/84")).text
        assert (await web.get(f"{API}/signatories/latest")).json()["embargo"] is False

        async def newest_first() -> bool:  # read again at most once a second
            latest = (await web.get(f"{API}/signatories/latest")).json()
            return bool(latest["items"][0]["family_name"] == "Embargo")

        await eventually(newest_first, what="the newest signatory to be listed first")
        assert "Émile Embargo" in (await web.get("/")).text
        assert (await web.get(API)).json()["names_hidden"] is False
    finally:
        papp.clock.reset()
        await set_embargo(pdb, web, embargo=original["embargo"], launch_at=original["launch_at"])


async def test_without_embargo_names_are_public_before_the_launch(
    papp: PublicApp, web: httpx.AsyncClient
) -> None:
    info = (await web.get(API)).json()
    assert info["names_hidden"] is False  # the demo campaign: embargo off
    assert (await web.get(f"{API}/signatories")).json()["total"] >= 3


# == the widget ===================================================================================


async def test_widget_is_light_live_ready_and_cacheable(
    web: httpx.AsyncClient,
) -> None:
    widget = await web.get("/widget", headers={"Accept-Encoding": "gzip"})
    assert widget.status_code == 200
    assert widget.headers["content-encoding"] == "gzip"
    html = widget.text
    assert 'data-campaign="jouer-collectif"' in html and 'id="total"' in html
    assert re.search(r'data-level="region" data-code="84" data-value="2"', html)
    assert "<script" in html and "/static/widget.js" in html
    # Every link leaves the frame (our other pages refuse to be framed).
    assert all('target="_blank"' in a for a in re.findall(r"<a [^>]*>", html))
    # Transferred: the page gzipped by the app, its script and style as served (not gzipped).
    transferred = int(widget.headers["content-length"])
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert set(assets) == {"/static/widget.js", "/static/widget.css"}
    for asset in assets:
        transferred += len((await web.get(asset)).content)
    assert transferred < 20_000, transferred
    # Cacheable, revalidated with a 304.
    assert "max-age=" in widget.headers["cache-control"]
    again = await web.get("/widget", headers={"If-None-Match": widget.headers["etag"]})
    assert again.status_code == 304
    no_map = await web.get("/widget", params={"carte": "aucune"})
    assert no_map.status_code == 200 and "<svg" not in no_map.text
    bad = await web.get("/widget", params={"carte": "monde"})
    assert bad.status_code == 400 and "« carte »" in unescape(bad.text)


async def test_only_the_widget_may_be_framed(web: httpx.AsyncClient) -> None:
    """The headers are campaign/security.py's; the widget is on its list, nothing else here."""
    widget = await web.get("/widget")
    assert "x-frame-options" not in widget.headers
    assert "frame-ancestors *" in widget.headers["content-security-policy"]
    for path in ("/", "/signataires", "/carte", "/integrer", "/territoires/region/84", API):
        response = await web.get(path)
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


async def test_embed_page_gives_the_snippet_to_copy(
    web: httpx.AsyncClient, papp: PublicApp
) -> None:
    page = await web.get("/integrer")
    assert page.status_code == 200
    assert f"&lt;iframe src=&#34;{papp.base}/widget&#34;" in page.text or (
        f'&lt;iframe src="{papp.base}/widget"' in page.text
    )
    assert '<iframe class="apercu" src="/widget"' in page.text


# == CORS and caches on the API ===================================================================


READS = [
    API,
    f"{API}/counts?level=departement",
    f"{API}/signatories?region=84",
    f"{API}/signatories/latest",
    f"{API}/history.json",
    f"{API}/history.csv",
    "/api/v1/territories?q=lyon",
]


@pytest.mark.parametrize("path", READS)
async def test_api_reads_send_cors_and_cache_headers_and_answer_304(
    web: httpx.AsyncClient, path: str
) -> None:
    first = await web.get(path, headers={"Origin": "https://partenaire.example"})
    assert first.status_code == 200, first.text[:200]
    assert first.headers["access-control-allow-origin"] == "*"
    assert "etag" in first.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in first.headers
    cache = first.headers["cache-control"]
    assert re.search(r"\bpublic\b", cache)
    assert re.search(r"\bmax-age=\d+", cache) and re.search(r"stale-while-revalidate=\d+", cache)
    etag = first.headers["etag"]
    second = await web.get(path, headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.content == b""
    assert second.headers["etag"] == etag
    weak = await web.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    changed = await web.get(path, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


async def test_cors_preflight_allows_reads_only(web: httpx.AsyncClient) -> None:
    preflight = await web.options(
        f"{API}/counts",
        headers={
            "Origin": "https://partenaire.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "*"
    methods = {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "HEAD", "OPTIONS"}
    assert "if-none-match" in preflight.headers["access-control-allow-headers"].lower()
    # Signing is not a read: no CORS header, whatever the Origin.
    post = await web.post(
        f"{API}/signatures", json={}, headers={"Origin": "https://partenaire.example"}
    )
    assert post.status_code == 422
    assert "access-control-allow-origin" not in post.headers
    page = await web.get("/", headers={"Origin": "https://partenaire.example"})
    assert "access-control-allow-origin" not in page.headers


async def test_history_files_are_served_gzipped_to_who_asks(web: httpx.AsyncClient) -> None:
    raw = await web.get(f"{API}/history.csv", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert raw.headers["content-type"].startswith("text/csv")
    assert raw.text.startswith("heure,releve,total,verifiees,")
    zipped = await web.get(f"{API}/history.csv", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == raw.content  # httpx decodes it
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


async def test_many_readers_of_the_newest_signatories_cost_one_query(
    papp: PublicApp, web: httpx.AsyncClient
) -> None:
    latest = papp.runtime.latest
    campaign = papp.runtime.campaigns.get(SLUG)
    assert campaign is not None
    await latest.get(campaign.id)
    reads = latest.reads
    responses = await asyncio.gather(*(web.get(f"{API}/signatories/latest") for _ in range(50)))
    assert all(r.status_code == 200 for r in responses)
    assert latest.reads == reads  # nothing changed: all from memory


async def test_history_published_and_charted_on_the_home_page(
    papp: PublicApp, web: httpx.AsyncClient, pdb: asyncpg.Connection
) -> None:
    from campaign.counts.history import record_hour

    start = datetime(2027, 5, 2, 6, tzinfo=UTC)
    for hours in (0, 1, 2):
        await record_hour(pdb, start + timedelta(hours=hours))
    papp.runtime.history.forget()  # otherwise read again within a minute
    data = (await web.get(f"{API}/history.json")).json()
    recorded = [h for h in data["hours"] if h["hour"].startswith("2027-05-02")]
    assert [h["hour"] for h in recorded] == [
        "2027-05-02T06:00:00Z",
        "2027-05-02T07:00:00Z",
        "2027-05-02T08:00:00Z",
    ]
    total = (await web.get(API)).json()["total"]
    assert all(h["total"] == total for h in recorded)
    assert recorded[0]["regions"]["84"] >= 2
    csv_text = (await web.get(f"{API}/history.csv")).text
    assert "2027-05-02T08:00:00+02:00" in csv_text
    home = (await web.get("/")).text
    assert 'class="historique"' in home and "Évolution du nombre de signatures" in home
    assert f'href="{API}/history.csv"' in home


async def test_the_newest_signatories_are_never_older_than_the_counts_seen(
    papp: PublicApp, web: httpx.AsyncClient, pdb: asyncpg.Connection
) -> None:
    """Browsers ask right after the total moved: the list must already have the new name,
    even when the last read is under a second old (the API then waits for the next read)."""
    campaign = papp.runtime.campaigns.get(SLUG)
    assert campaign is not None
    before = (await web.get(API)).json()["total"]
    await papp.runtime.latest.get(campaign.id)  # a read just now
    await make_signature(pdb, given_name="Noé", family_name="Toutfrais", code="44109")

    async def counted() -> bool:
        return bool((await web.get(API)).json()["total"] == before + 1)

    await eventually(counted, what="the new signature to be counted")
    latest = (await web.get(f"{API}/signatories/latest")).json()
    assert latest["items"][0]["family_name"] == "Toutfrais"
