"""A signer's details are theirs (issue 14, §4): whoever knows a pending signer's address can sign
again with other details, but each confirmation link confirms exactly the details it was sent for
— the victim's link the victim's, the new link (sent to the same mailbox) the new ones."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from campaign.core import db as core_db
from campaign.core.settings import load_settings
from campaign.signing import emails as signing_emails
from campaign.signing import signatures
from campaign.signing.confirm_batch import ConfirmBatcher
from campaign.signing.signatures import ConfirmResult
from tests.support.app import unique_email
from tests.support.mail import Mailbox
from tests.support.signing import SIGN, confirm_link, csrf_token, valid_body

VICTIM = {
    "given_name": "Anne",
    "family_name": "Martin",
    "mandate": "maire",
    "territory_code": "69123",
    "public": False,
    "comment": "Ma signature.",
    "ref": "relais-69",
}
# What an attacker may change: the names, the mandate and territory, the consent to be listed.
SWAPS = {
    "names": {"given_name": "Régis", "family_name": "Juanico"},
    "mandate and territory": {"mandate": "adjoint", "territory_code": "2A004"},
    "consent": {"public": True, "comment": "Pas de moi."},
}
DETAILS = ("given_name", "family_name", "mandate", "territory_code", "public", "comment", "ref")


async def sign(client: httpx.AsyncClient, **fields: Any) -> None:
    response = await client.post(SIGN, json=valid_body(**fields))
    assert response.status_code == 202, response.text


async def press(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """The confirmation page's button."""
    response = await client.post(link, data={"_csrf_token": await csrf_token(client)})
    assert response.status_code == 200, response.text[:500]
    return response


async def details(db: asyncpg.Connection, address: str) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT status, consent_at IS NOT NULL AS consented, "
        + ", ".join(DETAILS)
        + " FROM signatures WHERE email = $1",
        address,
    )
    assert row is not None
    return dict(row)


async def counted(db: asyncpg.Connection, code: str) -> int:
    value = await db.fetchval(
        "SELECT confirmed FROM territory_counts t JOIN campaigns c ON c.id = t.campaign_id"
        " WHERE c.slug = 'jouer-collectif' AND t.level = 'commune' AND t.code = $1",
        code,
    )
    return int(value or 0)


async def victim_then_attacker(
    client: httpx.AsyncClient, mailbox: Mailbox, swap: dict[str, Any]
) -> tuple[str, dict[str, Any], str, str]:
    """The victim signs, the attacker signs again with the victim's address and other details:
    the address, the attacker's details, the victim's link and the attacker's link."""
    address = unique_email("victim")
    await sign(client, email=address, **VICTIM)
    [first] = await mailbox.wait_for(address)
    attacker = {**VICTIM, **swap}
    await sign(client, email=address, **attacker)
    messages = await mailbox.wait_for(address, 2)
    # The new link goes to the victim's mailbox, nowhere else.
    assert [m["X-Envelope-To"] for m in messages] == [address, address]
    victim_link, _ = confirm_link(first)
    attacker_link, _ = confirm_link(messages[1])
    assert victim_link != attacker_link
    return address, attacker, victim_link, attacker_link


@pytest.mark.parametrize("swap", list(SWAPS), ids=list(SWAPS))
async def test_the_victims_link_confirms_the_victims_details(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, swap: str
) -> None:
    address, attacker, victim_link, attacker_link = await victim_then_attacker(
        client, mailbox, SWAPS[swap]
    )
    # The signature shows the latest form while pending; the victim's link does not.
    assert (await details(db, address))["given_name"] == attacker["given_name"]
    page = await client.get(victim_link)
    assert page.status_code == 200 and "Je confirme ma signature" in page.text
    assert "Anne Martin" in page.text and "Maire" in page.text
    if swap == "names":
        assert "Juanico" not in page.text

    before = {code: await counted(db, code) for code in ("69123", "2A004")}
    assert "votre signature est confirmée" in (await press(client, victim_link)).text
    stored = await details(db, address)
    assert stored == {
        "status": "confirmed",
        "consented": False,
        **{k: VICTIM[k] for k in DETAILS},
    }
    assert await counted(db, "69123") == before["69123"] + 1
    assert await counted(db, "2A004") == before["2A004"]

    # The attacker's link, clicked later (from the victim's mailbox), changes nothing.
    assert "déjà confirmée" in (await press(client, attacker_link)).text
    assert await details(db, address) == stored
    assert await counted(db, "2A004") == before["2A004"]


