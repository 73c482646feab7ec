"""The development mail sink: an SMTP server on loopback that keeps messages instead of sending.

Used when no SMTP_URL is set, so a fresh machine can sign and click the confirmation link: each
message is printed to the console and listed on the local `/boite-mail` page.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections import deque
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import msgspec
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
KEEP = 200
_LINK = re.compile(r"https?://[^\s<>\"'«»]+")
_TRAILING = ".,;:!?)]"


class CapturedMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    received_at: datetime
    sender: str
    recipient: str
    subject: str
    text: str
    links: tuple[str, ...]


def split_links(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_link) pairs; a link's trailing punctuation is left outside."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        if not link.partition("://")[2]:
            continue
        if match.start() > position:
            pieces.append((text[position : match.start()], False))
        pieces.append((link, True))
        position = match.start() + len(link)
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def find_links(text: str) -> tuple[str, ...]:
    """The http(s) links of a text body, in order, without repeats."""
    return tuple(dict.fromkeys(piece for piece, is_link in split_links(text) if is_link))


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset, broken encoding: keep the message anyway
        return ""
    return content if isinstance(content, str) else ""


class _Handler:
    """aiosmtpd handler; runs in the controller's thread."""

    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        self._sink._capture(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 Message accepted for delivery"


class MailSink:
    """Keeps the last messages in memory and prints recipient, subject and links of each one."""

    def __init__(self, port: int | None = None, *, keep: int = KEEP, echo: bool = True) -> None:
        self._port = port
        self._echo = echo
        self._messages: deque[CapturedMessage] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._next_id = 1
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the mail sink is not started")
        return f"smtp://{HOST}:{self._port}"

    def start(self) -> str:
        """Starts listening; returns the smtp:// URL to send to."""
        if self._controller is None:
            if self._port is None:
                self._port = free_port()
            controller = Controller(_Handler(self), hostname=HOST, port=self._port)
            controller.start()
            self._controller = controller
        return self.url

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[CapturedMessage]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._messages))

    def get(self, message_id: int) -> CapturedMessage | None:
        with self._lock:
            return next((m for m in self._messages if m.id == message_id), None)

    def _capture(self, sender: str, recipients: list[str], data: bytes) -> None:
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        text = _text_body(parsed)
        with self._lock:
            captured = CapturedMessage(
                id=self._next_id,
                received_at=datetime.now(UTC),
                sender=sender,
                recipient=", ".join(recipients),
                subject=str(parsed.get("Subject", "")),
                text=text,
                links=find_links(text),
            )
            self._next_id += 1
            self._messages.append(captured)
        if self._echo:
            self._print(captured)

    @staticmethod
    def _print(message: CapturedMessage) -> None:
        # A development tool: showing the recipient and the links here is the point.
        lines = [
            "── Message capturé (boîte de test) ──",
            f"  À : {message.recipient}",
            f"  Objet : {message.subject}",
        ]
        lines += [f"  Lien : {link}" for link in message.links]
        print("\n".join(lines), flush=True)
