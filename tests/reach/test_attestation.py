"""The town hall confirms: which signatures are put to their town hall, once, one email per
commune per day, never to a suppressed address, within the campaign's hourly rate; the town
hall's answers; the organisers' resend and cancel. Real PostgreSQL and the real register of a few
communes; the worker's round and the answers called directly (the whole path over HTTP and SMTP is
tests/e2e/test_attestation_e2e.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from campaign.core import resources, tokens
from campaign.core.audit import Actor
from campaign.core.settings import Settings, load_settings
from campaign.letter.campaigns import seed_campaigns
from campaign.mail import suppression
from campaign.reach import attestation, attestation_answers
from campaign.reach.attestation_answers import Result
from campaign.reach.mairies import TownHalls
from campaign.register.verification import verify_due
from tests.support.admin import make_signature, stored_count
from tests.support.app import migrated_database
from tests.support.attestation import (
    ABERGEMENT,
    ABERGEMENT_MAIRIE,
    ABOEN,
    COMMUNES,
    NO_ADDRESS,
    SAINT_ETIENNE,
    SAINT_ETIENNE_MAIRIE,
    VAREY,
    VAREY_MAIRIE,
    load_register_of,
)

ORGANISER = Actor(id=None, email="organisatrice@collectif-test.fr")
TOWN_HALLS = TownHalls()


@pytest.fixture(scope="module")
async def dsn_attest(pg_server: str) -> str:
    dsn = await migrated_database(pg_server, "attestation_unit")
    conn = await asyncpg.connect(dsn)
    try:
        await seed_campaigns(conn, resources.DEMO_CAMPAIGNS)
        assert await load_register_of(conn, COMMUNES) > 100
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def conn(dsn_attest: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(dsn_attest)
    await c.execute(
        "TRUNCATE mairie_attestations, mairie_attestation_signers, outbox, suppressions, "
        "territory_counts CASCADE; TRUNCATE signatures CASCADE"
    )
    yield c
    await c.close()


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        {"SECRET_KEY": os.environ["SECRET_KEY"], "DATA_DIR": os.environ["DATA_DIR"]}
    )


async def signer(
    conn: asyncpg.Connection, given: str, family: str, mandate: str, code: str, **more: object
) -> int:
    """A confirmed signature, then the register's verification (as the worker does it)."""
    signature_id = await make_signature(
        conn,
        given_name=given,
        family_name=family,
        mandate=mandate,
        code=code,
        **more,  # type: ignore[arg-type]
    )
    await verify_due(conn)
    return signature_id


async def queued_to(conn: asyncpg.Connection, address: str) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE template = 'attestation' AND recipient = $1 "
        "AND status = 'queued'",
        address,
    )
    return n


async def link_token(conn: asyncpg.Connection, settings: Settings, signature_id: int) -> str:
    salt = await conn.fetchval(
        "SELECT a.salt FROM mairie_attestations a JOIN mairie_attestation_signers s "
        "ON s.attestation_id = a.id WHERE s.signature_id = $1",
        signature_id,
    )
    return tokens.derive(settings.secret_key, salt)


