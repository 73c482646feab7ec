"""The mail worker: claims the outbox's due messages, builds and sends them, records the outcome.

Each message is rendered from its template (campaign/mail/message.py) with the context its email
kind's builder gives (campaign/mail/contexts.py), and sent over SMTP (campaign/mail/smtp.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any

import asyncpg

from campaign.core import alerts
from campaign.core.db import DB_ERRORS
from campaign.core.settings import Settings
from campaign.core.wakeup import keep_listening, wait_any
from campaign.mail.addresses import cap_key
from campaign.mail.contexts import EmailContexts, Undeliverable
from campaign.mail.message import MailRenderer, address_domain, build_message
from campaign.mail.outbox import (
    CHANNEL,
    ClaimedMail,
    SentLog,
    cap_recipients,
    claim,
    claim_mailings,
    forget_caps,
    hold,
    mark_failed,
    mark_retry,
    newest_id,
    next_mailing_slot,
    release,
)
from campaign.mail.smtp import MailError, PermanentMailError, Sender, SmtpAuthError

log = logging.getLogger(__name__)

LISTENER_NAME = "campaign-mail-listener"  # application_name of the LISTEN connection
LEASE_SECONDS = 120.0  # well above SmtpSender's total timeout (the MAIL_LEASE_SECONDS default)
SHUTDOWN_GRACE_SECONDS = 2.0  # sends in progress when the worker is told to stop may finish
MAX_BACKOFF_SECONDS = 3600.0
RUSH_WINDOW_SECONDS = 0.5  # how often a worker measures how fast messages are being queued
BATCH_SIZE = 10
# A mailing's messages claimed per round: sent side by side over the SMTP pool, their round's
# statements (claims, the cap, the sent log) shared by more of them.
MAILING_BATCH_SIZE = 40
NO_CAP = 2**31 - 1  # MAIL_RECIPIENT_DAILY_CAP=0: flagged signatures' mail is still capped


class QueueRate:
    """How many messages a second are being queued, measured over RUSH_WINDOW_SECONDS from the
    newest message's number (one step down the primary key, at most once a window)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        window: float = RUSH_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._window = window
        self._clock = clock
        self._at: float | None = None
        self._newest = 0
        self._rate = 0.0

    async def per_second(self) -> float:
        now = self._clock()
        if self._at is not None and now - self._at < self._window:
            return self._rate
        newest = await newest_id(self._pool)
        if self._at is not None:
            self._rate = max(0, newest - self._newest) / (now - self._at)
        self._at, self._newest = now, newest
        return self._rate


