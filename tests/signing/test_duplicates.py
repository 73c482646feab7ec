"""One address, one signature: variants of an address, re-signing, the email cap, concurrent
submissions, and answers that never tell whether an address had signed before."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.app import unique_email
from tests.support.mail import Mailbox
from tests.support.signing import (
    CONFIRM_LINK,
    SIGN,
    confirm_link,
    csrf_token,
    outbox_drained,
    valid_body,
    valid_form,
)

MAX_EMAILS = 5  # campaign.signatures.MAX_EMAILS_PER_SIGNATURE, the contract this file checks


def answer(response: httpx.Response) -> tuple[int, bytes, str | None, str | None]:
    """What a client can see of an answer, besides its date."""
    return (
        response.status_code,
        response.content,
        response.headers.get("content-type"),
        response.headers.get("location"),
    )


async def sign(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    response = await client.post(SIGN, json=valid_body(**fields))
    assert response.status_code == 202, response.text
    return response


async def confirm(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Press the button of the confirmation page (the token is per session, any page has it)."""
    response = await client.post(link, data={"_csrf_token": await csrf_token(client)})
    assert response.status_code == 200, response.text[:500]
    return response


async def row(db: asyncpg.Connection, address: str) -> asyncpg.Record:
    rows = await db.fetch("SELECT * FROM signatures WHERE lower(email) = lower($1)", address)
    assert len(rows) == 1, rows
    return rows[0]


async def sent(db: asyncpg.Connection, address: str) -> dict[str, int]:
    """Outbox rows and confirmation tokens for an address."""
    record = await db.fetchrow(
        "SELECT (SELECT count(*) FROM outbox WHERE recipient = $1) AS outbox,"
        "       (SELECT count(*) FROM outbox WHERE recipient = $1 AND template = 'confirm')"
        "           AS confirm,"
        "       (SELECT count(*) FROM signature_tokens t JOIN signatures s"
        "            ON s.id = t.signature_id WHERE s.email = $1) AS tokens",
        address,
    )
    assert record is not None
    return dict(record)


async def counted(db: asyncpg.Connection, level: str, code: str) -> int:
    value = await db.fetchval(
        "SELECT confirmed FROM territory_counts t JOIN campaigns c ON c.id = t.campaign_id"
        " WHERE c.slug = 'jouer-collectif' AND t.level = $1 AND t.code = $2",
        level,
        code,
    )
    return int(value or 0)


# -- variants of one address --------------------------------------------------------------------