async def test_only_confirmed_unproven_municipal_signers_matching_the_register_are_asked(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await signer(conn, "Zorglub", "Imaginaire", "maire", ABOEN)  # not in the register
    await signer(conn, "Christian", "Jouve", "maire", ABOEN, status="pending")
    suspect = await signer(conn, "Christian", "Jouve", "maire", ABOEN)
    await conn.execute("UPDATE signatures SET suspect = true WHERE id = $1", suspect)
    proven = await signer(conn, "Christian", "Jouve", "maire", ABOEN)
    await conn.execute(
        "UPDATE signatures SET proof = 'organisers', proof_at = now() WHERE id = $1", proven
    )
    report = await attestation.queue_due(conn, settings, TOWN_HALLS)
    assert report.handled == 0 and await queued_to(conn, "mairie@aboen.fr") == 0

    await signer(conn, "CHRISTIAN", "jouve", "maire", ABOEN)  # the register's maire
    report = await attestation.queue_due(conn, settings, TOWN_HALLS)
    assert report.sent == 1 and await queued_to(conn, "mairie@aboen.fr") == 1
    # Asked once: the next round finds nothing.
    assert (await attestation.queue_due(conn, settings, TOWN_HALLS)).handled == 0


async def test_one_email_per_commune_per_day_with_every_signer_waiting(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    maire = await signer(conn, "Régis", "Juanico", "maire", SAINT_ETIENNE, email="rj@gmail.com")
    adjointe = await signer(conn, "Valérie", "Atif", "adjoint", SAINT_ETIENNE)
    report = await attestation.queue_due(conn, settings, TOWN_HALLS)
    assert report.sent == 1 and await queued_to(conn, SAINT_ETIENNE_MAIRIE) == 1
    asked = await conn.fetch(
        "SELECT signature_id FROM mairie_attestation_signers ORDER BY signature_id"
    )
    assert [r["signature_id"] for r in asked] == [maire, adjointe]

    later = await signer(conn, "Yannis", "Bekhti", "adjoint", SAINT_ETIENNE)
    assert (await attestation.queue_due(conn, settings, TOWN_HALLS)).sent == 0
    assert await queued_to(conn, SAINT_ETIENNE_MAIRIE) == 1

    # The next day: one more email, for the signer who waited only.
    await conn.execute(
        "UPDATE mairie_attestations SET created_at = created_at - interval '25 hours', "
        "last_sent_at = last_sent_at - interval '25 hours'"
    )
    assert (await attestation.queue_due(conn, settings, TOWN_HALLS)).sent == 1
    assert await queued_to(conn, SAINT_ETIENNE_MAIRIE) == 2
    newest = await conn.fetchval(
        "SELECT array_agg(s.signature_id) FROM mairie_attestation_signers s "
        "WHERE s.attestation_id = (SELECT max(id) FROM mairie_attestations)"
    )
    assert newest == [later]
    assert (await attestation.queue_due(conn, settings, TOWN_HALLS)).handled == 0


async def test_a_suppressed_town_hall_and_one_without_address_get_nothing(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await suppression.suppress(conn, suppression.address_hash(VAREY_MAIRIE), "mailing")
    await signer(conn, "François", "Courouble", "maire", VAREY)
    await signer(conn, "Jean-Marc", "Dumas", "maire", NO_ADDRESS)
    report = await attestation.queue_due(conn, settings, TOWN_HALLS)
    assert (report.sent, report.suppressed, report.no_address) == (0, 1, 1)
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    statuses = {
        r["commune"]: r["status"]
        for r in await conn.fetch("SELECT commune, status FROM mairie_attestations")
    }
    assert statuses == {VAREY: "suppressed", NO_ADDRESS: "no_address"}


async def test_the_campaign_wide_hourly_rate_holds_emails_back(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await signer(conn, "Régis", "Juanico", "maire", SAINT_ETIENNE)
    await signer(conn, "Christian", "Jouve", "maire", ABOEN)
    one = msgspec.structs.replace(settings, mairie_attestations_per_hour=1)
    assert (await attestation.queue_due(conn, one, TOWN_HALLS)).sent == 1
    assert (await attestation.queue_due(conn, one, TOWN_HALLS)).sent == 0
    assert (await attestation.queue_due(conn, settings, TOWN_HALLS)).sent == 1


async def test_yes_proves_no_sets_aside_and_each_signer_takes_one_answer(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    maire = await signer(conn, "Régis", "Juanico", "maire", SAINT_ETIENNE)
    adjointe = await signer(conn, "Valérie", "Atif", "adjoint", SAINT_ETIENNE)
    await attestation.queue_due(conn, settings, TOWN_HALLS)
    token = await link_token(conn, settings, maire)
    assert await stored_count(conn, "commune", SAINT_ETIENNE) == 2

    result, found = await attestation_answers.answer(conn, token, maire, "yes")
    assert result is Result.RECORDED
    proof = await conn.fetchrow(
        "SELECT proof, proof_by, proof_at FROM signatures WHERE id = $1", maire
    )
    assert proof["proof"] == "mairie" and proof["proof_by"] == "saint-etienne.fr"
    assert proof["proof_at"] is not None
    assert found is not None and found.attestation.status == "queued"

    result, _ = await attestation_answers.answer(conn, token, adjointe, "no")
    assert result is Result.RECORDED
    row = await conn.fetchrow(
        "SELECT suspect, suspect_reasons, proof FROM signatures WHERE id = $1", adjointe
    )
    assert row["suspect"] and row["suspect_reasons"] == ["mairie_denied"] and row["proof"] is None
    assert await stored_count(conn, "commune", SAINT_ETIENNE) == 1  # no longer counted

    # Every signer answered: the link is closed; a second answer changes nothing.
    result, found = await attestation_answers.answer(conn, token, adjointe, "yes")
    assert result is Result.CLOSED and found is not None and found.attestation.status == "answered"
    assert await conn.fetchval("SELECT proof FROM signatures WHERE id = $1", adjointe) is None
    assert (await attestation_answers.answer(conn, "x" * 43, maire, "yes"))[0] is Result.UNKNOWN


async def test_an_expired_link_answers_nothing_and_a_gmail_town_hall_is_named_by_its_code(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    adjointe = await signer(conn, "Delphine", "Bouilloux", "adjoint", ABERGEMENT)
    assert (await attestation.queue_due(conn, settings, TOWN_HALLS)).sent == 1
    assert await queued_to(conn, ABERGEMENT_MAIRIE) == 1
    token = await link_token(conn, settings, adjointe)
    await conn.execute("UPDATE mairie_attestations SET expires_at = now() - interval '1 minute'")
    assert (await attestation_answers.answer(conn, token, adjointe, "yes"))[0] is Result.CLOSED
    await conn.execute("UPDATE mairie_attestations SET expires_at = now() + interval '1 day'")
    assert (await attestation_answers.answer(conn, token, adjointe, "yes"))[0] is Result.RECORDED
    assert await conn.fetchval("SELECT proof_by FROM signatures WHERE id = $1", adjointe) == (
        f"mairie:{ABERGEMENT}"
    )


async def test_organisers_resend_and_cancel_and_both_are_audited(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    maire = await signer(conn, "Régis", "Juanico", "maire", SAINT_ETIENNE)
    await attestation.queue_due(conn, settings, TOWN_HALLS)
    campaign_id = await conn.fetchval("SELECT campaign_id FROM signatures WHERE id = $1", maire)
    [listed] = await attestation.listing(conn, campaign_id, before=None, limit=10)
    assert listed.commune == SAINT_ETIENNE and [s.signature_id for s in listed.signers] == [maire]
    token = await link_token(conn, settings, maire)

    await attestation.resend(conn, settings, listed.id, campaign_id, ORGANISER)
    # The first email, not sent yet, gives way to the new one; the link stays the same.
    assert await queued_to(conn, SAINT_ETIENNE_MAIRIE) == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'cancelled'") == 1
    assert await link_token(conn, settings, maire) == token
    assert await conn.fetchval("SELECT sends FROM mairie_attestations") == 2

    await attestation.cancel(conn, listed.id, campaign_id, ORGANISER)
    assert await queued_to(conn, SAINT_ETIENNE_MAIRIE) == 0
    assert (await attestation_answers.answer(conn, token, maire, "yes"))[0] is Result.CLOSED
    with pytest.raises(attestation.ActionError):
        await attestation.resend(conn, settings, listed.id, campaign_id, ORGANISER)
    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE target_type = 'attestation' AND target_id = $1 "
            "ORDER BY id",
            listed.id,
        )
    ]
    assert actions == ["attestation.resend", "attestation.cancel"]
