"""The mail side against a real PostgreSQL and a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.testing import AsyncTestClient

from campaign.core import tokens
from campaign.core.resources import PACKAGE
from campaign.core.settings import Settings, load_settings
from campaign.mail import outbox
from campaign.mail.message import MailRenderer, RenderedEmail, build_message, flatten
from campaign.mail.sink import MailSink, free_port
from campaign.mail.smtp import SmtpSender
from campaign.mail.worker import MailWorker, QueueRate
from campaign.runtime import email_contexts
from campaign.site.devmail import DevMailController
from tests.support.app import migrated_database

SECRET = "test-secret-key-not-for-production"
BASE_URL = "https://lettre.example.fr"
CONFIRM_LINK = re.compile(re.escape(BASE_URL) + r"/confirmer/([A-Za-z0-9_-]{43})")


# A real SMTP server, scriptable per recipient.


class Recorder:
    """aiosmtpd handler: keeps what it accepts; replies from a script first when one is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[list[str], bytes]] = []
        self.rcpt_replies: dict[str, list[str]] = {}
        self.data_replies: dict[str, list[str]] = {}
        self.rcpt_calls: Counter[str] = Counter()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            self.rcpt_calls[address] += 1
            script = self.rcpt_replies.get(address)
            if script:
                return script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for address in envelope.rcpt_tos:
                script = self.data_replies.get(address)
                if script:
                    return script.pop(0)
            self.accepted.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def received(self, address: str) -> list[EmailMessage]:
        with self.lock:
            raws = [raw for rcpts, raw in self.accepted if address in rcpts]
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in raws]

    def count(self, address: str) -> int:
        with self.lock:
            return sum(address in rcpts for rcpts, _ in self.accepted)


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture(scope="module")
async def dsn(pg_server: str) -> str:
    """A database of this module's own: the app `server` of other tests runs a mail worker too,
    which would otherwise deliver these tests' messages to its own mailbox."""
    return await migrated_database(pg_server, "campaign_mail_test")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


# The database: one campaign per test, removed afterwards with everything that hangs off it.


