"""`campaign serve` as a real process: SIGTERM during requests (in-flight requests complete, new
ones are refused, the mail worker gives back its claims, the process exits in time), and no
`Server` banner on its responses."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.support.app import free_port, migrated_database, unique_email
from tests.support.hardening import SIGN, Process, body, wait_http
from tests.support.mail import Mailbox
from tests.support.public import eventually

EXIT_WITHIN = 15.0  # uvicorn's graceful 5 s for requests, then the runtime's own shutdown


class SlowMailbox(Mailbox):
    """An SMTP server that takes its time over DATA (until released): a send stays in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


async def test_sigterm_lets_requests_finish_releases_mail_claims_and_exits(
    pg_server: str, tmp_path: Path
) -> None:
    from aiosmtpd.controller import Controller

    name = "campaign_sigterm"
    dsn = await migrated_database(pg_server, name)
    box = SlowMailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = Process(
        ["serve"],
        {
            "DATABASE_URL": dsn,
            "SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "BASE_URL": base,
            "MAIL_POLL_SECONDS": "0.2",
        },
        tmp_path / "serve.log",
    )
    db = await asyncpg.connect(dsn)
    locker = await asyncpg.connect(dsn)
    in_flight: list[asyncio.Task[httpx.Response]] = []
    try:
        await wait_http(base)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            r = await client.get("/")
            assert r.status_code == 200
            assert "server" not in r.headers  # no banner
            assert "server" not in (await client.get("/nulle-part")).headers

            # A message in the middle of its SMTP conversation.
            mailed = unique_email("envoi")
            assert (await client.post(SIGN, json=body(mailed))).status_code == 202
            await asyncio.to_thread(box.entered.wait, 20)
            assert box.entered.is_set()
            claimed = await db.fetchrow(
                "SELECT id, status, attempts FROM outbox WHERE recipient = $1", mailed
            )
            assert (claimed["status"], claimed["attempts"]) == ("sending", 1)

            # Requests held inside the server: their insert waits on a lock the test holds.
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE signatures IN SHARE ROW EXCLUSIVE MODE")
            waiting = [unique_email("en-vol") for _ in range(5)]
            in_flight = [
                asyncio.create_task(client.post(SIGN, json=body(address))) for address in waiting
            ]

            async def all_blocked() -> bool:
                # Signings are written in batches, two at most at once per process
                # (campaign/signing_batch.py): the first two wait on the lock, the others
                # queue behind them in the process.
                n = await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = $1 AND wait_event_type = 'Lock'",
                    name,
                )
                return bool(n >= 2)

            await eventually(all_blocked, 15, "the signing requests to wait on the lock")
            await asyncio.sleep(0.5)  # the other three reach the process's queue meanwhile

            loop = asyncio.get_running_loop()
            sent_at = loop.time()
            serve.signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            # New connections are refused while the in-flight requests finish.
            async with httpx.AsyncClient(base_url=base, timeout=3) as late:
                try:
                    refused = await late.get("/health")
                except httpx.ConnectError:
                    refused = None
            assert refused is None, f"a new request was served: {refused.status_code}"
            assert serve.proc.poll() is None  # still finishing what it started

            await tx.commit()  # the held requests go through
            answers = await asyncio.gather(*in_flight)
            assert [a.status_code for a in answers] == [202] * len(waiting)

        code = await serve.wait(timeout=EXIT_WITHIN)
        exited_after = loop.time() - sent_at
        # A clean exit: uvicorn re-raises the SIGTERM it handled once shutdown is complete.
        assert code in (0, -signal.SIGTERM), serve.output()[-3000:]
        assert "Application shutdown complete" in serve.output()
        assert exited_after < EXIT_WITHIN

        stored = await db.fetchval("SELECT count(*) FROM signatures WHERE email = ANY($1)", waiting)
        assert stored == len(waiting)
        # The message being sent was given back: queued, due, its attempt not counted.
        row = await db.fetchrow(
            "SELECT status, attempts, locked_until FROM outbox WHERE id = $1", claimed["id"]
        )
        assert (row["status"], row["attempts"], row["locked_until"]) == ("queued", 0, None)
        print(f"SIGTERM: exited {exited_after:.1f} s after the signal")
    finally:
        for task in in_flight:
            task.cancel()
        box.release.set()
        serve.close()
        await locker.close()
        await db.close()
        controller.stop()


async def test_a_send_cut_short_does_not_wait_for_a_stuck_relay() -> None:
    """A stopping worker cancels its sends: the SMTP connection closes at once, without the
    polite QUIT that a relay stuck in DATA would never answer."""
    from aiosmtpd.controller import Controller

    from campaign.mail.message import RenderedEmail, build_message
    from campaign.mail.smtp import SmtpSender

    box = SlowMailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        message = build_message(
            RenderedEmail(subject="s", text="t", html="<p>h</p>"),
            sender="lettre@jouer-collectif.localhost",
            recipient=unique_email("coupe"),
            message_id_domain="jouer-collectif.localhost",
        )
        send = asyncio.create_task(SmtpSender(f"smtp://127.0.0.1:{controller.port}").send(message))
        await asyncio.to_thread(box.entered.wait, 10)
        assert box.entered.is_set() and not send.done()
        send.cancel()
        done, _ = await asyncio.wait({send}, timeout=1.0)
        assert send in done, "the cancelled send still waits for the relay"
        assert send.cancelled()
    finally:
        box.release.set()
        controller.stop()
