"""The one reminder of a pending signature: after REMINDER_AFTER_HOURS by the clock, never before,
never for a confirmed, withdrawn or flagged signature, never twice; a fresh link that confirms;
the suppression list respected. A database of its own, a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from campaign.core.clock import Clock
from campaign.core.settings import Settings, load_settings
from campaign.mail import suppression
from campaign.mail.message import MailRenderer
from campaign.mail.sink import free_port
from campaign.mail.smtp import SmtpSender
from campaign.mail.worker import MailWorker
from campaign.runtime import email_contexts, sending_workers
from campaign.signing import reminders, signatures
from tests.support.app import migrated_database

SECRET = "test-secret-key-not-for-production"
BASE_URL = "https://lettre.example.fr"
LINK = re.compile(re.escape(BASE_URL) + r"/confirmer/([A-Za-z0-9_-]{43})")


@pytest.fixture(scope="module")
async def dsn(pg_server: str) -> str:
    """A database of this module's own: a reminder round looks at every pending signature."""
    return await migrated_database(pg_server, "campaign_reminders_test")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.extend((rcpt, parsed) for rcpt in envelope.rcpt_tos)
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for rcpt, m in self.messages if rcpt == address]


@pytest.fixture
async def setup(dsn: str, db: asyncpg.Connection) -> AsyncIterator[tuple[Settings, Any, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = load_settings(
        {
            "SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
            "BASE_URL": BASE_URL,
            "SECRET_KEY": SECRET,
            "MAIL_FROM": "Jouer collectif <lettre@jouer-collectif.example>",
        }
    )
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    assert settings.smtp_url is not None
    worker = MailWorker(
        pool,
        dsn,
        settings,
        MailRenderer(),
        SmtpSender(settings.smtp_url),
        contexts=email_contexts(),
    )
    await db.execute("DELETE FROM campaigns")
    campaign_id = await db.fetchval(
        "INSERT INTO campaigns (slug, title, launch_at) VALUES ('rappel', 'Jouer collectif', now())"
        " RETURNING id"
    )
    await db.execute(
        "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'T')", campaign_id
    )
    yield settings, (pool, worker, campaign_id), inbox
    await pool.close()
    controller.stop()
    await db.execute("DELETE FROM campaigns")
    await db.execute("DELETE FROM suppressions")


async def pending(db: asyncpg.Connection, campaign_id: int, **columns: Any) -> str:
    address = f"elu.{uuid.uuid4().hex[:10]}@mairie-test.fr"
    await db.execute(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
               territory_level, territory_code, public, letter_version, status, suspect)
           VALUES ($1, $2, 'Anne', 'Martin', 'maire', 'commune', '69123', true, 1, $3, $4)""",
        campaign_id,
        address,
        columns.get("status", "pending"),
        columns.get("suspect", False),
    )
    return address


async def deliver(worker: MailWorker, db: asyncpg.Connection) -> None:
    for _ in range(100):
        await worker.run_once()
        left = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')"
        )
        if not left:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox was not drained")


async def test_one_reminder_after_48_hours_with_a_fresh_link_that_confirms(
    setup: Any, db: asyncpg.Connection
) -> None:
    settings, (pool, worker, campaign_id), inbox = setup
    clock = Clock()
    address = await pending(db, campaign_id)
    confirmed = await pending(db, campaign_id, status="confirmed")
    withdrawn = await pending(db, campaign_id, status="withdrawn")
    flagged = await pending(db, campaign_id, suspect=True)

    clock.offset = timedelta(hours=47, minutes=50)
    assert await reminders.send_due(pool, settings, clock) == 0

    clock.offset = timedelta(hours=48, minutes=10)
    assert await reminders.send_due(pool, settings, clock) == 1
    await deliver(worker, db)
    [message] = inbox.to(address)
    assert message["Subject"] == (
        "Rappel : votre signature de la lettre « Jouer collectif » attend votre confirmation"
    )
    text = message.get_body(("plain",)).get_content()
    assert "C’est le seul rappel que vous recevrez." in text
    [token] = LINK.findall(text)
    for other in (confirmed, withdrawn, flagged):
        assert inbox.to(other) == []

    # Never twice, however long it stays pending.
    clock.offset = timedelta(days=6)
    assert await reminders.send_due(pool, settings, clock) == 0
    await deliver(worker, db)
    assert len(inbox.to(address)) == 1
    row = await db.fetchrow(
        "SELECT reminded_at, emails_sent FROM signatures WHERE email = $1", address
    )
    assert row["reminded_at"] is not None and row["emails_sent"] == 1

    # The fresh link confirms the signature.
    async with pool.acquire() as conn:
        result, _ = await signatures.confirm(conn, token)
    assert result is signatures.ConfirmResult.CONFIRMED


async def test_the_suppression_list_and_the_setting_are_respected(
    setup: Any, db: asyncpg.Connection
) -> None:
    settings, (pool, worker, campaign_id), inbox = setup
    clock = Clock(timedelta(hours=49))
    opted_out = await pending(db, campaign_id)
    await suppression.suppress(db, suppression.address_hash(opted_out), "mailing")
    off = load_settings({"SECRET_KEY": SECRET, "BASE_URL": BASE_URL, "REMINDER_AFTER_HOURS": "0"})
    assert await reminders.send_due(pool, off, clock) == 0
    assert await reminders.send_due(pool, settings, clock) == 1  # queued, and cancelled
    await deliver(worker, db)
    assert inbox.to(opted_out) == []
    assert (
        await db.fetchval(
            "SELECT status FROM outbox WHERE recipient = $1 AND template = 'reminder'", opted_out
        )
        == "cancelled"
    )
    # A shorter delay, by the setting.
    soon = await pending(db, campaign_id)
    early = load_settings({"SECRET_KEY": SECRET, "BASE_URL": BASE_URL, "REMINDER_AFTER_HOURS": "2"})
    assert await reminders.send_due(pool, early, Clock(timedelta(hours=1))) == 0
    assert await reminders.send_due(pool, early, Clock(timedelta(hours=3))) == 1
    await deliver(worker, db)
    assert len(inbox.to(soon)) == 1


async def test_the_loop_runs_in_the_sending_workers(setup: Any, db: asyncpg.Connection) -> None:
    settings, (pool, worker, campaign_id), inbox = setup
    assert settings.smtp_url is not None
    loops = sending_workers(settings, "unused", settings.smtp_url, writes=pool, reads=pool)
    assert any(getattr(work, "func", None) is reminders.run for work in loops)
    address = await pending(db, campaign_id)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        reminders.run(pool, settings, stop, clock=Clock(timedelta(hours=49)), poll=0.05)
    )
    try:
        for _ in range(100):
            if await db.fetchval("SELECT reminded_at FROM signatures WHERE email = $1", address):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("no reminder queued by the loop")
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=5)
    await deliver(worker, db)
    assert len(inbox.to(address)) == 1