class Fixture:
    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.tag = uuid.uuid4().hex[:10]
        self.campaign_id: int | None = None
        self.loose_outbox: list[int] = []

    def address(self, label: str = "signer") -> str:
        return f"{label}-{self.tag}@mairie-exemple.fr"

    async def campaign(self) -> int:
        if self.campaign_id is None:
            self.campaign_id = await self.db.fetchval(
                """INSERT INTO campaigns (slug, title, launch_at)
                   VALUES ($1, $2, now()) RETURNING id""",
                f"test-mail-{self.tag}",
                "Jouer collectif",
            )
            await self.db.execute(
                "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'Texte')",
                self.campaign_id,
            )
        return self.campaign_id

    async def signature(self, label: str = "signer") -> tuple[int, int, str]:
        """A pending signature (maire of Lyon) and its confirmation token: (ids..., token)."""
        campaign_id = await self.campaign()
        signature_id = await self.db.fetchval(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                                       territory_level, territory_code, public, letter_version)
               VALUES ($1, $2, 'Anne', 'Martin', 'maire', 'commune', '69123', true, 1)
               RETURNING id""",
            campaign_id,
            self.address(label),
        )
        salt = tokens.new_salt()
        token = tokens.derive(SECRET, salt)
        token_id = await self.db.fetchval(
            """INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
               VALUES ($1, 'confirm', $2, $3, now() + interval '7 days') RETURNING id""",
            signature_id,
            salt,
            tokens.token_hash(token),
        )
        return signature_id, token_id, token

    async def enqueue(
        self,
        recipient: str,
        signature_id: int | None,
        token_id: int | None,
        template: str = "confirm",
    ) -> int:
        async with self.db.transaction():
            outbox_id = await outbox.enqueue(
                self.db,
                template=template,
                recipient=recipient,
                signature_id=signature_id,
                token_id=token_id,
            )
        if signature_id is None:
            self.loose_outbox.append(outbox_id)
        return outbox_id

    async def row(self, outbox_id: int) -> asyncpg.Record:
        return await self.db.fetchrow("SELECT * FROM outbox WHERE id = $1", outbox_id)

    async def cleanup(self) -> None:
        await self.db.execute("DELETE FROM outbox WHERE id = ANY($1)", self.loose_outbox)
        if self.campaign_id is not None:
            await self.db.execute("DELETE FROM campaigns WHERE id = $1", self.campaign_id)


@pytest.fixture
async def data(db: asyncpg.Connection) -> AsyncIterator[Fixture]:
    fixture = Fixture(db)
    yield fixture
    await fixture.cleanup()


def settings_for(smtp_url: str, **extra: str) -> Settings:
    env = {
        "SMTP_URL": smtp_url,
        "BASE_URL": BASE_URL + "/",
        "SECRET_KEY": SECRET,
        "MAIL_FROM": "Jouer collectif <lettre@jouer-collectif.example>",
        "MAIL_RETRY_BASE_SECONDS": "0.01",
        "MAIL_MAX_ATTEMPTS": "5",
        "MAIL_POLL_SECONDS": "0.2",
        "TOKEN_TTL_DAYS": "7",
    }
    env.update(extra)
    return load_settings(env)


@pytest.fixture
async def pools(dsn: str) -> AsyncIterator[Callable[[], Any]]:
    """Makes pools that are closed at the end of the test."""
    made: list[asyncpg.Pool] = []

    async def make() -> asyncpg.Pool:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=6)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        await pool.close()


async def make_worker(
    pools: Callable[[], Any], dsn: str, settings: Settings, **kw: Any
) -> MailWorker:
    assert settings.smtp_url is not None
    pool = await pools()
    return MailWorker(
        pool,
        dsn,
        settings,
        MailRenderer(),
        SmtpSender(settings.smtp_url),
        contexts=email_contexts(),
        **kw,
    )


async def drain(worker: MailWorker, data: Fixture, ids: list[int], rounds: int = 100) -> None:
    """Runs rounds until every given message is sent or failed."""
    for _ in range(rounds):
        await worker.run_once()
        statuses = await data.db.fetch("SELECT status FROM outbox WHERE id = ANY($1)", ids)
        if all(r["status"] in ("sent", "failed") for r in statuses):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox was not drained")


def assert_no_personal_data(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("campaign"))
    assert "outbox" in logged
    for secret in secrets:
        assert secret not in logged


# Delivery.


async def test_confirmation_is_delivered_once(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="campaign")
    settings = settings_for(smtp.url)
    worker = await make_worker(pools, dsn, settings)
    signature_id, token_id, token = await data.signature()
    recipient = data.address()
    outbox_id = await data.enqueue(recipient, signature_id, token_id)
    assert (await data.row(outbox_id))["status"] == "queued"

    await drain(worker, data, [outbox_id])
    await worker.run_once()  # nothing more to send

    row = await data.row(outbox_id)
    assert row["status"] == "sent"
    assert row["attempts"] == 1
    assert row["sent_at"] is not None
    assert row["last_error"] is None

    [message] = smtp.recorder.received(recipient)
    assert message["To"] == recipient
    assert "lettre@jouer-collectif.example" in message["From"]
    assert message["Message-ID"] and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "Confirmez votre signature de la lettre « Jouer collectif »"

    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()

    commune = await data.db.fetchrow(
        "SELECT name, departement FROM territories WHERE level = 'commune' AND code = '69123'"
    )
    assert "Bonjour Anne," in text
    assert f"Maire, {commune['name']} ({commune['departement']})" in text
    assert "valable 7 jours" in text
    assert f"{BASE_URL}/confidentialite" in text

    links = CONFIRM_LINK.findall(text)
    assert links == [token]
    assert hashlib.sha256(links[0].encode()).digest() == await data.db.fetchval(
        "SELECT token_hash FROM signature_tokens WHERE id = $1", token_id
    )
    assert f'href="{BASE_URL}/confirmer/{token}"' in html

    assert_no_personal_data(caplog, recipient, token, "Anne", "Martin")


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_temporary_refusals_are_retried_then_delivered_once(
    stage: str, smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    script = smtp.recorder.rcpt_replies if stage == "rcpt" else smtp.recorder.data_replies
    script[recipient] = ["451 4.3.0 Try again later"] * 2
    outbox_id = await data.enqueue(recipient, signature_id, token_id)

    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "queued"
    assert row["attempts"] == 1
    assert row["last_error"].startswith("451")
    assert row["next_attempt_at"] > row["created_at"]

    await drain(worker, data, [outbox_id])
    row = await data.row(outbox_id)
    assert row["status"] == "sent"
    assert row["attempts"] == 3
    assert smtp.recorder.count(recipient) == 1
    assert smtp.recorder.rcpt_calls[recipient] == 3


async def test_backoff_grows_and_gives_up_after_max_attempts(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    settings = settings_for(smtp.url, MAIL_MAX_ATTEMPTS="3", MAIL_RETRY_BASE_SECONDS="0.2")
    worker = await make_worker(pools, dsn, settings)
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    smtp.recorder.rcpt_replies[recipient] = ["421 4.7.0 Trop de connexions"] * 10
    outbox_id = await data.enqueue(recipient, signature_id, token_id)

    delays = []
    for _ in range(2):
        await worker.run_once()
        delays.append(
            await data.db.fetchval(
                "SELECT extract(epoch FROM next_attempt_at - now()) FROM outbox WHERE id = $1",
                outbox_id,
            )
        )
        await asyncio.sleep(float(delays[-1]) + 0.05)
    assert 0.1 < delays[0] <= 0.2 < delays[1] <= 0.4  # base × 2^(attempts - 1)

    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "failed"
    assert row["attempts"] == 3
    assert row["last_error"].startswith("421 4.7.0 Trop de connexions")
    await worker.run_once()
    assert smtp.recorder.rcpt_calls[recipient] == 3
    assert smtp.recorder.count(recipient) == 0


async def test_backoff_is_capped_and_an_endless_lease_loop_is_cut(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    settings = settings_for(smtp.url, MAIL_MAX_ATTEMPTS="3", MAIL_RETRY_BASE_SECONDS="3000")
    worker = await make_worker(pools, dsn, settings)
    signature_id, token_id, _ = await data.signature()
    capped = await data.enqueue(data.address("capped"), signature_id, token_id)
    smtp.recorder.rcpt_replies[data.address("capped")] = ["451 4.3.0 Try again later"]
    # Two earlier attempts, the second one interrupted: this is the third.
    dying = await data.enqueue(data.address("dying"), signature_id, token_id)
    await data.db.execute(
        """UPDATE outbox SET status = 'sending', attempts = CASE id WHEN $1 THEN 1 ELSE 3 END,
                  locked_until = now() - interval '1 second' WHERE id = ANY($2)""",
        capped,
        [capped, dying],
    )
    await worker.run_once()
    row = await data.row(capped)
    assert row["status"] == "queued"
    delay = await data.db.fetchval(
        "SELECT extract(epoch FROM next_attempt_at - now()) FROM outbox WHERE id = $1", capped
    )
    assert 3500 < delay <= 3600  # min(3000 × 2, one hour)
    # The worker holding the last attempt died: the message is given up, not sent a 4th time.
    row = await data.row(dying)
    assert row["status"] == "failed"
    assert row["attempts"] == 4
    assert row["last_error"].startswith("Abandonné")
    assert smtp.recorder.count(data.address("dying")) == 0


async def test_smtp_down_keeps_the_message_until_the_server_is_back(
    data: Fixture, dsn: str, pools: Any
) -> None:
    server = SmtpServer()  # its port is free: nothing listens yet
    worker = await make_worker(pools, dsn, settings_for(server.url))
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    outbox_id = await data.enqueue(recipient, signature_id, token_id)

    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "queued"
    assert row["attempts"] == 1
    assert row["last_error"]

    server.start()
    try:
        await asyncio.sleep(0.05)
        await drain(worker, data, [outbox_id])
        row = await data.row(outbox_id)
        assert row["status"] == "sent"
        assert row["attempts"] == 2
        assert server.recorder.count(recipient) == 1
    finally:
        server.stop()


async def test_permanent_refusal_is_recorded_and_not_retried(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="campaign")
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    smtp.recorder.rcpt_replies[recipient] = ["550 5.1.1 Mailbox unknown"] * 5
    outbox_id = await data.enqueue(recipient, signature_id, token_id)

    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert row["last_error"] == "550 5.1.1 Mailbox unknown"

    await asyncio.sleep(0.05)
    await worker.run_once()
    assert (await data.row(outbox_id))["attempts"] == 1
    assert smtp.recorder.rcpt_calls[recipient] == 1
    assert smtp.recorder.count(recipient) == 0
    assert_no_personal_data(caplog, recipient)


async def test_permanent_refusal_of_the_data(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    smtp.recorder.data_replies[recipient] = ["554 5.7.1 Message refused as spam"]
    outbox_id = await data.enqueue(recipient, signature_id, token_id)

    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "failed"
    assert row["last_error"] == "554 5.7.1 Message refused as spam"


async def test_expired_lease_is_reclaimed_and_sent_once(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    outbox_id = await data.enqueue(recipient, signature_id, token_id)
    # A worker claimed it, then died mid-send: its lease ran out a second ago.
    await data.db.execute(
        """UPDATE outbox SET status = 'sending', attempts = 1,
                  locked_until = now() - interval '1 second' WHERE id = $1""",
        outbox_id,
    )
    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "sent"
    assert row["attempts"] == 2
    assert smtp.recorder.count(recipient) == 1


async def test_a_live_lease_is_left_alone_and_a_late_outcome_is_dropped(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    pool = await pools()
    signature_id, token_id, _ = await data.signature()
    recipient = data.address()
    outbox_id = await data.enqueue(recipient, signature_id, token_id)

    # Another worker holds it: not claimed again while its lease runs.
    await data.db.execute(
        """UPDATE outbox SET status = 'sending', attempts = 1,
                  locked_until = now() + interval '1 minute' WHERE id = $1""",
        outbox_id,
    )
    await worker.run_once()
    assert (await data.row(outbox_id))["status"] == "sending"
    assert smtp.recorder.count(recipient) == 0

    # Its lease runs out, this worker takes over and sends; the slow one then reports too late.
    await data.db.execute(
        "UPDATE outbox SET locked_until = now() - interval '1 second' WHERE id = $1", outbox_id
    )
    await worker.run_once()
    stale = outbox.ClaimedMail(
        id=outbox_id,
        template="confirm",
        recipient=recipient,
        signature_id=signature_id,
        token_id=token_id,
        attempts=1,
    )
    assert not await outbox.mark_failed(pool, stale, "trop tard")
    assert not await outbox.mark_retry(pool, stale, 1.0, "trop tard")
    assert not await outbox.SentLog(pool).record(stale)
    row = await data.row(outbox_id)
    assert row["status"] == "sent"
    assert row["attempts"] == 2
    assert row["last_error"] is None
    assert smtp.recorder.count(recipient) == 1


async def test_sends_ending_together_are_recorded_in_one_commit(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    """A commit per message was the mail worker's main cost in a rush: the messages whose sends
    end while one is being recorded are recorded together (rows written by one transaction
    share its xmin); a round of the worker sends and records them all."""
    pool = await pools()
    ids = []
    for n in range(12):
        signature_id, token_id, _ = await data.signature(f"together-{n}")
        ids.append(await data.enqueue(data.address(f"together-{n}"), signature_id, token_id))
    claimed = [m for m in await outbox.claim(pool, limit=100, lease_seconds=60) if m.id in ids]
    assert len(claimed) == 12
    sent_log = outbox.SentLog(pool)
    assert await asyncio.gather(*(sent_log.record(m) for m in claimed)) == [True] * 12
    rows = await data.db.fetch(
        "SELECT status, xmin::text AS tx FROM outbox WHERE id = ANY($1)", ids
    )
    assert [r["status"] for r in rows] == ["sent"] * 12
    assert len({r["tx"] for r in rows}) == 1
    assert await sent_log.record(claimed[0]) is False  # recorded already: no longer `sending`

    worker = await make_worker(pools, dsn, settings_for(smtp.url), batch_size=12)
    more = []
    for n in range(12):
        signature_id, token_id, _ = await data.signature(f"round-{n}")
        more.append(await data.enqueue(data.address(f"round-{n}"), signature_id, token_id))
    await drain(worker, data, more)
    statuses = await data.db.fetch("SELECT status FROM outbox WHERE id = ANY($1)", more)
    assert [r["status"] for r in statuses] == ["sent"] * 12
    assert sum(smtp.recorder.count(data.address(f"round-{n}")) for n in range(12)) == 12


async def test_a_message_that_cannot_be_built_fails_without_stopping_the_others(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    signature_id, token_id, _ = await data.signature()
    good = await data.enqueue(data.address("good"), signature_id, token_id)
    unknown = await data.enqueue(data.address("unknown"), signature_id, token_id, "nope")
    orphan = await data.enqueue(data.address("orphan"), None, None)  # needs a signature
    no_token = await data.enqueue(data.address("notoken"), signature_id, None)

    await drain(worker, data, [good, unknown, orphan, no_token])
    assert (await data.row(good))["status"] == "sent"
    for outbox_id in (unknown, orphan, no_token):
        row = await data.row(outbox_id)
        assert row["status"] == "failed", outbox_id
        assert row["last_error"].startswith("Rendu impossible")
        assert row["attempts"] == 1
    assert smtp.recorder.count(data.address("good")) == 1
    assert smtp.recorder.count(data.address("unknown")) == 0


async def test_a_deleted_token_fails_the_message(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    worker = await make_worker(pools, dsn, settings_for(smtp.url))
    signature_id, _, _ = await data.signature()
    _, other_token_id, _ = await data.signature("other")
    # A token of another signature is not this signature's link.
    outbox_id = await data.enqueue(data.address(), signature_id, other_token_id)
    await worker.run_once()
    row = await data.row(outbox_id)
    assert row["status"] == "failed"
    assert row["last_error"] == "Lien de confirmation introuvable"


async def test_two_workers_deliver_each_message_exactly_once(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    settings = settings_for(smtp.url, MAIL_POLL_SECONDS="0.5")
    workers = [await make_worker(pools, dsn, settings, batch_size=4) for _ in range(2)]
    signature_id, token_id, _ = await data.signature()
    stop = asyncio.Event()
    runs = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await asyncio.sleep(0.2)  # both are listening
        recipients = [data.address(f"n{i}") for i in range(50)]
        ids = []
        async with data.db.transaction():
            for recipient in recipients:
                ids.append(
                    await outbox.enqueue(
                        data.db,
                        template="confirm",
                        recipient=recipient,
                        signature_id=signature_id,
                        token_id=token_id,
                    )
                )
        for _ in range(300):
            sent = await data.db.fetchval(
                "SELECT count(*) FROM outbox WHERE id = ANY($1) AND status = 'sent'", ids
            )
            if sent == len(ids):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*runs), timeout=10)

    assert sent == 50
    assert all(smtp.recorder.count(r) == 1 for r in recipients)
    assert await data.db.fetchval("SELECT max(attempts) FROM outbox WHERE id = ANY($1)", ids) == 1


async def test_the_worker_wakes_on_notify_and_listens_again_after_a_drop(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any
) -> None:
    # Polling every minute: only a NOTIFY can deliver within the few seconds waited below.
    # A name of its own: the app server of other tests runs a worker that listens too.
    name = "test-mail-listener"
    worker = await make_worker(
        pools, dsn, settings_for(smtp.url, MAIL_POLL_SECONDS="60"), listener_name=name
    )
    signature_id, token_id, _ = await data.signature()
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))

    async def delivered(recipient: str) -> bool:
        for _ in range(100):
            if smtp.recorder.count(recipient) == 1:
                return True
            await asyncio.sleep(0.05)
        return False

    async def listening() -> bool:
        for _ in range(100):
            found = await data.db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                name,
            )
            if found:
                return True
            await asyncio.sleep(0.05)
        return False

    try:
        assert await listening()
        await asyncio.sleep(0.2)
        await data.enqueue(data.address("first"), signature_id, token_id)
        assert await delivered(data.address("first"))

        await data.db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            name,
        )
        await asyncio.sleep(0.1)
        assert await listening()
        await asyncio.sleep(0.3)
        await data.enqueue(data.address("second"), signature_id, token_id)
        assert await delivered(data.address("second"))
    finally:
        stop.set()
        await asyncio.wait_for(run, timeout=10)
    assert not await data.db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name
    )


async def test_the_queue_rate_is_measured_from_the_newest_message(
    data: Fixture, pools: Any
) -> None:
    pool = await pools()
    now = [100.0]
    rate = QueueRate(pool, window=0.5, clock=lambda: now[0])
    assert await rate.per_second() == 0  # the first look: nothing to compare with
    before = await outbox.newest_id(pool)
    signature_id, token_id, _ = await data.signature()
    for n in range(30):
        await data.enqueue(data.address(f"rate-{n}"), signature_id, token_id)
    now[0] += 0.2
    assert await rate.per_second() == 0, "within the window: the last measure"
    now[0] += 0.3
    queued = await outbox.newest_id(pool) - before  # these 30, and whatever else came
    assert queued >= 30
    assert await rate.per_second() == pytest.approx(queued / 0.5)
    now[0] += 1
    assert await rate.per_second() == 0


async def test_the_worker_yields_to_a_rush_of_signings_then_sends_the_rest(
    smtp: SmtpServer, data: Fixture, dsn: str, pools: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """While messages are queued faster than MAIL_RUSH_ABOVE a second, the worker sends at most
    MAIL_RUSH_RATE a second; at full speed again once the rush has passed. The same rush with
    MAIL_RUSH_RATE=0 (no yielding) shows what full speed sends meanwhile."""
    caplog.set_level(logging.INFO, logger="campaign.mail.worker")
    signature_id, token_id, _ = await data.signature()

    async def rush(worker: MailWorker, label: str) -> tuple[int, list[int], float]:
        """Queues 200 messages a second for two seconds while the worker runs; returns how
        many it sent meanwhile, the messages, and how long the rush lasted."""
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        ids: list[int] = []
        started = time.monotonic()
        try:
            for tick in range(40):
                async with data.db.transaction():
                    for n in range(10):
                        ids.append(
                            await outbox.enqueue(
                                data.db,
                                template="confirm",
                                recipient=data.address(f"{label}-{tick}-{n}"),
                                signature_id=signature_id,
                                token_id=token_id,
                            )
                        )
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            sent = await data.db.fetchval(
                "SELECT count(*) FROM outbox WHERE id = ANY($1) AND status = 'sent'", ids
            )
            for _ in range(300):  # then the rest, at full speed
                if not await data.db.fetchval(
                    "SELECT count(*) FROM outbox WHERE id = ANY($1) AND status <> 'sent'", ids
                ):
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(run, timeout=10)
        return sent, ids, elapsed

    async def worker(rush_rate: str) -> MailWorker:
        settings = settings_for(smtp.url, MAIL_RUSH_ABOVE="100", MAIL_RUSH_RATE=rush_rate)
        rate = QueueRate(await pools(), window=0.2)
        return await make_worker(pools, dsn, settings, batch_size=5, queued=rate)

    paced = await worker("20")
    sent, ids, elapsed = await rush(paced, "paced")
    # At most 20 a second once the rush is seen; before, full speed for a window or two (what
    # 0.35 s of the rush queued, 70 messages) and a round of 5 under way.
    assert sent <= 20 * elapsed + 75, (sent, elapsed)
    assert not paced.rush, "the rush has passed"
    assert await data.db.fetchval(
        "SELECT count(*) FROM outbox WHERE id = ANY($1) AND status = 'sent'", ids
    ) == len(ids)
    said = [r.getMessage() for r in caplog.records if r.name == "campaign.mail.worker"]
    assert any("a rush of signings: at most 20/s sent" in m for m in said)
    assert any("the rush has passed" in m for m in said)

    sent, ids, elapsed = await rush(await worker("0"), "full")
    assert sent >= 200, (sent, elapsed)


# Rendering and the message itself.


def test_renderer_escapes_html_only(tmp_path: Path) -> None:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "subject.txt").write_text("  Bonjour\n {{ name }} \n")
    (tmp_path / "hello" / "body.txt").write_text("Bonjour {{ name }}")
    (tmp_path / "hello" / "body.html").write_text("<p>Bonjour {{ name }}</p>")
    rendered = MailRenderer(tmp_path).render("hello", {"name": "A & <B>"})
    assert rendered == RenderedEmail(
        subject="Bonjour A & <B>",
        text="Bonjour A & <B>\n",
        html="<p>Bonjour A &amp; &lt;B&gt;</p>",
    )
    with pytest.raises(Exception, match="name"):
        MailRenderer(tmp_path).render("hello", {})


@pytest.mark.parametrize(
    "subject",
    [
        "Élus : signez « la lettre »",
        "Merci d’avoir signé « Jouer collectif », la lettre aux élus locaux : confirmez "
        "votre signature pour qu’elle compte dans votre territoire",
        "Plain subject",
    ],
)
def test_message_is_utf8_multipart_alternative(subject: str) -> None:
    text = "Texte é, « guillemets » et une ligne très longue " * 5 + "\nfin\n"
    rendered = RenderedEmail(subject=subject, text=text, html="<p>é</p>")
    message = build_message(
        rendered,
        sender="Collectif Élus <l@exemple.fr>",
        recipient="a@b.fr",
        message_id_domain="exemple.fr",
        headers={"List-Unsubscribe": f"<https://exemple.fr/retirer/{'a' * 100}>"},
    )
    raw = flatten(message)
    assert raw.isascii()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert parsed["From"] == "Collectif Élus <l@exemple.fr>"
    assert parsed["To"] == "a@b.fr"
    assert parsed["Message-ID"].endswith("@exemple.fr>")
    # Not folded: a mail client would read it with a space before the link.
    assert parsed["List-Unsubscribe"] == f"<https://exemple.fr/retirer/{'a' * 100}>"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parsed.iter_parts())
    plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # CRLF on the wire; the space at the end of the long line is dropped (mail.py, _text_part).
    assert plain.replace("\r\n", "\n") == text.replace(" \n", "\n")
    assert parsed.get_body(("html",)).get_content() == "<p>é</p>"  # type: ignore[union-attr]


def test_bodies_keep_their_text_within_76_characters_a_line() -> None:
    """Quoted-printable (binascii's): every body line within RFC 2045's 76 characters, the text
    as written but the spaces ending its lines, and a line starting with "From " left alone
    (an mbox habit of the email package turned it into ">From ")."""
    text = (
        "From the town hall of Saint-Étienne, with a = sign and tabs\t \n"
        + "é" * 120
        + "\n"
        + "x" * 75
        + " \n. a line starting with a dot\n"
    )
    raw = flatten(
        build_message(
            RenderedEmail(subject="s", text=text, html=f"<p>{text}</p>"),
            sender="l@exemple.fr",
            recipient="a@b.fr",
            message_id_domain="exemple.fr",
        )
    )
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    expected = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    for part in parsed.iter_parts():
        content = part.get_content().replace("\r\n", "\n")
        assert content in (expected, f"<p>{expected}</p>")


@pytest.mark.parametrize("header", ["Subject", "List-Unsubscribe"])
def test_a_line_break_in_a_header_is_refused(header: str) -> None:
    values = {"subject": "Objet", "headers": {"List-Unsubscribe": "<https://exemple.fr/r>"}}
    if header == "Subject":
        values["subject"] = "Objet\r\nBcc: victime@exemple.fr"
    else:
        values["headers"] = {"List-Unsubscribe": "<https://x>\nBcc: victime@exemple.fr"}
    with pytest.raises(ValueError, match=header):
        build_message(
            RenderedEmail(subject=str(values["subject"]), text="t", html="h"),
            sender="l@exemple.fr",
            recipient="a@b.fr",
            message_id_domain="exemple.fr",
            headers=values["headers"],  # type: ignore[arg-type]
        )


def test_smtp_url_is_parsed() -> None:
    sender = SmtpSender("smtps://user%40x:p%3Ass@mail.example.fr")
    assert (sender._hostname, sender._port, sender._use_tls) == ("mail.example.fr", 465, True)
    assert (sender._username, sender._password) == ("user@x", "p:ss")
    with pytest.raises(ValueError):
        SmtpSender("http://mail.example.fr")


# The development sink and its page.


async def test_sink_captures_and_prints_messages(capsys: pytest.CaptureFixture[str]) -> None:
    sink = MailSink()
    url = sink.start()
    try:
        assert url.startswith("smtp://127.0.0.1:")
        assert sink.messages() == []
        link = f"{BASE_URL}/confirmer/{'x' * 43}"
        for n in (1, 2):
            rendered = RenderedEmail(
                subject=f"Confirmez votre signature n°{n}",
                text=f"Bonjour,\n\nCliquez : {link}.\n\nLa lettre : {BASE_URL}/\n",
                html=f'<p><a href="{link}">Confirmer</a></p>',
            )
            message = build_message(
                rendered, sender="l@exemple.fr", recipient="anne@mairie.fr", message_id_domain="x"
            )
            await aiosmtplib.send(message, hostname="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
        newest, oldest = sink.messages()
        assert newest.subject == "Confirmez votre signature n°2"
        assert oldest.subject == "Confirmez votre signature n°1"
        assert newest.recipient == "anne@mairie.fr"
        assert newest.links == (link, f"{BASE_URL}/")
        assert "Cliquez" in newest.text
        assert sink.get(oldest.id) == oldest
        assert sink.get(999) is None
    finally:
        sink.stop()
    printed = capsys.readouterr().out
    assert "anne@mairie.fr" in printed
    assert "Confirmez votre signature n°1" in printed
    assert link in printed


def test_sink_keeps_only_the_last_messages() -> None:
    sink = MailSink(keep=3, echo=False)
    for n in range(5):
        sink._capture("l@x.fr", ["a@b.fr"], f"Subject: n{n}\n\nhttp://x.fr/{n}\n".encode())
    assert [m.subject for m in sink.messages()] == ["n4", "n3", "n2"]
    assert sink.messages()[0].links == ("http://x.fr/4",)


async def test_devmail_pages(tmp_path: Path) -> None:
    (tmp_path / "base.html").write_text(
        "<title>{% block title %}{% endblock %}</title>"
        "<main>{% block content %}{% endblock %}</main>"
    )
    sink = MailSink(echo=False)
    text = 'Bonjour <script>alert("x")</script>,\nconfirmez : https://lettre.example.fr/confirmer/abc?a=1&b=2.\n'
    raw = build_message(
        RenderedEmail(subject="Objet <b>gras</b>", text=text, html="<p></p>"),
        sender="l@exemple.fr",
        recipient="anne@mairie.fr",
        message_id_domain="x",
    ).as_bytes()
    sink._capture("l@exemple.fr", ["anne@mairie.fr"], raw)

    def make_app(sink: MailSink) -> Litestar:
        return Litestar(
            route_handlers=[DevMailController],
            dependencies={"mail_sink": Provide(lambda: sink, sync_to_thread=False)},
            template_config=TemplateConfig(
                directory=[tmp_path, PACKAGE / "templates"],
                engine=JinjaTemplateEngine,
            ),
        )

    async with AsyncTestClient(make_app(sink)) as client:
        listing = await client.get("/boite-mail")
        assert listing.status_code == 200
        assert "Boîte de test" in listing.text
        assert "anne@mairie.fr" in listing.text
        assert "Objet &lt;b&gt;gras&lt;/b&gt;" in listing.text
        assert 'href="/boite-mail/1"' in listing.text
        assert listing.headers["cache-control"] == "no-store"

        page = await client.get("/boite-mail/1")
        assert page.status_code == 200
        assert "<script>" not in page.text
        assert "&lt;script&gt;" in page.text
        href = 'href="https://lettre.example.fr/confirmer/abc?a=1&amp;b=2"'
        assert page.text.count(href) == 2  # in the list of links and in the text
        assert "abc?a=1&amp;b=2</a>." in page.text

        assert (await client.get("/boite-mail/2")).status_code == 404

    async with AsyncTestClient(make_app(MailSink(echo=False))) as client:
        assert "Aucun message capturé pour l’instant" in (await client.get("/boite-mail")).text


async def test_sender_reports_a_dropped_connection_as_temporary() -> None:
    from campaign.mail.smtp import TemporaryMailError

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 bonjour\r\n")
        await writer.drain()
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        message = build_message(
            RenderedEmail(subject="s", text="t", html="h"),
            sender="l@x.fr",
            recipient="a@b.fr",
            message_id_domain="x",
        )
        with pytest.raises(TemporaryMailError):
            await SmtpSender(f"smtp://127.0.0.1:{port}").send(message)
        with pytest.raises(TemporaryMailError):
            await SmtpSender(f"smtp://127.0.0.1:{free_port()}").send(message)
    finally:
        server.close()
        await server.wait_closed()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sender = SmtpSender(f"smtp://127.0.0.1:{port}", timeout=0.2, total_timeout=0.5)
        with pytest.raises(TemporaryMailError, match="Délai"):
            await sender.send(message)
    finally:
        server.close()
        await server.wait_closed()


def _message(recipient: str) -> EmailMessage:
    return build_message(
        RenderedEmail(subject="s", text="t", html="h"),
        sender="lettre@jouer-collectif.example",
        recipient=recipient,
        message_id_domain="jouer-collectif.example",
    )


async def test_sender_keeps_its_connection_between_messages(smtp: SmtpServer) -> None:
    """One connection for messages sent one after the other, or side by side as many as were
    open; QUIT on close."""
    sender = SmtpSender(smtp.url)
    for n in range(3):
        await sender.send(_message(f"suite-{n}@mairie-exemple.fr"))
    assert sender.connections == 1
    await asyncio.gather(*(sender.send(_message(f"ensemble-{n}@x.fr")) for n in range(4)))
    await asyncio.gather(*(sender.send(_message(f"encore-{n}@x.fr")) for n in range(4)))
    assert sender.connections == 4
    await sender.close()
    await sender.send(_message("apres@mairie-exemple.fr"))
    assert sender.connections == 5
    await sender.close()
    received = ["suite-0", "suite-1", "suite-2", "apres"]
    assert all(smtp.recorder.count(f"{r}@mairie-exemple.fr") == 1 for r in received)
    assert sum(smtp.recorder.count(f"ensemble-{n}@x.fr") for n in range(4)) == 4


@pytest.mark.parametrize("goodbye", [b"421 4.4.2 Trop long sans rien\r\n", b""])
async def test_sender_takes_a_new_connection_when_the_kept_one_was_dropped(
    goodbye: bytes,
) -> None:
    """A relay that ends an idle connection (with a 421, or silently) when the next message
    comes: the message goes on a new connection, sent once."""
    delivered: list[bytes] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 relais\r\n")
        messages = 0
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"MAIL" and messages == 1:  # idle too long, says the relay
                writer.write(goodbye)
                await writer.drain()
                break
            if verb == b"DATA":
                writer.write(b"354 go\r\n")
                await writer.drain()
                body = await reader.readuntil(b"\r\n.\r\n")
                delivered.append(body)
                messages += 1
                writer.write(b"250 2.0.0 ok\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sender = SmtpSender(f"smtp://127.0.0.1:{port}")
        await sender.send(_message("premier@mairie-exemple.fr"))
        await sender.send(_message("second@mairie-exemple.fr"))
        assert sender.connections == 2
        assert len(delivered) == 2 and b"second@mairie-exemple.fr" in delivered[1]
        await sender.close()
    finally:
        server.close()
        await server.wait_closed()
