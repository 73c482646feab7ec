"""Emails: render a template folder of `campaign/emails/` (subject, text, HTML) and build the
message (MIME, as it goes on the wire); campaign/mail/smtp.py sends it."""

from __future__ import annotations

import binascii
import email.charset
import email.policy
import email.utils
import io
from collections.abc import Callable, Mapping
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

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
    _WireGenerator(out, policy=_WIRE).flatten(message)
    return out.getvalue()


class _WireGenerator(BytesGenerator):
    """Writes our headers as they are: their values are ours, ASCII (encoded by
    `_header_value`), checked for line breaks, already folded where they need to be. The
    standard generator re-parses and re-folds each one through `email.header.Header`: most of
    what flattening cost the mail worker. Anything else goes the standard way."""

    def _write_headers(self, msg: Message) -> None:
        for name, value in msg.raw_items():
            if isinstance(value, str) and value.isascii() and len(name) + len(value) < 990:
                lines = value.split("\n")
                if all(lines[1:]) and all(line[:1] in " \t" for line in lines[1:]):
                    folded = "\r\n".join(lines)
                    self.write(f"{name}: {folded}\r\n")
                    continue
            self.write(_WIRE.fold(name, value))
        self.write(_WIRE.linesep)


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


def unsubscribe_headers(url: str) -> dict[str, str]:
    """`List-Unsubscribe` with one-click unsubscription (RFC 8058): mail clients POST
    `List-Unsubscribe=One-Click` to `url` itself."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
