"""Mail faults, over loopback with real SMTP servers: a worker killed between sending and recording
(the message is re-sent once, with the same Message-ID, never lost), and the relay refusing our
credentials (535: the operator is alerted in the log and the back office, the messages are kept
and retried slowly, never marked failed)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from campaign.core.resources import DEMO_CAMPAIGNS
from campaign.letter.campaigns import seed_campaigns
from campaign.mail import outbox
from tests.support.admin import logged_in, make_signature
from tests.support.app import app_server, free_port, migrated_database, unique_email
from tests.support.hardening import SIGN, Process, body, captured_logs
from tests.support.mail import Mailbox

CAMPAIGNS = DEMO_CAMPAIGNS
SMTP_USER = "compte-relais-x7"
GOOD_PASSWORD = "le-bon-secret-9f2"
BAD_PASSWORD = "un-secret-perime-4c1"


async def _wait_until(check: Any, timeout: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _received(box: Mailbox, address: str, count: int) -> list[Any]:
    """The messages for `address` once there are `count` of them. Polled: the SMTP server runs in
    its own thread, and an idle test loop would not wake up for its asyncio.Event."""

    async def arrived() -> list[Any]:
        return box.to(address) if len(box.to(address)) >= count else []

    return list(await _wait_until(arrived, 30, f"{count} message(s)"))


# -- killed between sending and recording -----------------------------------------------------


class KillingMailbox(Mailbox):
    """Receives a message, then SIGKILLs the worker that sent it before answering: the message
    is delivered, and the worker never learns it (nor records it)."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: Process | None = None

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.victim is not None:
            victim, self.victim = self.victim, None
            os.kill(victim.proc.pid, signal.SIGKILL)
            victim.proc.wait(timeout=10)
        return answer


async def test_a_worker_killed_after_sending_and_before_recording_loses_nothing(
    pg_server: str, tmp_path: Path
) -> None:
    from aiosmtpd.controller import Controller

    dsn = await migrated_database(pg_server, "campaign_killed_worker")
    box = KillingMailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    db = await asyncpg.connect(dsn)
    address = unique_email("tue")
    env = {
        "DATABASE_URL": dsn,
        "SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
        "MAIL_POLL_SECONDS": "0.2",
        "MAIL_LEASE_SECONDS": "2",
    }
    first = second = None
    try:
        await seed_campaigns(db, CAMPAIGNS)  # what `serve` does on first start
        signature_id = await make_signature(db, email=address, status="confirmed")
        outbox_id = await outbox.enqueue(
            db,
            template="already_signed",
            recipient=address,
            signature_id=signature_id,
            token_id=None,
        )
        first = Process(["worker"], env, tmp_path / "worker-1.log")
        box.victim = first
        [message] = await _received(box, address, 1)
        assert await first.wait(timeout=10) == -signal.SIGKILL
        row = await db.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", outbox_id)
        assert (row["status"], row["attempts"]) == ("sending", 1)  # sent, never recorded

        # Another worker takes it over once the dead one's lease runs out, and sends it again.
        second = Process(["worker"], env, tmp_path / "worker-2.log")
        again = await _received(box, address, 2)

        async def recorded() -> bool:
            status = await db.fetchval("SELECT status FROM outbox WHERE id = $1", outbox_id)
            return status == "sent"

        await _wait_until(recorded, 10, "the second send to be recorded")
        await asyncio.sleep(1.0)  # and nothing more comes
        assert len(box.to(address)) == 2
        ids = {m["Message-ID"] for m in again}
        domain = "jouer-collectif.localhost"
        assert ids == {f"<outbox-{outbox_id}@{domain}>"}, ids
        assert message["Subject"] == again[1]["Subject"]
        assert await db.fetchval("SELECT attempts FROM outbox WHERE id = $1", outbox_id) == 2
    finally:
        for process in (first, second):
            if process is not None:
                process.close()
        await db.close()
        controller.stop()


