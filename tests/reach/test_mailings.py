"""Mailings to signatories: each recipient at most once (even started twice, at once), at the
set rate across several workers, resumed after a restart, with the opt-out link and headers.

The rate and restart tests run their own mail workers against a database of their own (so that
the session server's worker does not take part); the others go through the session server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from campaign.core.audit import CLI_ACTOR
from campaign.core.db import create_pool
from campaign.core.resources import DEMO_CAMPAIGNS
from campaign.core.settings import load_settings
from campaign.letter.campaigns import seed_campaigns
from campaign.mail.message import MailRenderer
from campaign.mail.smtp import SmtpSender
from campaign.mail.worker import MailWorker
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import mailings
from campaign.runtime import email_contexts
from tests.support.admin import campaign_row, make_signature
from tests.support.app import migrated_database
from tests.support.mail import Mailbox
from tests.support.reach import wait_done


async def make_mailing(
    db: asyncpg.Connection, ref: str, *, rate: float = 100.0, subject: str = "Des nouvelles"
) -> int:
    c = await campaign_row(db)
    draft = mailings.Draft(
        subject=subject,
        body="La lettre avance : **merci** à vous.\n",
        filter=SignatoryFilter(status="confirmed", ref=ref),
        rate=rate,
    )
    return await mailings.create(db, c["id"], draft, CLI_ACTOR)


async def signatories(db: asyncpg.Connection, ref: str, n: int, **kwargs: object) -> list[str]:
    emails = [f"m.{uuid.uuid4().hex[:10]}@mairie-test.fr" for _ in range(n)]
    for address in emails:
        await make_signature(db, email=address, ref=ref, **kwargs)  # type: ignore[arg-type]
    return emails


async def test_started_twice_at_once_each_signatory_gets_it_once(
    server: str, db: asyncpg.Connection, dsn: str, mailbox: Mailbox
) -> None:
    ref = f"twice-{uuid.uuid4().hex[:6]}"
    emails = await signatories(db, ref, 5)
    await make_signature(db, ref=ref, status="pending")  # not confirmed: not a recipient
    mailing_id = await make_mailing(db, ref)
    other = await asyncpg.connect(dsn)
    try:
        added = await asyncio.gather(
            mailings.start(db, mailing_id, CLI_ACTOR), mailings.start(other, mailing_id, CLI_ACTOR)
        )
    finally:
        await other.close()
    assert sorted(added) == [0, 5]
    assert await mailings.start(db, mailing_id, CLI_ACTOR) == 0  # a third time: nobody new
    await wait_done(db, mailing_id)
    for address in emails:
        (message,) = await mailbox.wait_for(address)
        assert message["Subject"] == "Des nouvelles"
        text = message.get_body(("plain",)).get_content()
        assert "La lettre avance : **merci** à vous." in text
        assert "<strong>merci</strong>" in message.get_body(("html",)).get_content()
        assert "/desinscription/" in text
        assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:")
        assert "/desinscription/" in message["List-Unsubscribe"]
        assert "/retirer/" in text  # the withdrawal link of issue 6, for signatories
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    await asyncio.sleep(0.5)
    assert all(len(mailbox.to(a)) == 1 for a in emails)
    mailing = await mailings.get(db, mailing_id)
    assert mailing is not None
    progress = await mailings.progress(db, mailing)
    assert (progress.sent, progress.queued, progress.failed, progress.recipients) == (5, 0, 0, 5)
    assert sum(m.sent for m in progress.per_minute) == 5


async def test_filter_by_mandate_and_territory(
    server: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    ref = f"filtre-{uuid.uuid4().hex[:6]}"
    (lyon_maire,) = await signatories(db, ref, 1, mandate="maire", code="69123")
    await signatories(db, ref, 1, mandate="adjoint", code="69123")
    await signatories(db, ref, 1, mandate="maire", code="44109")
    c = await campaign_row(db)
    draft = mailings.Draft(
        subject="Aux maires du Rhône",
        body="Bonjour.\n",
        filter=SignatoryFilter(status="confirmed", ref=ref, mandate="maire", departement="69"),
        rate=50,
    )
    mailing_id = await mailings.create(db, c["id"], draft, CLI_ACTOR)
    assert await mailings.start(db, mailing_id, CLI_ACTOR) == 1
    await wait_done(db, mailing_id)
    assert len(await mailbox.wait_for(lyon_maire)) == 1


@contextlib.asynccontextmanager
async def own_database(pg_server: str) -> AsyncIterator[str]:
    name = f"mailing_{uuid.uuid4().hex[:8]}"
    url = await migrated_database(pg_server, name)
    conn = await asyncpg.connect(url)
    try:
        await seed_campaigns(conn, DEMO_CAMPAIGNS)
    finally:
        await conn.close()
    yield url


@contextlib.asynccontextmanager
async def workers(url: str, mailbox: Mailbox, n: int) -> AsyncIterator[asyncio.Event]:
    """`n` mail workers (as `n` processes would run them) sending to `mailbox`."""
    settings = load_settings(
        {
            "DATABASE_URL": url,
            "SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}",  # type: ignore[attr-defined]
            "SECRET_KEY": "test-secret-key-not-for-production",
            "MAIL_POLL_SECONDS": "0.5",
            "BASE_URL": "http://127.0.0.1:9",
        }
    )
    pool = await create_pool(url)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            MailWorker(
                pool,
                url,
                settings,
                MailRenderer(),
                SmtpSender(settings.smtp_url or ""),
                contexts=email_contexts(),
                listener_name=f"test-worker-{i}",
            ).run(stop)
        )
        for i in range(n)
    ]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await pool.close()


async def test_the_rate_holds_across_workers(pg_server: str, mailbox: Mailbox) -> None:
    async with own_database(pg_server) as url:
        db = await asyncpg.connect(url)
        try:
            ref = "debit"
            emails = await signatories(db, ref, 40)
            mailing_id = await make_mailing(db, ref, rate=10)
            async with workers(url, mailbox, 3):
                await mailings.start(db, mailing_id, CLI_ACTOR)
                await wait_done(db, mailing_id)
            times = sorted(
                r["sent_at"]
                for r in await db.fetch(
                    "SELECT sent_at FROM outbox WHERE mailing_id = $1 AND bulk", mailing_id
                )
            )
        finally:
            await db.close()
    assert len(times) == 40
    # 10 per second with a burst of one second's worth: 40 messages take at least 3 s.
    elapsed = (times[-1] - times[0]).total_seconds()
    assert 2.7 <= elapsed <= 8, elapsed
    # No second window holds more than the rate plus the burst.
    for i, start in enumerate(times):
        within = [t for t in times[i:] if t - start < timedelta(seconds=1)]
        assert len(within) <= 21, (i, len(within))
    for address in emails:
        assert len(mailbox.to(address)) == 1


async def test_resumes_after_a_restart_and_never_resends_an_interrupted_message(
    pg_server: str, mailbox: Mailbox
) -> None:
    async with own_database(pg_server) as url:
        db = await asyncpg.connect(url)
        try:
            emails = await signatories(db, "reprise", 30)
            mailing_id = await make_mailing(db, "reprise", rate=20)
            async with workers(url, mailbox, 1):
                await mailings.start(db, mailing_id, CLI_ACTOR)
                await asyncio.sleep(0.6)
            sent_first = await db.fetchval(
                "SELECT count(*) FROM outbox WHERE mailing_id = $1 AND status = 'sent'",
                mailing_id,
            )
            assert 0 < sent_first < 30
            # A worker that died mid-send left a message 'sending': its lease runs out.
            interrupted = await db.fetchval(
                """UPDATE outbox SET status = 'sending', attempts = 1,
                          locked_until = now() - interval '1 second'
                   WHERE id = (SELECT min(id) FROM outbox
                               WHERE mailing_id = $1 AND status = 'queued')
                   RETURNING recipient""",
                mailing_id,
            )
            async with workers(url, mailbox, 2):  # the restart
                await wait_done(db, mailing_id)
            rows = await db.fetch(
                "SELECT recipient, status, last_error FROM outbox WHERE mailing_id = $1",
                mailing_id,
            )
        finally:
            await db.close()
    by_address = {r["recipient"]: r for r in rows}
    assert by_address[interrupted]["status"] == "failed"
    assert "au plus une fois" in by_address[interrupted]["last_error"]
    assert mailbox.to(interrupted) == []
    for address in emails:
        if address != interrupted:
            assert by_address[address]["status"] == "sent"
            assert len(mailbox.to(address)) == 1


async def test_pause_resume_and_cancel(server: str, db: asyncpg.Connection) -> None:
    ref = f"pause-{uuid.uuid4().hex[:6]}"
    await signatories(db, ref, 6)
    mailing_id = await make_mailing(db, ref, rate=0.5)
    await mailings.start(db, mailing_id, CLI_ACTOR)
    assert await mailings.set_status(db, mailing_id, "pause", CLI_ACTOR)
    assert not await mailings.set_status(db, mailing_id, "pause", CLI_ACTOR)
    await asyncio.sleep(1.2)
    sent_paused = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE mailing_id = $1 AND status = 'sent'", mailing_id
    )
    assert sent_paused <= 1  # one burst slot at most went before the pause
    assert await mailings.set_status(db, mailing_id, "resume", CLI_ACTOR)
    assert await mailings.set_status(db, mailing_id, "cancel", CLI_ACTOR)
    mailing = await mailings.get(db, mailing_id)
    assert mailing is not None and mailing.status == "cancelled"
    progress = await mailings.progress(db, mailing)
    assert progress.queued == 0 and progress.cancelled >= 4
    with pytest.raises(mailings.MailingError):
        await mailings.start(db, mailing_id, CLI_ACTOR)


async def test_the_command_line_creates_starts_and_follows_a_mailing(
    server: str, db: asyncpg.Connection, dsn: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    (address,) = await signatories(
        db, "ligne-de-commande", 1, mandate="senateur", level="departement", code="2A"
    )
    body = tmp_path / "message.md"
    body.write_text("Un mot pour les **sénateurs**.\n", "utf-8")
    env = {**os.environ, "DATABASE_URL": dsn}

    async def campaign(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "campaign",
            "mailing",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        return process.returncode or 0, out.decode(), err.decode()

    code, out, err = await campaign(
        "create",
        "--subject",
        "Aux sénateurs de Corse-du-Sud",
        "--body-file",
        str(body),
        "--mandate",
        "senateur",
        "--departement",
        "2A",
        "--rate",
        "abc",
    )
    assert code != 0 and "rate" in err and "messages par seconde" in err
    code, out, _ = await campaign(
        "create",
        "--subject",
        "Aux sénateurs de Corse-du-Sud",
        "--body-file",
        str(body),
        "--mandate",
        "senateur",
        "--departement",
        "2A",
        "--rate",
        "10",
        "--start",
    )
    assert code == 0, out
    mailing_id = int(re.search(r"Envoi n° (\d+) créé", out).group(1))  # type: ignore[union-attr]
    assert "destinataire(s) dans la file d’envoi" in out
    (message,) = await mailbox.wait_for(address)
    assert message["Subject"] == "Aux sénateurs de Corse-du-Sud"
    await wait_done(db, mailing_id)
    code, out, _ = await campaign("start", str(mailing_id))
    assert code == 0 and "0 destinataire(s) ajouté(s)" in out
    code, out, _ = await campaign("status", str(mailing_id))
    assert code == 0 and "Terminé" in out and "en échec" in out
    assert len(mailbox.to(address)) == 1
