"""Emails: render a template folder of `campaign/emails/` (subject, text, HTML) and send it over
SMTP."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import email.charset
import email.policy
import email.utils
import io
import socket
import time
from collections.abc import Callable, Mapping
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
import jinja2
import msgspec
from jinja2.loaders import split_template_path

from campaign.core import resources

EMAILS_DIR = resources.EMAILS


class RenderedEmail(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


class _FolderLoader(jinja2.BaseLoader):
    """Templates read from a folder given as a `Traversable`: the package's own (an installed
    wheel's included) or any directory."""

    def __init__(self, directory: Traversable) -> None:
        self.directory = directory

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        path = self.directory
        for part in split_template_path(template):  # refuses `..`
            path = path / part
        if not path.is_file():
            raise jinja2.TemplateNotFound(template)
        text = path.read_text(encoding="utf-8")
        if not isinstance(path, Path):  # inside an archive: it cannot change
            return text, None, None
        file, mtime = path, path.stat().st_mtime

        def uptodate() -> bool:  # an edited template is read again, as FileSystemLoader does
            try:
                return file.stat().st_mtime == mtime
            except OSError:
                return False

        return text, str(file), uptodate


class MailRenderer:
    """Renders `name/subject.txt`, `name/body.txt` and `name/body.html` from the emails folder."""

    def __init__(self, directory: Traversable = EMAILS_DIR) -> None:
        loader = _FolderLoader(directory)
        # Text bodies must not be HTML-escaped; both fail loudly on a missing variable rather than
        # sending a message with a hole in it.
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,  # noqa: S701 - plain text, never shown as HTML
            undefined=jinja2.StrictUndefined,
        )
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedEmail:
        subject = self._text.get_template(f"{name}/subject.txt").render(context)
        return RenderedEmail(
            subject=" ".join(subject.split()),
            text=self._text.get_template(f"{name}/body.txt").render(context).strip() + "\n",
            html=self._html.get_template(f"{name}/body.html").render(context),
        )


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    recipient: str,
    message_id_domain: str,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
) -> Message:
    """A multipart/alternative message (text first, HTML preferred by clients that can show it).

    `headers` are added last and replace any header of the same name (List-Unsubscribe…).
    Built with the standard library's compat32 classes: its newer EmailMessage parses every
    header it is given, and building and flattening one took 1.3 ms of the mail worker's time per
    message (0.5 ms this way; bench/RESULTS.md). The values are ours (templates, settings,
    checked addresses), checked for line breaks here since these classes do not.
    """
    message = MIMEMultipart("alternative")
    values = {
        "Subject": rendered.subject,
        "From": sender,
        "To": recipient,
        "Date": email.utils.formatdate(localtime=False, usegmt=True),
        # The outbox gives one per row (`<outbox-ID@domain>`): a message sent twice (a worker
        # killed before recording it) is recognisable as one by the recipient's mail client.
        "Message-ID": message_id or email.utils.make_msgid(domain=message_id_domain),
        # Asks vacation responders and the like not to answer an automatic message.
        "Auto-Submitted": "auto-generated",
        **(headers or {}),
    }
    for name, value in values.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"line break in the {name} header")
        message[name] = _header_value(name, value)
    message.attach(_text_part("plain", rendered.text))
    message.attach(_text_part("html", rendered.html))
    return message


def flatten(message: Message) -> bytes:
    """The message as it goes on the wire: CRLF line ends, and header lines kept whole up to
    998 characters (RFC 5322) rather than folded at 78: a folded List-Unsubscribe reads, once
    unfolded, with a space before its link. The encoded subject is folded already."""
    out = io.BytesIO()
    BytesGenerator(out, policy=_WIRE).flatten(message)
    return out.getvalue()


# Not mbox: a body line starting with "From " goes as it is, not as ">From " (compat32 mangles).
_WIRE = email.policy.compat32.clone(linesep="\r\n", max_line_length=998, mangle_from_=False)


def _text_part(subtype: str, text: str) -> MIMENonMultipart:
    """A UTF-8 text part in quoted-printable, encoded by binascii (C): the email package's own
    encoder (Python, character by character) was a fifth of the mail worker's time. Spaces at
    the end of a line are dropped (they mean nothing in a text or HTML email): binascii encodes
    them as =20 past the 76 characters a line may have."""
    lines = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(lines.encode("utf-8"), istext=True).decode("ascii"))
    return part


def _header_value(name: str, value: str) -> str:
    """ASCII as it is; otherwise encoded (RFC 2047), for an address its display name only."""
    if value.isascii():
        return value
    if name in ("From", "To", "Reply-To"):
        return email.utils.formataddr(email.utils.parseaddr(value), charset="utf-8")
    return Header(value, "utf-8", header_name=name).encode()


def address_domain(address: str) -> str:
    """The domain of an address such as `Name <local@domain>` (for Message-IDs)."""
    _, addr = email.utils.parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"


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
    """Sends each message over a connection of its own or one left idle by a message sent a
    moment before (smtp:// with STARTTLS if offered, smtps://)."""

    def __init__(self, url: str, *, timeout: float = 30.0, total_timeout: float = 60.0) -> None:
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
        self.connections = 0  # opened so far (tests, benchmarks)

    async def send(self, message: Message) -> None:
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
        went through, closed at once otherwise (interrupted, a timeout, a refusal): a relay stuck
        in DATA would never answer a polite QUIT."""
        kept = False
        try:
            async with asyncio.timeout(self._total_timeout):
                if connect:
                    await client.connect()
                    self.connections += 1
                await client.sendmail(
                    _address(message["From"]), [_address(message["To"])], flatten(message)
                )
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
        if len(self._idle) >= MAX_IDLE_CONNECTIONS or not client.is_connected:
            return False
        self._idle.append((client, time.monotonic()))
        return True


def _address(header: str) -> str:
    return email.utils.parseaddr(header)[1]


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _for_code(code: int, message: str) -> MailError:
    reason = f"{code} {message}".strip()
    if 500 <= code < 600:
        return PermanentMailError(reason)
    return TemporaryMailError(reason)
