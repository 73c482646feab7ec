"""The privacy lifecycle, by the signer: consent stored with its wording's version, the withdrawal
link in every email (text, HTML, List-Unsubscribe), a page then a POST, an anonymous tombstone,
pending emails cancelled, twice harmless."""

from __future__ import annotations

import hashlib
import re
import uuid
from email.message import EmailMessage

import asyncpg
import httpx

from campaign.letter import consent
from tests.support.admin import stored_count
from tests.support.app import unique_email
from tests.support.mail import Mailbox

SLUG = "jouer-collectif"
SIGN = f"/api/v1/campaigns/{SLUG}/signatures"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/(confirmer|retirer)/([A-Za-z0-9_-]{43})")


def links(message: EmailMessage) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return {m.group(1): m.group(0) for m in LINK.finditer(text)}


async def sign(client: httpx.AsyncClient, email: str, family: str, public: bool = True) -> None:
    body = {
        "given_name": "Camille",
        "family_name": family,
        "email": email,
        "mandate": "maire",
        "territory_code": "38185",
        "public": public,
        "comment": "Un commentaire personnel",
        "ref": "relais-38",
    }
    response = await client.post(SIGN, json=body)
    assert response.status_code == 202, response.text


async def csrf_post(client: httpx.AsyncClient, url: str) -> httpx.Response:
    page = await client.get(url)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    return await client.post(url, data={"_csrf_token": token.group(1)})


async def listed(client: httpx.AsyncClient, family: str) -> int:
    r = await client.get(f"/api/v1/campaigns/{SLUG}/signatories", params={"q": family})
    return int(r.json()["total"])