class MailWorker:
    """Claims due messages in batches, sends them outside any transaction, records the outcome.

    Signings first: while messages are queued faster than `mail_rush_above` a second (a rush of
    signings), the worker sends at most `mail_rush_rate` a second, and at full speed again once
    it has passed. Every message it sends costs the machine and the database what several
    signings cost (building, SMTP, recording); sent during the rush, it is taken from the
    signings, whose answers wait for it (bench/RESULTS.md: with the worker at full speed, the
    signings' p99 rose from about 40 ms to 60-70 ms). The rush's messages then go out just after
    it: when the machine is the limit, the last one goes out about when it would have anyway.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        settings: Settings,
        renderer: MailRenderer,
        sender: Sender,
        *,
        contexts: EmailContexts,
        batch_size: int = BATCH_SIZE,
        mailing_batch_size: int = MAILING_BATCH_SIZE,
        lease_seconds: float | None = None,
        listener_name: str = LISTENER_NAME,
        queued: QueueRate | None = None,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._settings = settings
        self._renderer = renderer
        self._sender = sender
        self._contexts = contexts
        self._batch_size = batch_size
        self._mailing_batch_size = max(batch_size, mailing_batch_size)
        self._lease_seconds = (
            settings.mail_lease_seconds if lease_seconds is None else lease_seconds
        )
        self.listener_name = listener_name
        # Claimed and not yet finished: given back (`outbox_release`) if the worker stops.
        self._in_flight: dict[int, ClaimedMail] = {}
        # Another worker (or an earlier run) may have raised the SMTP alert: the first message
        # that goes out clears it, later ones need not ask.
        self._auth_alert = True
        self.shutdown_grace = SHUTDOWN_GRACE_SECONDS
        self._domain = address_domain(settings.mail_from)
        self._next_mailing: float | None = None  # seconds until a mailing may send again
        self._sent = SentLog(pool)
        self._queued = QueueRate(pool) if queued is None else queued
        self.rush = False  # yielding to a rush of signings (tests, logs)
        self._caps_day: date | None = None  # the day old cap counters were last deleted

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set: woken by NOTIFY on `outbox`, polling in case of a miss."""
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen(wake, stop), name="outbox-listener")
        try:
            while not stop.is_set():
                wake.clear()
                started = time.monotonic()
                try:
                    processed = await self._round(stop)
                    pause = await self._rush_pause(processed, time.monotonic() - started)
                except DB_ERRORS as exc:
                    log.warning("mail worker: database unavailable (%s)", type(exc).__name__)
                    processed, pause = 0, 0.0
                except Exception:
                    log.exception("mail worker: round failed")
                    processed, pause = 0, 0.0
                if pause > 0:
                    await wait_any(stop, within=pause)
                elif processed < self._batch_size:  # a full batch means more may be waiting
                    await wait_any(stop, wake, within=self._idle_wait())
        finally:
            if stop.is_set():  # it stops by itself: cancelling it could cut its close short
                await asyncio.wait({listener}, timeout=5)
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await self._sender.close()

    async def run_once(self) -> int:
        """Claims one batch and delivers it; returns how many messages were processed."""
        batch = await claim(self._pool, limit=self._batch_size, lease_seconds=self._lease_seconds)
        self._in_flight.update((m.id, m) for m in batch)
        # A mailing's messages come at its rate, whoever else is waiting (campaign/mailings.py).
        batch += await claim_mailings(
            self._pool, limit=self._mailing_batch_size, lease_seconds=self._lease_seconds
        )
        batch = await self._within_caps(batch)
        self._next_mailing = (
            await next_mailing_slot(self._pool)
            if len(batch) < self._batch_size + self._mailing_batch_size
            else 0.0
        )
        results = await asyncio.gather(*(self._deliver(m) for m in batch), return_exceptions=True)
        for mail, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                # Recording failed: the lease runs out and another round takes the message again.
                log.error("outbox %d: outcome not recorded (%s)", mail.id, type(result).__name__)
        return len(batch)

    async def _within_caps(self, batch: list[ClaimedMail]) -> list[ClaimedMail]:
        """The per-recipient daily cap, the one place every kind of email goes through: each
        message is counted once, when first claimed (a retry is the same message); those
        beyond the cap are cancelled and dropped from the batch."""
        first = sorted((m for m in batch if m.attempts == 1), key=lambda m: m.id)  # oldest first
        if not first:
            return batch
        today = datetime.now(UTC).date()
        if self._caps_day != today:
            self._caps_day = today
            with contextlib.suppress(*DB_ERRORS):
                await forget_caps(self._pool, today - timedelta(days=2))
        cap = self._settings.mail_recipient_daily_cap or NO_CAP
        secret = self._settings.secret_key
        keys = [cap_key(secret, m.recipient) for m in first]
        over = await cap_recipients(self._pool, first, keys, today, cap)
        for outbox_id in sorted(over):
            self._in_flight.pop(outbox_id, None)
            log.info("outbox %d: over its recipient's daily cap, cancelled", outbox_id)
        return [m for m in batch if m.id not in over]

    async def _round(self, stop: asyncio.Event) -> int:
        """One `run_once`; when `stop` comes during it, sends in progress get a short grace, then
        are cancelled and their messages given back to the queue for another worker."""
        work = asyncio.create_task(self.run_once(), name="outbox-round")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                await asyncio.wait({work}, timeout=self.shutdown_grace)
        finally:
            stopping.cancel()
            if not work.done():
                work.cancel()
                # Bounded: what lingers after this cannot record an outcome any more (the
                # release below takes the rows from it).
                await asyncio.wait({work}, timeout=2)
            if not work.done() or work.cancelled() or stop.is_set():
                await self.release_claims()
        return work.result() if work.done() and not work.cancelled() else 0

    async def _deliver(self, mail: ClaimedMail) -> None:
        """`_process`, keeping the message in `_in_flight` until its outcome is recorded (or
        recording failed: then its lease brings it back)."""
        self._in_flight[mail.id] = mail
        try:
            await self._process(mail)
        except asyncio.CancelledError:
            raise  # stays in flight: released by `_round`
        except BaseException:
            self._in_flight.pop(mail.id, None)
            raise
        self._in_flight.pop(mail.id, None)

    async def release_claims(self) -> int:
        """Gives back the messages claimed and not finished (the worker is stopping): due at
        once, the interrupted attempt not counted. Returns how many were released."""
        claims = list(self._in_flight.values())
        self._in_flight.clear()
        if not claims:
            return 0
        try:
            released = await release(self._pool, claims)
        except DB_ERRORS as exc:
            log.warning(
                "mail worker: %d claim(s) not released (%s); their lease will bring them back",
                len(claims),
                type(exc).__name__,
            )
            return 0
        log.info("mail worker: %d claimed message(s) released on stop", released)
        return released

    async def _hold_for_credentials(self, mail: ClaimedMail, exc: SmtpAuthError) -> None:
        """The relay refuses our credentials: alert the operator (log and back office), keep the
        message and retry it slowly, without counting the attempt."""
        delay = self._settings.mail_auth_retry_seconds
        log.error(
            "SMTP relay refuses the service's credentials (%s): no email can go out until "
            "SMTP_URL is fixed; outbox %d kept, retried in %g s",
            exc.code,
            mail.id,
            delay,
        )
        self._auth_alert = True
        with contextlib.suppress(*DB_ERRORS):
            await alerts.raise_alert(self._pool, alerts.SMTP_AUTH, _reply_of(exc.reason)[:300])
        self._check(mail, await hold(self._pool, mail, delay, exc.reason))

    async def _credentials_work(self) -> None:
        if self._auth_alert:
            self._auth_alert = False
            with contextlib.suppress(*DB_ERRORS):
                if await alerts.clear_alert(self._pool, alerts.SMTP_AUTH):
                    log.warning("SMTP relay accepts the service's credentials again")

    async def _process(self, mail: ClaimedMail) -> None:
        max_attempts = self._settings.mail_max_attempts
        if mail.attempts > max_attempts:
            # Only a lease-expired row gets here: its sender kept dying on the last attempt.
            log.warning("outbox %d: abandoned after %d attempts", mail.id, mail.attempts - 1)
            reason = "Abandonné : le dernier essai a été interrompu"
            self._check(mail, await mark_failed(self._pool, mail, reason))
            return
        try:
            message = await self._build(mail)
        except Undeliverable as exc:
            log.warning("outbox %d: cannot be built (%s)", mail.id, exc.hint)
            self._check(mail, await mark_failed(self._pool, mail, exc.reason))
            return
        try:
            await self._sender.send(message)
        except SmtpAuthError as exc:
            await self._hold_for_credentials(mail, exc)
            return
        except PermanentMailError as exc:
            log.warning("outbox %d: refused for good (%s)", mail.id, exc.reason[:3])
            self._check(mail, await mark_failed(self._pool, mail, exc.reason))
            return
        except Exception as exc:  # MailError, or anything unexpected: both are retried
            reason = exc.reason if isinstance(exc, MailError) else f"Erreur inattendue : {exc!r}"
            code = exc.reason[:3] if isinstance(exc, MailError) else type(exc).__name__
            if mail.attempts >= max_attempts:
                log.warning(
                    "outbox %d: failed after %d attempts (%s)", mail.id, mail.attempts, code
                )
                reason = f"{reason} (abandon après {mail.attempts} essais)"
                self._check(mail, await mark_failed(self._pool, mail, reason))
            else:
                delay = min(
                    self._settings.mail_retry_base_seconds * 2 ** (mail.attempts - 1),
                    MAX_BACKOFF_SECONDS,
                )
                log.info("outbox %d: attempt %d failed (%s)", mail.id, mail.attempts, code)
                self._check(mail, await mark_retry(self._pool, mail, delay, reason))
            return
        if self._check(mail, await self._sent.record(mail)):
            log.info("outbox %d: sent", mail.id)
        await self._credentials_work()

    async def _rush_pause(self, processed: int, took: float) -> float:
        """Seconds to wait after a round of `processed` messages that took `took`: during a rush
        of signings, what keeps this worker at `mail_rush_rate` (the class's docstring)."""
        rate = self._settings.mail_rush_rate
        if processed == 0 or rate <= 0:
            return 0.0
        queued = await self._queued.per_second()
        rush = queued > self._settings.mail_rush_above
        if rush != self.rush:
            self.rush = rush
            if rush:
                log.info(
                    "mail worker: %.0f messages/s queued, a rush of signings: at most %g/s sent "
                    "until it passes",
                    queued,
                    rate,
                )
            else:
                log.info("mail worker: the rush has passed (%.0f messages/s queued)", queued)
        return max(0.0, processed / rate - took) if rush else 0.0

    def _idle_wait(self) -> float:
        """How long to sleep with nothing to send: until a mailing's next slot, at most the poll."""
        poll = self._settings.mail_poll_seconds
        return poll if self._next_mailing is None else max(0.005, min(poll, self._next_mailing))

    @staticmethod
    def _check(mail: ClaimedMail, recorded: bool) -> bool:
        if not recorded:
            log.warning(
                "outbox %d: lease lost during attempt %d, outcome dropped", mail.id, mail.attempts
            )
        return recorded

    async def _build(self, mail: ClaimedMail) -> Message:
        context = await self._context(mail)
        try:
            rendered = self._renderer.render(mail.template, context)
        except Exception as exc:  # missing template, undefined variable, syntax error
            raise Undeliverable(
                f"Rendu impossible du modèle {mail.template!r} : {exc}", type(exc).__name__
            ) from exc
        return build_message(
            rendered,
            sender=self._settings.mail_from,
            recipient=mail.recipient,
            message_id_domain=self._domain,
            headers=context.get("headers"),
            message_id=f"<outbox-{mail.id}@{self._domain}>",
        )

    async def _context(self, mail: ClaimedMail) -> dict[str, Any]:
        """What every email's footer needs (emails/base.*), then what its kind's builder gives."""
        base_url = self._settings.base_url
        context: dict[str, Any] = {
            "campaign_url": f"{base_url}/",
            "privacy_url": f"{base_url}/confidentialite",
        }
        context.update(await self._contexts.build(self._pool, self._settings, mail))
        return context

    async def _listen(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        await keep_listening(
            self._dsn,
            CHANNEL,
            wake,
            stop,
            application_name=self.listener_name,
            log=log,
            what="mail worker",
        )


def _reply_of(reason: str) -> str:
    """The relay's reply in a recorded reason (`… : 535 5.7.8 …`)."""
    return reason.rpartition(" : ")[2]
