"""The town hall confirms, the whole path: a maire signs from a gmail address and confirms; the
register matches; the test's SMTP server receives the attestation at the commune's address from
the directory; the town hall follows its link and answers « oui » (proven) or « non » (set aside,
the reason shown to the organisers); expired, answered and unknown links get French pages; the
organisers resend and cancel from the back office. Real HTTP, PostgreSQL, SMTP and register."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from campaign.core import resources
from campaign.letter.campaigns import seed_campaigns
from tests.support.admin import csrf_of, logged_in
from tests.support.app import app_server, migrated_database
from tests.support.attestation import (
    ABERGEMENT,
    ABERGEMENT_MAIRIE,
    ABOEN,
    COMMUNES,
    SAINT_ETIENNE,
    SAINT_ETIENNE_MAIRIE,
    VAREY,
    VAREY_MAIRIE,
    attestation_link,
    attestations_to,
    load_register_of,
    sign_and_confirm,
    text_of,
)
from tests.support.mail import Mailbox
from tests.support.signing import csrf_token

SLUG = "jouer-collectif"
SIGNER_FIELD = re.compile(r'name="signataire" value="(\d+)"')


@pytest.fixture(scope="module")
async def attest_dsn(pg_server: str) -> str:
    dsn = await migrated_database(pg_server, "attestation_e2e")
    conn = await asyncpg.connect(dsn)
    try:
        await seed_campaigns(conn, resources.DEMO_CAMPAIGNS)
        await load_register_of(conn, COMMUNES)
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="module")
async def site(attest_dsn: str, mailbox: Mailbox) -> AsyncIterator[str]:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=attest_dsn, SMTP_URL=smtp_url) as base:
        yield base


@pytest.fixture
async def web(site: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site, timeout=10) as client:
        yield client


@pytest.fixture
async def conn(attest_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(attest_dsn)
    yield c
    await c.close()


async def answer(web: httpx.AsyncClient, link: str, reply: str) -> httpx.Response:
    page = await web.get(link)
    signer = SIGNER_FIELD.search(page.text)
    assert signer, page.text
    return await web.post(
        link,
        data={"_csrf_token": csrf_of(page.text), "signataire": signer.group(1), "reponse": reply},
    )


async def test_a_maire_from_gmail_is_put_to_the_town_hall_which_says_yes(
    web: httpx.AsyncClient, mailbox: Mailbox, site: str, conn: asyncpg.Connection
) -> None:
    address = await sign_and_confirm(web, mailbox, "Régis", "Juanico", "maire", SAINT_ETIENNE)
    [message] = await attestations_to(mailbox, site, SAINT_ETIENNE_MAIRIE)
    assert message["To"] == SAINT_ETIENNE_MAIRIE
    assert "Saint-Étienne" in message["Subject"]
    text = text_of(message)
    assert "Régis Juanico, Maire" in text and address not in text
    assert message["List-Unsubscribe"]
    link, _ = attestation_link(message)

    page = await web.get(link)
    assert page.status_code == 200
    assert "Régis Juanico" in page.text and "Maire" in page.text and address not in page.text
    assert "Oui, cette personne est bien élue de notre commune et a signé" in page.text
    proof = await conn.fetchval("SELECT proof FROM signatures WHERE email = $1", address)
    assert proof is None  # opening the link answered nothing

    # Without the form's CSRF token: refused, nothing recorded.
    refused = await web.post(link, data={"signataire": "1", "reponse": "oui"})
    assert refused.status_code == 403
    done = await answer(web, link, "oui")
    assert done.status_code == 200 and "Merci, votre réponse est enregistrée" in done.text
    row = await conn.fetchrow(
        "SELECT proof, proof_by, proof_at FROM signatures WHERE email = $1", address
    )
    assert row["proof"] == "mairie" and row["proof_by"] == "saint-etienne.fr" and row["proof_at"]

    again = await web.get(link)
    assert again.status_code == 200
    assert "Toutes les réponses ont été enregistrées" in again.text
    assert 'name="reponse"' not in again.text


async def test_no_sets_the_signature_aside_with_its_reason_for_the_organisers(
    web: httpx.AsyncClient, mailbox: Mailbox, site: str, conn: asyncpg.Connection
) -> None:
    address = await sign_and_confirm(web, mailbox, "Delphine", "Bouilloux", "adjoint", ABERGEMENT)
    [message] = await attestations_to(mailbox, site, ABERGEMENT_MAIRIE)
    link, _ = attestation_link(message)
    done = await answer(web, link, "non")
    assert done.status_code == 200 and "mise de côté" in done.text
    row = await conn.fetchrow(
        "SELECT id, suspect, suspect_reasons, proof FROM signatures WHERE email = $1", address
    )
    assert row["suspect"] and row["suspect_reasons"] == ["mairie_denied"] and row["proof"] is None
    async with logged_in(site, conn, "viewer") as admin:
        shown = await admin.get(f"/admin/signataires/{row['id']}")
    assert "La mairie ne reconnaît pas cette personne comme élue de la commune" in shown.text


async def test_expired_and_unknown_links_get_french_pages(
    web: httpx.AsyncClient, mailbox: Mailbox, site: str, conn: asyncpg.Connection
) -> None:
    address = await sign_and_confirm(web, mailbox, "Christian", "Jouve", "maire", ABOEN)
    [message] = await attestations_to(mailbox, site, "mairie@aboen.fr")
    link, _ = attestation_link(message)
    await conn.execute(
        "UPDATE mairie_attestations SET expires_at = now() - interval '1 minute' "
        "WHERE commune = $1",
        ABOEN,
    )
    page = await web.get(link)
    assert page.status_code == 200 and "Ce lien a expiré" in page.text
    assert 'name="reponse"' not in page.text
    late = await web.post(
        link, data={"_csrf_token": await csrf_token(web), "signataire": "1", "reponse": "oui"}
    )
    assert late.status_code == 409 and "Ce lien a expiré" in late.text
    assert await conn.fetchval("SELECT proof FROM signatures WHERE email = $1", address) is None

    unknown = await web.get("/attestation/" + "A" * 43)
    assert unknown.status_code == 404 and "Lien inconnu" in unknown.text
    malformed = await web.get("/attestation/abc")
    assert malformed.status_code == 404 and "Lien inconnu" in malformed.text


async def test_organisers_see_resend_and_cancel_an_attestation(
    web: httpx.AsyncClient, mailbox: Mailbox, site: str, conn: asyncpg.Connection
) -> None:
    await sign_and_confirm(web, mailbox, "François", "Courouble", "maire", VAREY)
    [first] = await attestations_to(mailbox, site, VAREY_MAIRIE)
    link, _ = attestation_link(first)
    attestation_id = await conn.fetchval(
        "SELECT id FROM mairie_attestations WHERE commune = $1", VAREY
    )

    async with logged_in(site, conn, "viewer") as viewer:
        listed = await viewer.get("/admin/attestations")
        assert listed.status_code == 200 and "François Courouble" in listed.text
        assert "/renvoyer" not in listed.text
        refused = await viewer.post(
            f"/admin/attestations/{attestation_id}/renvoyer",
            data={"_csrf_token": csrf_of(listed.text)},
        )
        assert refused.status_code == 403

    async with logged_in(site, conn, "organiser") as organiser:
        listed = await organiser.get("/admin/attestations")
        assert f"/admin/attestations/{attestation_id}/renvoyer" in listed.text
        resent = await organiser.post(
            f"/admin/attestations/{attestation_id}/renvoyer",
            data={"_csrf_token": csrf_of(listed.text)},
        )
        assert resent.status_code == 303
        [_, second] = await attestations_to(mailbox, site, VAREY_MAIRIE, count=2)
        assert attestation_link(second)[0] == link  # the same link, sent again

        listed = await organiser.get(resent.headers["location"])
        assert "repart dans la file d’envoi" in listed.text
        cancelled = await organiser.post(
            f"/admin/attestations/{attestation_id}/annuler",
            data={"_csrf_token": csrf_of(listed.text)},
        )
        assert cancelled.status_code == 303
        listed = await organiser.get(cancelled.headers["location"])
        assert "Annulée par" in listed.text
        again = await organiser.post(
            f"/admin/attestations/{attestation_id}/annuler",
            data={"_csrf_token": csrf_of(listed.text)},
        )
        assert again.status_code == 409 and "plus en attente" in again.text

    page = await web.get(link)
    assert page.status_code == 200 and "Cette demande a été annulée" in page.text
    actions = await conn.fetch(
        "SELECT action, organiser_email FROM audit_log WHERE target_type = 'attestation' "
        "AND target_id = $1 ORDER BY id",
        attestation_id,
    )
    assert [a["action"] for a in actions] == ["attestation.resend", "attestation.cancel"]
