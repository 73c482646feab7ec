"""The local page of the development mail sink (`/boite-mail`): captured messages, links clickable.

Registered only while the embedded sink is in use; the sink comes in as the `mail_sink` dependency.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from campaign.mail.sink import CapturedMessage, MailSink, split_links
from campaign.web.httpcache import NO_STORE


class TextPiece(msgspec.Struct, frozen=True):
    """A piece of a text body; the template escapes `text` and links it when `href` is set."""

    text: str
    href: str | None


class MessageView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    received: str
    recipient: str
    subject: str
    links: tuple[str, ...]
    body: list[TextPiece]


def _received(moment: datetime) -> str:
    return moment.astimezone().strftime("%d/%m/%Y %H:%M:%S")


def message_view(message: CapturedMessage) -> MessageView:
    return MessageView(
        id=message.id,
        received=_received(message.received_at),
        recipient=message.recipient,
        subject=message.subject,
        links=message.links,
        body=[
            TextPiece(piece, piece if is_link else None)
            for piece, is_link in split_links(message.text)
        ],
    )


class DevMailController(Controller):
    path = "/boite-mail"
    include_in_schema = False

    @get("/", name="devmail:list")
    async def list_messages(self, mail_sink: NamedDependency[MailSink]) -> Template:
        """The captured messages, newest first."""
        messages = [message_view(m) for m in mail_sink.messages()]
        return Template(
            template_name="devmail/list.html",
            context={"messages": messages},
            headers=NO_STORE,
        )

    @get("/{message_id:int}", name="devmail:message")
    async def show_message(
        self, message_id: FromPath[int], mail_sink: NamedDependency[MailSink]
    ) -> Template:
        """One captured message, its text body with clickable links."""
        message = mail_sink.get(message_id)
        if message is None:
            raise NotFoundException("Ce message n’est plus dans la boîte de test.")
        return Template(
            template_name="devmail/message.html",
            context={"message": message_view(message)},
            headers=NO_STORE,
        )