async def test_the_form_shows_the_current_consent_wording(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assert consent.WORDINGS[consent.CURRENT_VERSION] in " ".join(html.split())


async def test_consent_is_stored_with_its_version_and_time(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    yes, no = unique_email("consent-yes"), unique_email("consent-no")
    await sign(client, yes, "Oui")
    await sign(client, no, "Non", public=False)
    row = await db.fetchrow(
        "SELECT consent_version, consent_at, created_at FROM signatures WHERE email = $1", yes
    )
    assert row["consent_version"] == consent.CURRENT_VERSION
    assert abs((row["consent_at"] - row["created_at"]).total_seconds()) < 5
    row = await db.fetchrow(
        "SELECT consent_version, consent_at FROM signatures WHERE email = $1", no
    )
    assert (row["consent_version"], row["consent_at"]) == (None, None)


async def test_withdraw_from_the_email_link(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    address = unique_email("withdraw")
    family = f"Retrait{uuid.uuid4().hex[:8]}"
    await sign(client, address, family)
    [message] = await mailbox.wait_for(address)
    found = links(message)
    withdraw = found["retirer"]
    # In the HTML body and as one-click List-Unsubscribe too.
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert withdraw in html
    assert message["List-Unsubscribe"].strip() == f"<{withdraw}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Only the hash and the salt are stored, never the token.
    token = withdraw.rsplit("/", 1)[1]
    row = await db.fetchrow(
        "SELECT id, withdraw_hash, withdraw_salt FROM signatures WHERE email = $1", address
    )
    assert row["withdraw_hash"] == hashlib.sha256(token.encode()).digest()
    assert token.encode() not in (row["withdraw_salt"] or b"")
    signature_id = row["id"]

    assert (await csrf_post(client, found["confirmer"])).status_code == 200
    before = await stored_count(db, "commune", "38185")
    assert await listed(client, family) == 1

    # Opening the link (a mail filter does) changes nothing.
    page = await client.get(withdraw)
    assert page.status_code == 200
    assert "Je retire ma signature" in page.text and family in page.text
    assert page.headers["cache-control"] == "no-store"
    assert await db.fetchval("SELECT status FROM signatures WHERE id = $1", signature_id) == (
        "confirmed"
    )

    # A pending email to that address (say, queued for later) is cancelled.
    queued = await db.fetchval(
        "INSERT INTO outbox (template, recipient, signature_id, next_attempt_at)"
        " VALUES ('already_signed', $1, $2, now() + interval '1 hour') RETURNING id",
        address,
        signature_id,
    )

    done = await client.post(withdraw)  # the page's button: no CSRF token needed (see below)
    assert done.status_code == 200
    assert "Votre signature est retirée" in done.text
    assert done.headers["cache-control"] == "no-store"

    # Out of the counts and the list at once; personal data erased; a tombstone stays.
    assert await stored_count(db, "commune", "38185") == before - 1
    assert await listed(client, family) == 0
    tomb = await db.fetchrow("SELECT * FROM signatures WHERE id = $1", signature_id)
    assert tomb["status"] == "withdrawn" and tomb["withdrawn_at"] is not None
    assert (tomb["given_name"], tomb["family_name"], tomb["email"]) == ("", "", None)
    assert (tomb["comment"], tomb["ref"], tomb["public"]) == (None, None, False)
    assert tomb["withdraw_salt"] is None and tomb["anonymised_at"] is not None
    assert (tomb["mandate"], tomb["territory_code"], tomb["confirmed_at"] is not None) == (
        "maire",
        "38185",
        True,
    )
    assert await db.fetchval("SELECT status FROM outbox WHERE id = $1", queued) == "cancelled"
    assert not await db.fetchval(
        "SELECT count(*) FROM outbox WHERE recipient = $1 OR signature_id = $2 AND"
        " recipient NOT LIKE 'effacé-%'",
        address,
        signature_id,
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM signature_tokens WHERE signature_id = $1", signature_id
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM signatures WHERE family_name = $1 OR email = $2", family, address
    )

    # Twice is harmless; the page then says so.
    again = await client.post(withdraw)
    assert again.status_code == 200 and "déjà été retirée" in again.text
    assert "déjà été retirée" in (await client.get(withdraw)).text
    assert await stored_count(db, "commune", "38185") == before - 1
    # The old confirmation link leads nowhere now.
    assert (await client.get(found["confirmer"])).status_code == 404

    # The address may sign again: a new signature.
    await sign(client, address, family)
    assert await db.fetchval("SELECT count(*) FROM signatures WHERE email = $1", address) == 1


async def test_one_click_unsubscribe_from_a_mail_client(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click`, without cookie or form."""
    address = unique_email("one-click")
    await sign(client, address, "Clic")
    [message] = await mailbox.wait_for(address)
    target = message["List-Unsubscribe"].strip().strip("<>")
    async with httpx.AsyncClient(timeout=10) as mail_client:  # no cookies from the site
        response = await mail_client.post(
            target,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    row = await db.fetchrow(
        "SELECT status, email FROM signatures WHERE withdraw_hash = sha256($1::bytea)",
        target.rsplit("/", 1)[1].encode(),
    )
    assert (row["status"], row["email"]) == ("withdrawn", None)


async def test_unknown_or_malformed_withdrawal_links(client: httpx.AsyncClient) -> None:
    for token in ("A" * 43, "court", "x" * 200):
        page = await client.get(f"/retirer/{token}")
        assert page.status_code == 404 and "Lien inconnu" in page.text
        posted = await client.post(f"/retirer/{token}")
        assert posted.status_code == 404 and "Lien inconnu" in posted.text


async def test_every_email_about_a_signature_carries_the_link(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    """« Already signed » too, with the same link as the confirmation email."""
    address = unique_email("every-email")
    await sign(client, address, "Chaque")
    [first] = await mailbox.wait_for(address)
    assert (await csrf_post(client, links(first)["confirmer"])).status_code == 200
    await sign(client, address, "Chaque")
    messages = await mailbox.wait_for(address, 2)
    second = links(messages[1])
    assert "confirmer" not in second
    assert second["retirer"] == links(first)["retirer"]
    assert messages[1]["List-Unsubscribe"] == first["List-Unsubscribe"]


async def test_the_withdrawal_link_is_made_with_the_signature(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    """Stored by the signing itself: the mail worker finds it and does not rewrite the row (a
    second version of every new signature, all its indexes with it, in a rush)."""
    address = unique_email("link-at-signing")
    await sign(client, address, "Lien")
    query = "SELECT withdraw_hash, xmin::text AS version FROM signatures WHERE email = $1"
    stored = await db.fetchrow(query, address)
    assert stored["withdraw_hash"] is not None
    [message] = await mailbox.wait_for(address)
    token = links(message)["retirer"].rsplit("/", 1)[1]
    assert hashlib.sha256(token.encode()).digest() == stored["withdraw_hash"]
    assert await db.fetchrow(query, address) == stored


async def test_a_signature_without_a_link_gets_one_with_its_email(
    db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    """Signatures written before signings made the link: the mail worker makes it."""
    address = unique_email("link-later")
    signature_id = await db.fetchval(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                                  territory_level, territory_code, letter_version)
           SELECT id, $1, 'Ancien', 'Lien', 'maire', 'commune', '38185', current_version
           FROM campaigns WHERE slug = $2
           RETURNING id""",
        address,
        SLUG,
    )
    await db.execute(
        "INSERT INTO outbox (template, recipient, signature_id) VALUES ('already_signed', $1, $2)",
        address,
        signature_id,
    )
    [message] = await mailbox.wait_for(address)
    token = links(message)["retirer"].rsplit("/", 1)[1]
    stored = await db.fetchval("SELECT withdraw_hash FROM signatures WHERE id = $1", signature_id)
    assert hashlib.sha256(token.encode()).digest() == stored


async def test_the_privacy_notice_says_what_is_done(client: httpx.AsyncClient) -> None:
    """The delays are the settings the purge applies (defaults here: 30 days, 6 months, 7 days)."""
    page = await client.get("/confidentialite")
    text = " ".join(page.text.split())
    assert "supprimée, avec les courriels qui s’y rapportent, au bout de 30 jours" in text
    assert "anonymisée 6 mois après la clôture de la campagne" in text
    assert "effacées au bout de 7 jours" in text
    assert "Retirer votre signature" in text and "retirer votre signature" in text
    assert "Nous ne gardons jamais votre adresse IP" in text