async def test_the_new_link_confirms_only_the_new_details(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    swap = {**SWAPS["names"], **SWAPS["mandate and territory"], **SWAPS["consent"]}
    address, attacker, victim_link, attacker_link = await victim_then_attacker(
        client, mailbox, swap
    )
    # Its email and its page name the details it was sent for.
    [_, second] = await mailbox.wait_for(address, 2)
    assert "Régis" in second.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Régis Juanico" in (await client.get(attacker_link)).text
    assert "votre signature est confirmée" in (await press(client, attacker_link)).text
    stored = await details(db, address)
    assert stored == {"status": "confirmed", "consented": True, **{k: attacker[k] for k in DETAILS}}
    # Once confirmed, the older link changes nothing.
    assert "déjà confirmée" in (await press(client, victim_link)).text
    assert await details(db, address) == stored


async def test_each_links_email_names_its_own_details_whenever_it_is_rendered(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, pool: asyncpg.Pool
) -> None:
    """The worker renders an email when it sends it, possibly after a re-signing: each link's
    email names the details of that link."""
    address, _, _, _ = await victim_then_attacker(client, mailbox, SWAPS["names"])
    rows = await db.fetch(
        "SELECT signature_id, token_id FROM outbox WHERE recipient = $1 ORDER BY id", address
    )
    settings = load_settings(dict(os.environ))
    rendered = [
        await signing_emails.signer(pool, settings, r["signature_id"], r["token_id"]) for r in rows
    ]
    assert [(c["given_name"], c["family_name"]) for c in rendered] == [
        ("Anne", "Martin"),
        ("Régis", "Juanico"),
    ]


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await core_db.create_pool(dsn, min_size=1, max_size=4)
    yield p
    await p.close()


async def test_both_links_together_or_alone_confirm_one_version(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    mailbox: Mailbox,
    pool: asyncpg.Pool,
) -> None:
    """Both links clicked at once (one group commit) or one after the other (one statement
    each): the first confirms its own details, the other changes nothing."""
    _, _, victim_link, attacker_link = await victim_then_attacker(client, mailbox, SWAPS["names"])
    victim_token = victim_link.rsplit("/", 1)[1]
    attacker_token = attacker_link.rsplit("/", 1)[1]
    # One statement for both (what a group commit writes: campaign/signing/confirm_batch.py).
    results = await signatures.confirm_many(db, [victim_token, attacker_token])
    assert [r for r, _ in results] == [ConfirmResult.CONFIRMED, ConfirmResult.ALREADY]
    found = results[0][1]
    assert found is not None and (found.given_name, found.family_name) == ("Anne", "Martin")
    names = await db.fetchrow(
        "SELECT given_name, family_name FROM signatures WHERE id = $1", found.signature_id
    )
    assert tuple(names) == ("Anne", "Martin")

    # Through the batcher, and alone (confirm_by_token): the same rule.
    address, _, victim_link, attacker_link = await victim_then_attacker(
        client, mailbox, SWAPS["consent"]
    )
    result, found = await ConfirmBatcher(pool).confirm(attacker_link.rsplit("/", 1)[1])
    assert result is ConfirmResult.CONFIRMED and found is not None and found.public
    assert (await details(db, address))["consented"]

    address, _, victim_link, attacker_link = await victim_then_attacker(
        client, mailbox, SWAPS["mandate and territory"]
    )
    result, found = await signatures.confirm(db, victim_link.rsplit("/", 1)[1])
    assert result is ConfirmResult.CONFIRMED and found is not None
    assert (found.mandate, found.territory_code) == ("maire", "69123")
    stored = await details(db, address)
    assert (stored["mandate"], stored["territory_code"]) == ("maire", "69123")
    result, _ = await signatures.confirm(db, attacker_link.rsplit("/", 1)[1])
    assert result is ConfirmResult.ALREADY
    assert await details(db, address) == stored
