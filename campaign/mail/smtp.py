"""Sending over SMTP: a connection per message or one kept from a moment before, and the relay's
answers turned into what the outbox records (retry later, failed for good, fix the credentials)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import socket
import time
from email.message import Message
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from campaign.mail.message import flatten


class MailError(Exception):
    """A message could not be delivered; `reason` is what gets recorded (never the recipient)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryMailError(MailError):
    """Worth retrying later: SMTP 4xx, server unreachable, connection lost, timeout."""


class PermanentMailError(MailError):
    """Retrying will not help: SMTP 5xx."""


class SmtpAuthError(TemporaryMailError):
    """The relay refuses our credentials (535): the operator must fix SMTP_URL. The reason holds
    the relay's reply only, never the user name or the password."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.code = code


class Sender(Protocol):
    async def send(self, message: Message) -> None: ...

    async def close(self) -> None:
        """Ends what the sender keeps open (idle connections); it may still send after."""


# Connections kept open between messages: each message on a connection of its own costs a TCP
# handshake, the greeting, EHLO (and STARTTLS, AUTH) and QUIT, for both ends: most of what
# sending took in a rush. Kept only briefly, as relays drop idle clients.
MAX_IDLE_CONNECTIONS = 16
IDLE_SECONDS = 5.0


class SmtpSender:
    """Sends each message over one of a small pool of connections (`pool_size`, MAIL_SMTP_POOL),
    kept between messages while the relay keeps them, or over a connection of its own when the
    pool size is 0 (smtp:// with STARTTLS if offered, smtps://).

    Retries stay exact: a kept connection that turns out dropped (or answers 421) before its
    message was accepted is replaced at once and the message sent on the new one; any other
    failure is the outbox's to retry later, and a message the relay accepted is never sent
    again by this class."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        total_timeout: float = 60.0,
        pool_size: int = MAX_IDLE_CONNECTIONS,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self._hostname = parts.hostname or "localhost"
        self._use_tls = parts.scheme == "smtps"
        self._port = parts.port or (465 if self._use_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout
        self._total_timeout = total_timeout
        # Our name in EHLO, looked up once: aiosmtplib would otherwise ask for it (socket.getfqdn
        # in a thread) for every message: about 5 % of a serving process's time in a rush.
        self._local_hostname: str | None = None
        # Connected clients after a message went through, with when: the newest is used first.
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._pool_size = pool_size  # connections open at most (0: one per message, unbounded)
        # Sends wait for one of the pool's connections rather than open more: a small pool per
        # worker, however many messages its batch sends side by side.
        self._slots = asyncio.Semaphore(pool_size) if pool_size > 0 else None
        self.connections = 0  # opened so far (tests, benchmarks)

    async def send(self, message: Message) -> None:
        if self._slots is None:
            await self._send(message)
            return
        async with self._slots:
            await self._send(message)

    async def _send(self, message: Message) -> None:
        try:
            reused = self._take_idle()
            if reused is not None:
                try:
                    await self._send_on(reused, message, connect=False)
                    return
                except (ConnectionError, aiosmtplib.SMTPResponseException) as exc:
                    # The relay closed it while it was idle (or says it does: 421), before
                    # taking this message: the message goes on a new connection, as if that one
                    # had never been kept. Any other refusal is the message's.
                    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421:
                        raise
            await self._send_on(await self._new_client(), message, connect=True)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # The only recipient refused: not an SMTPResponseException, but its code decides.
            refused = exc.recipients[0] if exc.recipients else None
            if refused is None:
                raise TemporaryMailError("Destinataire refusé sans code de réponse") from exc
            raise _for_code(refused.code, refused.message) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            # A configuration problem, not a property of the message: retry once it is fixed.
            reason = f"Authentification SMTP refusée : {_reply(exc)}"
            raise SmtpAuthError(reason, exc.code) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _for_code(exc.code, exc.message) from exc
        except TimeoutError as exc:  # includes aiosmtplib's timeouts
            raise TemporaryMailError("Délai dépassé en parlant au serveur SMTP") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryMailError(f"Échec de la connexion SMTP : {exc}") from exc

    async def close(self) -> None:
        """Says goodbye (QUIT) on the idle connections, briefly: a relay that does not answer is
        left."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                async with asyncio.timeout(2):
                    await client.quit()
            client.close()

    async def _new_client(self) -> aiosmtplib.SMTP:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return aiosmtplib.SMTP(
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._use_tls,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )

    async def _send_on(self, client: aiosmtplib.SMTP, message: Message, *, connect: bool) -> None:
        """Sends on `client` (connecting it first if asked); kept for the next message if that
        went through, or if the relay refused it and took the RSET that aiosmtplib sends after a
        refusal (the session is clean again); closed at once otherwise (interrupted, a timeout, a
        dropped connection): a relay stuck in DATA would never answer a polite QUIT."""
        kept = False
        try:
            async with asyncio.timeout(self._total_timeout):
                if connect:
                    await client.connect()
                    self.connections += 1
                try:
                    await client.sendmail(
                        _address(message["From"]), [_address(message["To"])], flatten(message)
                    )
                except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
                    if _refusal_code(exc) not in (421, None):  # 421: the relay is closing it
                        kept = self._keep(client)
                    raise
            kept = self._keep(client)
        finally:
            if not kept:
                client.close()

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if now - since < IDLE_SECONDS and client.is_connected:
                return client
            client.close()  # idle too long: the relay may be closing it as we speak
        return None

    def _keep(self, client: aiosmtplib.SMTP) -> bool:
        if len(self._idle) >= self._pool_size or not client.is_connected:
            return False
        self._idle.append((client, time.monotonic()))
        return True


def _refusal_code(exc: aiosmtplib.SMTPException) -> int | None:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return exc.recipients[0].code
    return None


def _address(header: str) -> str:
    if not any(c in header for c in '<>"(), '):  # a bare address (the recipients): as it is
        return header.strip()
    return email.utils.parseaddr(header)[1]


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _for_code(code: int, message: str) -> MailError:
    reason = f"{code} {message}".strip()
    if 500 <= code < 600:
        return PermanentMailError(reason)
    return TemporaryMailError(reason)
