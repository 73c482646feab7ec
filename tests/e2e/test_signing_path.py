"""The whole path, for real: sign → the SMTP server receives the email → open its link (GET changes
nothing) → POST confirms → counted in commune, département and région → an SSE client sees it."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import httpx

from tests.support.app import unique_email
from tests.support.mail import Mailbox
from tests.support.signing import confirm_link, csrf_token, read_events

SLUG = "jouer-collectif"


async def counts(client: httpx.AsyncClient, level: str) -> dict[str, int]:
    body = (await client.get(f"/api/v1/campaigns/{SLUG}/counts", params={"level": level})).json()
    return {c["code"]: c["count"] for c in body["counts"]}


async def csrf_form_post(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    token = await csrf_token(client, page)  # and the sign form's cookie, as a browser would
    return await client.post(action, data={**data, "_csrf_token": token})


async def test_sign_confirm_count_live(
    client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    address = unique_email()
    before_commune = (await counts(client, "commune")).get("69123", 0)
    before_dept = (await counts(client, "departement"))["69"]
    before_region = (await counts(client, "region"))["84"]
    before_total = (await client.get(f"/api/v1/campaigns/{SLUG}")).json()["total"]

    events: list[dict[str, object]] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(read_events(client, events, ready))
    await asyncio.wait_for(ready.wait(), 5)  # the snapshot event arrived: subscribed

    # Sign through the HTML form, as a person would.
    response = await csrf_form_post(
        client,
        "/",
        "/signer",
        {
            "given_name": "Anne",
            "family_name": "Martin",
            "email": address.upper(),
            "mandate": "maire",
            "territory_code": "Lyon",
            "public": "true",
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/merci"

    [message] = await mailbox.wait_for(address)
    assert "Jouer collectif" in message["Subject"]
    assert message.get_body(("html",)) is not None
    link, token = confirm_link(message)
    stored = await db.fetchval(
        "SELECT token_hash FROM signature_tokens t JOIN signatures s ON s.id = t.signature_id "
        "WHERE s.email = $1",
        address,
    )
    assert stored == hashlib.sha256(token.encode()).digest()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM signature_tokens WHERE token_hash = $1", token.encode()
        )
        == 0
    )

    # Opening the link (as a mail filter would) changes nothing.
    page = await client.get(link)
    assert page.status_code == 200
    assert "Je confirme ma signature" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert await db.fetchval("SELECT status FROM signatures WHERE email = $1", address) == "pending"

    response = await csrf_form_post(client, link, link, {})
    assert response.status_code == 200
    assert "votre signature est confirmée" in response.text
    assert (
        await db.fetchval("SELECT status FROM signatures WHERE email = $1", address) == "confirmed"
    )

    # Counted in its commune, département and région, and the stream says so.
    async def event_with_total(total: int) -> dict[str, object]:
        while True:
            for e in events:
                if e["total"] == total:
                    return e
            await asyncio.sleep(0.02)

    event = await asyncio.wait_for(event_with_total(before_total + 1), 5)
    changed = {(c["level"], c["code"]): c["count"] for c in event["changed"]}  # type: ignore[index,union-attr]
    assert changed[("region", "84")] == before_region + 1
    assert changed[("departement", "69")] == before_dept + 1
    reader.cancel()

    assert (await counts(client, "commune"))["69123"] == before_commune + 1
    assert (await counts(client, "departement"))["69"] == before_dept + 1
    assert (await counts(client, "region"))["84"] == before_region + 1
    info = (await client.get(f"/api/v1/campaigns/{SLUG}")).json()
    assert info["total"] == before_total + 1
    signed = await db.fetchval("SELECT letter_version FROM signatures WHERE email = $1", address)
    assert signed == info["letter_version"]  # the version of the text that was signed

    # Confirming again is harmless and counts nothing more.
    again = await csrf_form_post(client, "/", link, {})
    assert again.status_code == 200
    assert "déjà confirmée" in again.text
    assert (await counts(client, "region"))["84"] == before_region + 1


async def test_counts_etag_answers_304(client: httpx.AsyncClient) -> None:
    first = await client.get(f"/api/v1/campaigns/{SLUG}/counts", params={"level": "region"})
    etag = first.headers["etag"]
    second = await client.get(
        f"/api/v1/campaigns/{SLUG}/counts",
        params={"level": "region"},
        headers={"If-None-Match": etag},
    )
    assert second.status_code == 304
    assert second.content == b""


async def test_unknown_and_malformed_links_get_a_french_page(client: httpx.AsyncClient) -> None:
    for token in ["A" * 43, "short", "%00%0d%0a" * 5]:
        page = await client.get(f"/confirmer/{token}")
        assert page.status_code == 404
        assert "Lien inconnu" in page.text
        assert "signez" in page.text.lower() or "Signer" in page.text


async def test_expired_link_offers_to_sign_again(
    client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    address = unique_email("expire")
    r = await client.post(
        f"/api/v1/campaigns/{SLUG}/signatures",
        json={
            "given_name": "Paul",
            "family_name": "Durand",
            "email": address,
            "mandate": "depute",
            "territory_code": "2A",
            "public": False,
        },
    )
    assert r.status_code == 202
    [message] = await mailbox.wait_for(address)
    link, _ = confirm_link(message)
    await db.execute(
        "UPDATE signature_tokens SET expires_at = now() - interval '1 second' WHERE signature_id = "
        "(SELECT id FROM signatures WHERE email = $1)",
        address,
    )
    page = await client.get(link)
    assert "Ce lien a expiré" in page.text
    posted = await csrf_form_post(client, "/", link, {})
    assert "Ce lien a expiré" in posted.text
    assert await db.fetchval("SELECT status FROM signatures WHERE email = $1", address) == "pending"
