"""What the mail worker needs for the emails of the reach: a mailing's message, an invitation.

Both carry the opt-out link (the suppression list) in their text and as `List-Unsubscribe`
headers with one-click unsubscription (RFC 8058); a mailing to signatories also carries the link
to withdraw one's signature (`withdrawal_url`).
"""

from __future__ import annotations

import time
from typing import Any, Final, Protocol

import asyncpg
from markdown_it import MarkdownIt

from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.mail import suppression
from campaign.reach import invitations
from campaign.signing import withdrawal
from campaign.territories.mandates import LABELS

TEMPLATES: Final = ("mailing", "invitation")
_CACHE_SECONDS: Final = 30.0
# Written by organisers, rendered without raw HTML (like the letter).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})
_messages: dict[int, tuple[float, dict[str, str]]] = {}


class ReachMail(Protocol):
    @property
    def template(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def signature_id(self) -> int | None: ...
    @property
    def mailing_id(self) -> int | None: ...
    @property
    def invitation_id(self) -> int | None: ...


def opt_out_url(settings: Settings, recipient: str) -> str:
    token = suppression.opt_out_token(settings.secret_key, recipient)
    return f"{settings.base_url}/desinscription/{token}"


def unsubscribe_headers(settings: Settings, recipient: str) -> dict[str, str]:
    """Mail clients POST `List-Unsubscribe=One-Click` to the opt-out link itself (RFC 8058)."""
    return {
        "List-Unsubscribe": f"<{opt_out_url(settings, recipient)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


async def withdrawal_url(
    pool: asyncpg.Pool, settings: Settings, signature_id: int | None
) -> str | None:
    """The link to withdraw one's signature (campaign/withdrawal.py), for a mailing to
    signatories; None for a test send (no signature) or an erased signature."""
    if signature_id is None:
        return None
    salt = await withdrawal.withdrawal_salt(pool, settings, signature_id)
    return None if salt is None else withdrawal.withdraw_url(settings, salt)


async def _message(pool: asyncpg.Pool, mailing_id: int) -> dict[str, str]:
    """A mailing's subject and rendered body, kept a while once it is no longer a draft."""
    cached = _messages.get(mailing_id)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    row = await pool.fetchrow(Q["mailing_message"], mailing_id)
    if row is None:
        raise LookupError("mailing gone")
    message = {
        "subject": row["subject"],
        "body_text": row["body"],
        "body_html": _markdown.render(row["body"]),
        "campaign_title": row["campaign_title"],
    }
    if row["status"] != "draft":
        _messages[mailing_id] = (now + _CACHE_SECONDS, message)
        if len(_messages) > 100:
            _messages.clear()
    return message


def _territory_label(level: str, code: str, name: str, departement: str | None) -> str:
    if level == "commune":
        return f"{name} ({departement})"
    if level == "departement":
        return f"{name} ({code})"
    return name


async def context(pool: asyncpg.Pool, settings: Settings, mail: ReachMail) -> dict[str, Any]:
    """The template variables (and `headers`) of a reach email; raises LookupError when what it
    is about is gone."""
    context: dict[str, Any] = {
        "optout_url": opt_out_url(settings, mail.recipient),
        "headers": unsubscribe_headers(settings, mail.recipient),
        "given_name": "",
        "family_name": "",
    }
    if mail.template == "mailing":
        if mail.mailing_id is None:
            raise LookupError("no mailing")
        context.update(await _message(pool, mail.mailing_id))
        context["withdrawal_url"] = await withdrawal_url(pool, settings, mail.signature_id)
        return context
    if mail.invitation_id is None:
        raise LookupError("no invitation")
    row = await pool.fetchrow(Q["invitation_for_mail"], mail.invitation_id)
    if row is None:
        raise LookupError("invitation gone")
    context.update(
        given_name=row["given_name"],
        family_name=row["family_name"],
        mandate_label=LABELS.get(row["mandate"], row["mandate"]),
        territory_label=_territory_label(
            row["territory_level"],
            row["territory_code"],
            row["territory_name"],
            row["territory_departement"],
        ),
        campaign_title=row["campaign_title"],
        invite_url=invitations.link(settings, row["code"], row["token_salt"]),
    )
    return context
