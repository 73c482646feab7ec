"""The sign form without JavaScript, over real HTTP: what it says when the territory or the mandate
is wrong, the choices it offers, arrondissements' postal codes; the thank-you page that repeats
the address once and offers to share; the share image."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import asyncpg
import httpx
import pytest
from PIL import Image

from campaign.core.settings import load_settings
from campaign.publication.files import svg_png
from campaign.site.share import address_cookie, read_address, share_svg
from tests.support.app import unique_email
from tests.support.signing import csrf_token, valid_form

RADIO = re.compile(r'<input type="radio" id="choix-commune-(\w+)" name="territory_choice"')


async def post_form(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    return await client.post("/signer", data={**data, "_csrf_token": await csrf_token(client)})


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no #{element_id}"
    return unescape(found.group(1)).strip()


async def signed_code(db: asyncpg.Connection, address: str) -> str:
    code: str = await db.fetchval(
        "SELECT territory_code FROM signatures WHERE email = $1", address.lower()
    )
    return code


async def test_the_start_of_a_name_comes_back_with_its_choices(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    form = valid_form(territory_code="saint-eti", ref="")
    page = await post_form(client, form)
    assert page.status_code == 422
    assert text_of(page.text, "e-territory_code") == (
        "Aucune commune ne s’appelle exactement « saint-eti » : choisissez la vôtre parmi les "
        "suggestions ci-dessous, ou complétez le nom."
    )
    codes = RADIO.findall(page.text)
    assert len(codes) == 8 and codes[0] == "42218"  # Saint-Étienne first, as the autocomplete
    assert "Lequel de ces territoires est le vôtre" in page.text
    assert 'value="saint-eti"' in page.text  # what was typed stays
    # The form alone, its summary focused (no fragment in the action: it would cancel autofocus).
    assert 'id="erreurs" aria-labelledby="erreurs-titre" autofocus' in page.text
    assert 'action="/signer"' in page.text and "Signatures par territoire" not in page.text
    chosen = await post_form(client, {**form, "territory_choice": codes[2]})
    assert chosen.status_code == 303, chosen.text[:2000]
    assert await signed_code(db, form["email"]) == codes[2]


async def test_a_missing_mandate_is_the_error_and_the_territory_waits(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    form = valid_form(territory_code="Saint-Étienne (42)", ref="")
    del form["mandate"]
    page = await post_form(client, form)
    assert page.status_code == 422
    assert text_of(page.text, "e-mandate") == "Choisissez votre mandat."
    assert 'id="e-territory_code"' not in page.text and "Territoire inconnu" not in page.text
    assert 'value="Saint-Étienne (42)"' in page.text
    signed = await post_form(client, {**form, "mandate": "maire"})
    assert signed.status_code == 303
    assert await signed_code(db, form["email"]) == "42218"


@pytest.mark.parametrize(
    ("postal", "commune"), [("13001", "13055"), ("69001", "69123"), ("75116", "75056")]
)
async def test_an_arrondissement_postal_code_is_its_commune(
    client: httpx.AsyncClient, db: asyncpg.Connection, postal: str, commune: str
) -> None:
    form = valid_form(territory_code=postal, ref="")
    assert (await post_form(client, form)).status_code == 303
    assert await signed_code(db, form["email"]) == commune


async def test_a_shared_postal_code_is_a_choice(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    form = valid_form(territory_code="01400", ref="")
    page = await post_form(client, form)
    assert page.status_code == 422
    assert text_of(page.text, "e-territory_code").startswith(
        "Plusieurs communes correspondent à « 01400 »"
    )
    codes = RADIO.findall(page.text)
    assert len(codes) > 1
    assert (await post_form(client, {**form, "territory_choice": codes[-1]})).status_code == 303
    assert await signed_code(db, form["email"]) == codes[-1]
    # 42100: Saint-Étienne's postal code, La Gimond's INSEE code; the radio's code is the INSEE one.
    form = valid_form(territory_code="42100", ref="")
    page = await post_form(client, form)
    assert set(RADIO.findall(page.text)) == {"42218", "42100"}
    assert (await post_form(client, {**form, "territory_choice": "42100"})).status_code == 303
    assert await signed_code(db, form["email"]) == "42100"


async def test_the_thank_you_page_shows_the_address_once(server: str) -> None:
    address = unique_email("merci")
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        signed = await post_form(client, valid_form(email=address.upper(), ref=""))
        assert signed.status_code == 303 and signed.headers["location"] == "/merci"
        cookie = signed.headers["set-cookie"]
        assert address.lower() not in cookie.lower()
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/merci", "Max-Age=600"):
            assert flag.lower() in cookie.lower(), cookie
        thanks = await client.get("/merci")
        assert thanks.status_code == 200 and thanks.headers["cache-control"] == "no-store"
        assert thanks.text.count(address) == 1
        assert "Ce n’est pas la bonne adresse" in thanks.text
        assert 'href="/#signer">Signez à nouveau avec la bonne</a>' in thanks.text
        assert "adresse-saisie=" in thanks.headers["set-cookie"]  # cleared
        again = await client.get("/merci")
        assert address not in again.text and "Ce n’est pas la bonne adresse" not in again.text
    # A cookie made up or altered shows nothing.
    async with httpx.AsyncClient(base_url=server, timeout=10) as stranger:
        forged = signed.cookies["adresse-saisie"].replace(".", ".1", 1)
        page = await stranger.get("/merci", headers={"Cookie": f"adresse-saisie={forged}"})
        assert page.status_code == 200 and address not in page.text
        odd = await stranger.get("/merci", headers={"Cookie": "adresse-saisie=%C3%A9.1.%C3%A9"})
        assert odd.status_code == 200


def test_the_address_cookie_is_signed_and_short_lived() -> None:
    settings = load_settings({"SECRET_KEY": "s" * 32, "BASE_URL": "https://lettre.example"})
    other = load_settings({"SECRET_KEY": "t" * 32})
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    cookie = address_cookie(settings, "anne@mairie.fr", now)
    assert cookie.secure and cookie.httponly and cookie.samesite == "strict"
    assert cookie.value is not None
    assert read_address(settings, cookie.value, now + timedelta(minutes=9)) == "anne@mairie.fr"
    assert read_address(settings, cookie.value, now + timedelta(minutes=11)) is None
    assert read_address(other, cookie.value, now) is None
    assert read_address(settings, "bm9wZQ.1.abc", now) is None
    assert read_address(settings, "", now) is None
    assert read_address(settings, "é.1.é", now) is None  # not a TypeError in compare_digest


async def test_the_thank_you_page_offers_to_share(client: httpx.AsyncClient, server: str) -> None:
    page = (await client.get("/merci")).text
    url = server + "/"
    assert f'<input id="lien-partage" type="url" value="{url}" readonly>' in page
    assert "Copier le lien</button>" in page and '<script src="/static/share.js"' in page
    mailto = unescape(re.search(r'href="(mailto:[^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert "subject=J%E2%80%99ai%20sign%C3%A9" in mailto  # « J’ai signé … »
    for network in ("mastodon.social/share", "linkedin.com", "facebook.com", "x.com", "wa.me"):
        assert f"https://{network}" in page or f"https://www.{network}" in page, network
    assert '<script src="http' not in page  # no third-party script
    for key in ("og:title", "og:description", "og:image", "twitter:card"):
        assert f'property="{key}"' in page or f'name="{key}"' in page, key
    assert f'<meta property="og:url" content="{url}">' in page
    assert f'<meta property="og:image" content="{server}/partage.png">' in page
    letter = (await client.get("/")).text
    assert f'<meta property="og:image" content="{server}/partage.png">' in letter


async def test_the_share_image(client: httpx.AsyncClient) -> None:
    first = await client.get("/partage.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(first.content))
    assert image.format == "PNG" and image.size == (1200, 630)
    etag = first.headers["etag"]
    again = await client.get("/partage.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_the_share_image_shows_the_title_and_the_count() -> None:
    svg = share_svg("Pour que le sport se joue à plusieurs & ensemble", 12345, "lettre.example")
    assert "12\u202f345 signatures" in svg and "plusieurs &amp; ensemble" in svg
    assert share_svg("Titre", 1, "h").count("1 signature<") == 1
    one, two = (svg_png(share_svg("Titre", n, "h"), 1200) for n in (1, 2))
    assert one != two and Image.open(io.BytesIO(one)).size == (1200, 630)
