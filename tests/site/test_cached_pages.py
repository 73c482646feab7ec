"""The public pages served like the counts (issue 15 §1, campaign/site/cached_pages.py): the same
bytes for every visitor, rebuilt when what they show changes, gzipped, validated by ETag; and the
sign form, whose anti-forgery and timing checks left the page for a cookie."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from campaign.site.pages import FORM_COOKIE
from tests.support.app import unique_email
from tests.support.mail import Mailbox
from tests.support.public import PublicApp, eventually, make_signature, public_app, set_embargo
from tests.support.signing import valid_form

PAGES = ["/", "/carte", "/signataires", "/territoires/region/84", "/territoires/departement/69"]


@pytest.fixture(scope="module")
async def papp(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    async with public_app(pg_server, "cached_pages", mailbox.port) as app:  # type: ignore[attr-defined]
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


async def raw_get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, bytes]:
    """The answer and its body as sent (gzip left compressed)."""
    async with client.stream("GET", path, headers=headers or {}) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_is_the_same_bytes_for_every_visitor_with_its_validators(
    papp: PublicApp, path: str
) -> None:
    async with (
        httpx.AsyncClient(base_url=papp.base, timeout=10) as one,
        httpx.AsyncClient(base_url=papp.base, timeout=10, cookies={"x": "y"}) as other,
    ):
        first, plain = await raw_get(one, path, {"Accept-Encoding": "identity"})
        second, again = await raw_get(other, path, {"Accept-Encoding": "identity"})
        assert first.status_code == second.status_code == 200
        assert plain == again  # two visitors, the same bytes
        assert first.headers["etag"] == second.headers["etag"]
        assert first.headers["content-type"] == "text/html; charset=utf-8"
        control = first.headers["cache-control"]
        assert control.startswith("public, ") and "stale-while-revalidate=" in control
        assert re.search(r"\bmax-age=\d+", control)
        assert first.headers["vary"] == "Accept-Encoding"
        assert "set-cookie" not in first.headers and "set-cookie" not in second.headers
        # The security headers of every page, unchanged.
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
        assert first.headers["x-frame-options"] == "DENY"
        assert b"_csrf_token" not in plain and b'name="form_ts"' not in plain

        zipped, compressed = await raw_get(one, path, {"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["etag"] == first.headers["etag"]
        assert gzip.decompress(compressed) == plain
        assert len(compressed) < len(plain)

        # The browser's copy still holds: an empty 304.
        etag = first.headers["etag"]
        for _ in range(2):  # the app's 304, then the one replayed (campaign/web/hotreads.py)
            kept, body = await raw_get(one, path, {"If-None-Match": etag})
            assert kept.status_code == 304 and body == b""
            assert kept.headers["etag"] == etag
            for name in ("cache-control", "vary", "content-security-policy", "x-frame-options"):
                assert kept.headers[name] == first.headers[name]
            assert "content-encoding" not in kept.headers
        listed, _ = await raw_get(one, path, {"If-None-Match": f'"other", W/{etag}'})
        assert listed.status_code == 304
        stale, body = await raw_get(
            one, path, {"If-None-Match": '"stale"', "Accept-Encoding": "identity"}
        )
        assert stale.status_code == 200 and body == plain
        head = await one.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == etag


async def test_the_etag_follows_the_counts_and_the_list_and_nothing_else(
    papp: PublicApp, web: httpx.AsyncClient, pdb: asyncpg.Connection
) -> None:
    await set_embargo(pdb, web, embargo=False, launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC))
    etags = {p: (await web.get(p)).headers["etag"] for p in ("/", "/signataires")}
    builds = papp.runtime.pages.builds
    # Nothing changed: the same pages, not built again.
    for _ in range(3):
        for path, etag in etags.items():
            assert (await web.get(path)).headers["etag"] == etag
    assert papp.runtime.pages.builds == builds
    # A pending signature changes nothing that is shown.
    await make_signature(pdb, status="pending", given_name="Paul", family_name="Attente")
    for path, etag in etags.items():
        assert (await web.get(path)).headers["etag"] == etag

    # A confirmed, public signature: the counts move and the list shows the new name.
    await make_signature(pdb, given_name="Zoé", family_name="Nouvelle", code="44109")

    async def shown() -> bool:
        pages = [await web.get(p) for p in etags]
        return all(
            r.headers["etag"] != etags[p] and "Nouvelle" in r.text
            for p, r in zip(etags, pages, strict=True)
        )

    await eventually(shown, timeout=10, what="the pages to show the new signature")


async def test_the_campaigns_settings_and_the_launch_instant_rebuild_at_once(
    papp: PublicApp, web: httpx.AsyncClient, pdb: asyncpg.Connection
) -> None:
    launch = datetime(2027, 7, 8, 7, 0, 30, tzinfo=UTC)
    try:
        await set_embargo(pdb, web, embargo=True, launch_at=launch)
        await make_signature(pdb, given_name="Inès", family_name="Sousembargo", code="75056")
        papp.clock.move_to(launch - timedelta(seconds=1))
        assert "Sousembargo" not in (await web.get("/signataires")).text
        papp.clock.move_to(launch)  # within the same minute, less than a second later
        assert "Sousembargo" in (await web.get("/signataires")).text
    finally:
        papp.clock.reset()
        await set_embargo(pdb, web, embargo=False, launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC))


async def test_a_query_string_is_answered_for_its_request_only(
    papp: PublicApp, web: httpx.AsyncClient
) -> None:
    page = await web.get("/", params={"ref": "relais-69"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "etag" not in page.headers


# == the sign form, with its cookie =============================================================


async def test_the_form_image_sets_the_cookie_and_the_form_then_signs(
    web: httpx.AsyncClient,
) -> None:
    page = (await web.get("/")).text
    assert 'src="/signer/jeton"' in page
    pixel = await web.get("/signer/jeton")
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert pixel.headers["cache-control"] == "no-store"
    cookie = pixel.headers["set-cookie"]
    assert cookie.startswith(f"{FORM_COOKIE}=")
    assert "Path=/signer" in cookie and "samesite=strict" in cookie.lower() and "HttpOnly" in cookie
    signed = await web.post("/signer", data=valid_form(email=unique_email("cookie")))
    assert signed.status_code == 303 and signed.headers["location"] == "/merci"


async def test_a_post_without_the_cookie_gets_the_form_back_then_signs(
    papp: PublicApp,
) -> None:
    """A browser that loaded no image (a text browser, a page kept from before): the form comes
    back as typed, in French, with the cookie; sent again, it signs."""
    form = valid_form(email=unique_email("sanscookie"), given_name="Léon")
    async with httpx.AsyncClient(base_url=papp.base, timeout=10) as visitor:
        back = await visitor.post("/signer", data=form)
        assert back.status_code == 403
        assert back.headers["content-type"].startswith("text/html")
        assert "cookie technique" in back.text and "Traceback" not in back.text
        assert 'value="Léon"' in back.text
        assert visitor.cookies.get(FORM_COOKIE)
        again = await visitor.post("/signer", data=form)
        assert again.status_code == 303 and again.headers["location"] == "/merci"


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
async def test_a_cross_site_post_is_refused(
    web: httpx.AsyncClient, pdb: asyncpg.Connection, headers: dict[str, str]
) -> None:
    await web.get("/signer/jeton")  # even with the cookie (a browser would not send it)
    address = unique_email("intersite")
    refused = await web.post("/signer", data=valid_form(email=address), headers=headers)
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text and "Traceback" not in refused.text
    assert await pdb.fetchval("SELECT count(*) FROM signatures WHERE email = $1", address) == 0


async def test_a_same_origin_post_goes_through(papp: PublicApp, web: httpx.AsyncClient) -> None:
    await web.get("/signer/jeton")
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": papp.base}):
        signed = await web.post(
            "/signer", data=valid_form(email=unique_email("memesite")), headers=headers
        )
        assert signed.status_code == 303, signed.text[:300]


async def test_a_forged_cookie_is_no_cookie(papp: PublicApp) -> None:
    async with httpx.AsyncClient(
        base_url=papp.base, timeout=10, cookies={FORM_COOKIE: "1700000000.forged"}
    ) as forger:
        back = await forger.post("/signer", data=valid_form(email=unique_email("faux")))
        assert back.status_code == 403 and "cookie technique" in back.text