async def test_every_outbox_message_has_its_own_stable_message_id(
    server: str, client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    addresses = [unique_email("msgid") for _ in range(3)]
    for address in addresses:
        assert (await client.post(SIGN, json=body(address))).status_code == 202
    for address in addresses:
        [message] = await mailbox.wait_for(address)
        outbox_id = await db.fetchval("SELECT id FROM outbox WHERE recipient = $1", address)
        assert message["Message-ID"] == f"<outbox-{outbox_id}@jouer-collectif.localhost>"


# -- the relay refuses our credentials (535) ----------------------------------------------------


class AuthMailbox(Mailbox):
    """A relay that wants SMTP_USER / GOOD_PASSWORD."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, auth: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        def text(value: str | bytes) -> str:
            return value.decode() if isinstance(value, bytes) else value

        ok = text(auth.login) == SMTP_USER and text(auth.password) == GOOD_PASSWORD
        if not ok:
            self.refused += 1
        return AuthResult(success=ok, handled=False)  # the relay answers 535 itself


# The test relay has no TLS: aiosmtpd warns about AUTH without TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_535_alerts_the_operator_and_keeps_every_message(
    pg_server: str, tmp_path: Path
) -> None:
    from aiosmtpd.controller import Controller

    dsn = await migrated_database(pg_server, "campaign_smtp_auth")
    relay = AuthMailbox()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=free_port(),
        auth_required=True,
        auth_require_tls=False,
        authenticator=relay.authenticate,
    )
    controller.start()
    port = controller.port
    addresses = [unique_email("relais") for _ in range(3)]
    db = await asyncpg.connect(dsn)
    try:
        with captured_logs() as logs:
            async with app_server(
                DATABASE_URL=dsn,
                SMTP_URL=f"smtp://{SMTP_USER}:{BAD_PASSWORD}@127.0.0.1:{port}",
                MAIL_AUTH_RETRY_SECONDS="0.3",
                MAIL_MAX_ATTEMPTS="2",
            ) as base:
                async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                    for address in addresses:
                        assert (await client.post(SIGN, json=body(address))).status_code == 202

                # Many more rounds than MAIL_MAX_ATTEMPTS: still kept, never failed.
                async def refused_often() -> bool:
                    return relay.refused >= 4 * len(addresses)

                await _wait_until(refused_often, 20, "the relay to refuse several rounds")
                rows = await db.fetch(
                    "SELECT status, attempts, last_error, next_attempt_at - now() AS wait "
                    "FROM outbox WHERE recipient = ANY($1)",
                    addresses,
                )
                assert len(rows) == len(addresses)
                for row in rows:
                    assert row["status"] in ("queued", "sending"), row
                    assert row["attempts"] <= 1, row  # refused attempts are not counted
                    assert "535" in row["last_error"], row
                alert = await db.fetchrow("SELECT * FROM service_alerts WHERE kind = 'smtp_auth'")
                assert alert is not None and "535" in alert["detail"]
                assert SMTP_USER not in alert["detail"] and BAD_PASSWORD not in alert["detail"]

                # The back office shows it on the dashboard and on the mail page.
                async with logged_in(base, db, "viewer") as viewer:
                    page = await viewer.get("/admin")
                    assert "Le relais SMTP refuse les identifiants" in page.text
                async with logged_in(base, db, "organiser") as organiser:
                    page = await organiser.get("/admin/courriels")
                    assert "Le relais SMTP refuse les identifiants" in page.text
            assert not relay.messages
        text = logs.text()
        assert "SMTP relay refuses the service's credentials (535)" in text
        assert any(line.startswith("ERROR campaign.mail.worker") for line in logs.lines)
        for secret in (SMTP_USER, BAD_PASSWORD, *addresses):
            assert secret not in text, secret

        # The operator fixes SMTP_URL: every kept message goes out, the alert goes away.
        async with app_server(
            DATABASE_URL=dsn,
            SMTP_URL=f"smtp://{SMTP_USER}:{GOOD_PASSWORD}@127.0.0.1:{port}",
            MAIL_AUTH_RETRY_SECONDS="0.3",
        ) as base:
            for address in addresses:
                await _received(relay, address, 1)

            async def cleared() -> bool:
                n = await db.fetchval("SELECT count(*) FROM service_alerts")
                return n == 0

            await _wait_until(cleared, 10, "the alert to clear")
            async with logged_in(base, db, "viewer") as viewer:
                assert "Le relais SMTP refuse" not in (await viewer.get("/admin")).text
        statuses = await db.fetch("SELECT status FROM outbox WHERE recipient = ANY($1)", addresses)
        assert {r["status"] for r in statuses} == {"sent"}
    finally:
        await db.close()
        controller.stop()


def test_the_message_id_is_deterministic_per_outbox_row() -> None:
    from campaign.mail.message import RenderedEmail, build_message

    rendered = RenderedEmail(subject="s", text="t", html="<p>h</p>")
    one = build_message(
        rendered,
        sender="l@x.fr",
        recipient="a@b.fr",
        message_id_domain="x.fr",
        message_id="<outbox-42@x.fr>",
    )
    two = build_message(
        rendered,
        sender="l@x.fr",
        recipient="a@b.fr",
        message_id_domain="x.fr",
        message_id="<outbox-42@x.fr>",
    )
    assert one["Message-ID"] == two["Message-ID"] == "<outbox-42@x.fr>"