async def test_case_and_space_variants_are_one_signature(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    local = f"anne.{uuid.uuid4().hex[:10]}"
    address = f"{local}@x.fr"
    variants = [f"Anne.{local[5:]}@X.fr", f" {address} ", f"ANNE.{local[5:].upper()}@X.FR"]
    answers = [answer(await sign(client, email=v)) for v in variants]
    # The form too, with the non-breaking spaces a copy from a word processor brings.
    response = await client.post(
        "/signer",
        data={
            **valid_form(email=f"\u00a0{address.upper()}\u00a0"),
            "_csrf_token": await csrf_token(client),
        },
    )
    assert response.status_code == 303, response.text[:1000]

    assert len(set(answers)) == 1
    assert (
        await db.fetchval("SELECT count(*) FROM signatures WHERE lower(btrim(email)) = $1", address)
        == 1
    )
    stored = await row(db, address)
    assert stored["email"] == address
    # Every message went to the normalised address: one confirmation, then three re-sends.
    messages = await mailbox.wait_for(address, 4)
    assert len(messages) == 4
    await outbox_drained(db)
    assert not [
        m
        for m in mailbox.messages
        if local in str(m["X-Envelope-To"]).lower() and m["X-Envelope-To"] != address
    ]
    assert await sent(db, address) == {"outbox": 4, "confirm": 4, "tokens": 4}


# -- no enumeration -------------------------------------------------------------------------------


async def test_same_answer_whether_new_pending_confirmed_capped_or_withdrawn(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    address = unique_email("enum")
    new = answer(await sign(client, email=address))
    [first] = await mailbox.wait_for(address)
    pending = answer(await sign(client, email=address))
    link, _ = confirm_link(first)
    assert "votre signature est confirmée" in (await confirm(client, link)).text
    confirmed = answer(await sign(client, email=address))
    for _ in range(MAX_EMAILS - 3):
        await sign(client, email=address)
    capped = answer(await sign(client, email=address))
    assert (await row(db, address))["emails_sent"] == MAX_EMAILS

    withdrawn_address = unique_email("enum-withdrawn")
    await sign(client, email=withdrawn_address)
    await db.execute(
        "UPDATE signatures SET status = 'withdrawn' WHERE email = $1", withdrawn_address
    )
    withdrawn = answer(await sign(client, email=withdrawn_address))

    never_seen = answer(await sign(client, email=unique_email("enum-other")))
    assert new == pending == confirmed == capped == withdrawn == never_seen
    assert new[0] == 202


async def test_the_form_answers_the_same_whether_new_pending_or_confirmed(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    address = unique_email("enum-form")

    async def submit() -> httpx.Response:
        data = {**valid_form(email=address), "_csrf_token": await csrf_token(client)}
        return await client.post("/signer", data=data)

    new = await submit()
    [message] = await mailbox.wait_for(address)
    pending = await submit()
    link, _ = confirm_link(message)
    await confirm(client, link)
    confirmed = await submit()
    assert answer(new) == answer(pending) == answer(confirmed)
    assert new.status_code == 303
    assert new.headers["location"] == "/merci"


# -- re-signing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm_with", ["first link", "second link"])
async def test_resigning_while_pending_resends_a_link_and_each_link_keeps_its_details(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, confirm_with: str
) -> None:
    address = unique_email("resign")
    before = await sign(
        client,
        email=address,
        given_name="Anne",
        family_name="Martin",
        mandate="maire",
        territory_code="69123",
        public=False,
        comment="Premier envoi",
        ref="relais-1",
    )
    [first] = await mailbox.wait_for(address)
    first_link, _ = confirm_link(first)

    again = await sign(
        client,
        email=address.upper(),
        given_name="Anne-Marie",
        family_name="Martin-Durand",
        mandate="adjoint",
        territory_code="2A004",
        public=True,
        comment="Correction",
        ref="relais-2",
    )
    assert answer(again) == answer(before)
    messages = await mailbox.wait_for(address, 2)
    assert len(messages) == 2
    second_link, _ = confirm_link(messages[1])
    assert second_link != first_link
    assert "Anne-Marie" in messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]

    stored = await row(db, address)
    assert {k: stored[k] for k in ("given_name", "family_name", "mandate")} == {
        "given_name": "Anne-Marie",
        "family_name": "Martin-Durand",
        "mandate": "adjoint",
    }
    assert (stored["territory_level"], stored["territory_code"]) == ("commune", "2A004")
    assert (stored["public"], stored["comment"], stored["ref"]) == (True, "Correction", "relais-2")
    assert (stored["status"], stored["emails_sent"]) == ("pending", 2)
    assert await sent(db, address) == {"outbox": 2, "confirm": 2, "tokens": 2}

    # Both links work, and each shows the details it was sent for (issue 14, §4).
    for link, names, mandate in (
        (first_link, "Anne Martin", "Maire"),
        (second_link, "Anne-Marie Martin-Durand", "Adjoint"),
    ):
        page = await client.get(link)
        assert page.status_code == 200
        assert "Je confirme ma signature" in page.text
        assert names in page.text and mandate in page.text

    first_territory_before = await counted(db, "commune", "69123")
    second_territory_before = await counted(db, "commune", "2A004")
    chosen, other = (
        (first_link, second_link) if confirm_with == "first link" else (second_link, first_link)
    )
    result = await confirm(client, chosen)
    assert result.status_code == 200
    assert "votre signature est confirmée" in result.text
    stored = await row(db, address)
    assert stored["status"] == "confirmed"
    later = await confirm(client, other)
    assert "déjà confirmée" in later.text
    # Counted once, in the territory of the link clicked, with that link's details.
    if confirm_with == "first link":
        assert (stored["given_name"], stored["mandate"], stored["territory_code"]) == (
            "Anne",
            "maire",
            "69123",
        )
        assert (stored["public"], stored["comment"], stored["ref"]) == (
            False,
            "Premier envoi",
            "relais-1",
        )
        assert stored["consent_at"] is None
        assert await counted(db, "commune", "69123") == first_territory_before + 1
        assert await counted(db, "commune", "2A004") == second_territory_before
    else:
        assert (stored["given_name"], stored["mandate"], stored["territory_code"]) == (
            "Anne-Marie",
            "adjoint",
            "2A004",
        )
        assert stored["consent_at"] is not None
        assert await counted(db, "commune", "2A004") == second_territory_before + 1
        assert await counted(db, "commune", "69123") == first_territory_before
    # The later click changed nothing (the register's check may have run meanwhile).
    kept = ("status", "given_name", "family_name", "mandate", "territory_code", "public", "comment")
    after = await row(db, address)
    assert [after[k] for k in kept] == [stored[k] for k in kept]


async def test_at_most_five_emails_per_signature(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    address = unique_email("cap")
    answers = {answer(await sign(client, email=address)) for _ in range(MAX_EMAILS)}
    messages = await mailbox.wait_for(address, MAX_EMAILS)
    assert await sent(db, address) == {"outbox": MAX_EMAILS, "confirm": MAX_EMAILS, "tokens": 5}

    for _ in range(2):  # the 6th and 7th
        answers.add(answer(await sign(client, email=address)))
    assert len(answers) == 1
    stored = await row(db, address)
    assert (stored["status"], stored["emails_sent"]) == ("pending", MAX_EMAILS)
    assert await sent(db, address) == {"outbox": MAX_EMAILS, "confirm": MAX_EMAILS, "tokens": 5}
    await outbox_drained(db)
    assert len(mailbox.to(address)) == MAX_EMAILS

    # Every link sent still works; once confirmed, re-signing sends no « already signed » either.
    link, _ = confirm_link(messages[0])
    assert "votre signature est confirmée" in (await confirm(client, link)).text
    answers.add(answer(await sign(client, email=address)))
    assert len(answers) == 1
    assert await sent(db, address) == {"outbox": MAX_EMAILS, "confirm": MAX_EMAILS, "tokens": 5}
    await outbox_drained(db)
    assert len(mailbox.to(address)) == MAX_EMAILS


async def test_resigning_once_confirmed_emails_already_signed_and_creates_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    address = unique_email("already")
    first = await sign(
        client,
        email=address,
        given_name="Paul",
        family_name="Durand",
        mandate="depute",
        territory_code="2A",
    )
    [message] = await mailbox.wait_for(address)
    link, _ = confirm_link(message)
    assert "votre signature est confirmée" in (await confirm(client, link)).text
    confirmed = dict(await row(db, address))
    counts_before = (await counted(db, "departement", "2A"), await counted(db, "commune", "69123"))

    again = await sign(
        client,
        email=f" {address.upper()} ",
        given_name="Pierre",
        family_name="Autre",
        mandate="maire",
        territory_code="69123",
        public=False,
    )
    assert answer(again) == answer(first)
    messages = await mailbox.wait_for(address, 2)
    assert len(messages) == 2
    notice = messages[1]
    assert "déjà enregistrée" in notice["Subject"]
    text = " ".join(notice.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    html = " ".join(notice.get_body(("html",)).get_content().split())  # type: ignore[union-attr]
    assert "Bonjour Paul" in text  # the signer on record, not the new form
    assert "déjà confirmé sa signature" in text
    assert "rien de nouveau n’a été enregistré" in text
    assert "déjà confirmé sa signature" in html
    assert not CONFIRM_LINK.search(text)
    assert "/confirmer/" not in html

    after = dict(await row(db, address))
    assert after.pop("emails_sent") == confirmed.pop("emails_sent") + 1
    for verification in [k for k in after if k.startswith("verification")]:
        # The verification worker checks the confirmed signature meanwhile, on its own.
        after.pop(verification), confirmed.pop(verification)
    assert after == confirmed  # names, mandate, territory, status, dates: untouched
    assert await sent(db, address) == {"outbox": 2, "confirm": 1, "tokens": 1}
    assert (await counted(db, "departement", "2A"), await counted(db, "commune", "69123")) == (
        counts_before
    )


# -- concurrent submissions -----------------------------------------------------------------------


@pytest.mark.parametrize("variants", [False, True], ids=["same body", "case variants"])
async def test_concurrent_double_submission_makes_one_signature(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox, variants: bool
) -> None:
    address = unique_email("concurrent")
    spellings = [address, address.upper(), f"  {address}  ", address.capitalize()]
    body = valid_body(email=address)
    bodies = [
        {**body, "email": spellings[i % len(spellings)] if variants else address} for i in range(10)
    ]
    responses = await asyncio.gather(*(client.post(SIGN, json=b) for b in bodies))
    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({answer(r) for r in responses}) == 1

    assert (
        await db.fetchval("SELECT count(*) FROM signatures WHERE lower(email) = $1", address) == 1
    )
    stored = await row(db, address)
    assert stored["status"] == "pending"
    emails = stored["emails_sent"]
    assert 1 <= emails <= MAX_EMAILS
    assert await sent(db, address) == {"outbox": emails, "confirm": emails, "tokens": emails}
    await mailbox.wait_for(address, emails)
    await outbox_drained(db)
    assert len(mailbox.to(address)) == emails
