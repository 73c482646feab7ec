"""What the emails of the reach say: a mailing's message (`mailing`), an invitation to sign
(`invitation`).

Both carry the opt-out link (the suppression list) in their text and as `List-Unsubscribe`
headers with one-click unsubscription (RFC 8058); a mailing to signatories also says what every
email to a signer says (campaign/signing/emails.py), its link to withdraw the signature included.
Registered with the mail worker by the application (campaign/runtime.py: `email_contexts`).
"""

from __future__ import annotations

import time
from typing import Any, Final

import asyncpg
from markdown_it import MarkdownIt

from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.mail import suppression
from campaign.mail.contexts import EmailContexts, Undeliverable
from campaign.mail.message import unsubscribe_headers
from campaign.mail.outbox import ClaimedMail
from campaign.reach import invitations
from campaign.signing import emails as signing_emails
from campaign.territories.index import territory_label
from campaign.territories.mandates import LABELS

MAILING: Final = "mailing"
INVITATION: Final = "invitation"
CACHE_SECONDS: Final = 30.0
CACHE_SIZE: Final = 100
GONE: Final = "Envoi ou invitation introuvable"
# Written by organisers, rendered without raw HTML (like the letter).
_markdown = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": True, "breaks": True}
)


def opt_out_url(settings: Settings, recipient: str) -> str:
    token = suppression.opt_out_token(settings.secret_key, recipient)
    return f"{settings.base_url}/desinscription/{token}"


def _opt_out(settings: Settings, recipient: str) -> dict[str, Any]:
    """What both say to anybody: the opt-out link, and no name unless they know one."""
    url = opt_out_url(settings, recipient)
    return {
        "optout_url": url,
        "headers": unsubscribe_headers(url),
        "given_name": "",
        "family_name": "",
    }


class ReachEmails:
    """The context builders of the reach's emails, keeping each mailing's rendered message a while
    (a mailing sends thousands of the same one). One per mail worker (campaign/runtime.py)."""

    def __init__(self, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._cache_seconds = cache_seconds
        self._messages: dict[int, tuple[float, dict[str, str]]] = {}

    def register(self, contexts: EmailContexts) -> None:
        contexts.register(MAILING, self.mailing)
        contexts.register(INVITATION, self.invitation)

    async def mailing(
        self, pool: asyncpg.Pool, settings: Settings, mail: ClaimedMail
    ) -> dict[str, Any]:
        """A mailing's message; to a signatory, with what every email to a signer says (a test
        send has no signature: no name, no withdrawal link)."""
        if mail.mailing_id is None:
            raise Undeliverable(GONE, "no mailing")
        context = _opt_out(settings, mail.recipient)
        context.update(await self._message(pool, mail.mailing_id))
        context["withdrawal_url"] = None
        if mail.signature_id is not None:
            context.update(
                await signing_emails.signer(pool, settings, mail.signature_id, mail.token_id)
            )
        return context

    async def invitation(
        self, pool: asyncpg.Pool, settings: Settings, mail: ClaimedMail
    ) -> dict[str, Any]:
        """An invitation to sign: its link opens the form filled in for the invitee."""
        if mail.invitation_id is None:
            raise Undeliverable(GONE, "no invitation")
        row = await pool.fetchrow(Q["invitation_for_mail"], mail.invitation_id)
        if row is None:
            raise Undeliverable(GONE, "invitation gone")
        context = _opt_out(settings, mail.recipient)
        context.update(
            given_name=row["given_name"],
            family_name=row["family_name"],
            mandate_label=LABELS.get(row["mandate"], row["mandate"]),
            territory_label=territory_label(
                row["territory_level"],
                row["territory_code"],
                row["territory_name"],
                row["territory_departement"],
            ),
            campaign_title=row["campaign_title"],
            invite_url=invitations.link(settings, row["code"], row["token_salt"]),
        )
        return context

    async def _message(self, pool: asyncpg.Pool, mailing_id: int) -> dict[str, str]:
        """A mailing's subject and rendered body, kept a while once it is no longer a draft."""
        cached = self._messages.get(mailing_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await pool.fetchrow(Q["mailing_message"], mailing_id)
        if row is None:
            raise Undeliverable(GONE, "mailing gone")
        message = {
            "subject": row["subject"],
            "body_text": row["body"],
            "body_html": _markdown.render(row["body"]),
            "campaign_title": row["campaign_title"],
        }
        if row["status"] != "draft":
            self._messages[mailing_id] = (now + self._cache_seconds, message)
            if len(self._messages) > CACHE_SIZE:
                self._messages.clear()
        return message
