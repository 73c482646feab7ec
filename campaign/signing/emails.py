"""What the emails about a signature say: the confirmation link (`confirm`), the notice that the
address had signed already (`already_signed`), and in every email to a signer the signer, the
campaign and the link to withdraw the signature (campaign/signing/withdrawal.py).

Registered with the mail worker by the application (campaign/runtime.py: `email_contexts`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import asyncpg
import msgspec

from campaign.core import tokens
from campaign.core.db import Q, convert
from campaign.core.settings import Settings
from campaign.mail.contexts import EmailContexts, Undeliverable
from campaign.mail.message import unsubscribe_headers
from campaign.mail.outbox import ClaimedMail
from campaign.signing import withdrawal
from campaign.territories.index import territory_label
from campaign.territories.mandates import LABELS

CONFIRM: Final = "confirm"
ALREADY_SIGNED: Final = "already_signed"
REMINDER: Final = "reminder"  # the one reminder of a pending signature (reminders.py)


class SignerRow(msgspec.Struct, frozen=True, kw_only=True):
    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str
    territory_name: str
    territory_departement: str | None
    campaign_title: str
    token_salt: bytes | None
    withdraw_salt: bytes | None
    erased: bool


_Waiting = list[tuple[int, int | None, "asyncio.Future[SignerRow | None]"]]
# Per pool, the rows asked for during this turn of the event loop: fetched together just after
# it, in one query. The mail worker builds a round's messages side by side, each asking for its
# signer a moment after the others: one round trip for dozens of messages.
_COLLECTING: dict[int, _Waiting] = {}
_FETCHES: set[asyncio.Future[None]] = set()


async def _signer_row(
    pool: asyncpg.Pool, signature_id: int, token_id: int | None
) -> SignerRow | None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[SignerRow | None] = loop.create_future()
    waiting = _COLLECTING.get(id(pool))
    if waiting is None:
        waiting = _COLLECTING[id(pool)] = []
        loop.call_soon(_fetch, pool)
    waiting.append((signature_id, token_id, future))
    return await future


def _fetch(pool: asyncpg.Pool) -> None:
    task = asyncio.ensure_future(_fetch_all(pool, _COLLECTING.pop(id(pool))))
    _FETCHES.add(task)
    task.add_done_callback(_FETCHES.discard)


async def _fetch_all(pool: asyncpg.Pool, waiting: _Waiting) -> None:
    try:
        rows = await pool.fetch(
            Q["outbox_context_many"], [w[0] for w in waiting], [w[1] for w in waiting]
        )
    except BaseException as exc:
        for *_, future in waiting:
            if not future.done():
                future.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
        return
    found = {row["item"]: convert(row, SignerRow) for row in rows}
    for n, (*_, future) in enumerate(waiting, 1):
        if not future.done():
            future.set_result(found.get(n))


async def signer(
    pool: asyncpg.Pool, settings: Settings, signature_id: int, token_id: int | None
) -> dict[str, Any]:
    """What an email to a signer says of their signature: who signed, as what, where, which
    campaign; the confirmation link when the message carries a token; `withdrawal_url` (None
    once the signature is erased). Raises Undeliverable when the signature or token is gone."""
    row = await _signer_row(pool, signature_id, token_id)
    if row is None:
        raise Undeliverable("Signature introuvable", "no signature")
    context: dict[str, Any] = {
        "given_name": row.given_name,
        "family_name": row.family_name,
        "mandate_label": LABELS.get(row.mandate, row.mandate),
        "territory_label": territory_label(
            row.territory_level, row.territory_code, row.territory_name, row.territory_departement
        ),
        "campaign_title": row.campaign_title,
    }
    if token_id is not None:
        if row.token_salt is None:
            raise Undeliverable("Lien de confirmation introuvable", "no token")
        token = tokens.derive(settings.secret_key, row.token_salt)
        context["confirm_url"] = f"{settings.base_url}/confirmer/{token}"
    salt = row.withdraw_salt
    if salt is None and not row.erased:  # signed before signings made the link
        salt = await withdrawal.withdrawal_salt(pool, settings, signature_id)
    context["withdrawal_url"] = None if salt is None else withdrawal.withdrawal_url(settings, salt)
    return context


async def signature_context(
    pool: asyncpg.Pool, settings: Settings, mail: ClaimedMail
) -> dict[str, Any]:
    """`confirm`, `already_signed` and `reminder`. The withdrawal link goes in the text and as
    List-Unsubscribe (one-click POST, RFC 8058: it withdraws the signature)."""
    context: dict[str, Any] = {"expires_days": settings.token_ttl_days}
    if mail.signature_id is None:  # nothing to say: rendering fails on the missing names
        return context
    context.update(await signer(pool, settings, mail.signature_id, mail.token_id))
    if context["withdrawal_url"] is not None:
        context["headers"] = unsubscribe_headers(context["withdrawal_url"])
    return context


def register(contexts: EmailContexts) -> None:
    contexts.register(CONFIRM, signature_context)
    contexts.register(ALREADY_SIGNED, signature_context)
    contexts.register(REMINDER, signature_context)
