"""Signing and confirming: the service layer, with no HTTP in it.

A signature and the email that confirms it are written in one transaction (the outbox); the
answer never says whether the address had signed before.
"""

from __future__ import annotations

import enum
import logging
import unicodedata
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from campaign.core import tokens
from campaign.core.db import Q, convert
from campaign.core.settings import Settings
from campaign.letter.campaigns import Campaign
from campaign.letter.consent import CURRENT_VERSION as CONSENT_VERSION
from campaign.mail import outbox
from campaign.register.proof import Proof
from campaign.signing import abuse
from campaign.signing.validation import SigningRequest

log = logging.getLogger(__name__)

MAX_EMAILS_PER_SIGNATURE = 5


class SignOutcome(enum.Enum):
    """For tests and metrics only: callers must answer the signer identically in every case."""

    CREATED = "created"
    RESENT = "resent"
    ALREADY_CONFIRMED = "already_confirmed"
    NOTHING_SENT = "nothing_sent"


async def _queue_confirmation(
    conn: asyncpg.Connection, settings: Settings, signature_id: int, email: str
) -> None:
    salt, token_hash = tokens.issue(settings.secret_key)
    token_id = await conn.fetchval(
        Q["insert_token"], signature_id, "confirm", salt, token_hash, settings.token_ttl_days
    )
    await outbox.enqueue(
        conn, template="confirm", recipient=email, signature_id=signature_id, token_id=token_id
    )


def _form(req: SigningRequest) -> tuple[object, ...]:
    """What the form says, in the order `sign_new` and `refresh_pending_signature` take it."""
    t = req.territory
    return (
        req.given_name,
        req.family_name,
        req.mandate,
        t.level,
        t.code,
        req.public,
        req.comment,
        req.ref,
    )


def _new_row(
    settings: Settings, campaign: Campaign, req: SigningRequest, flags: abuse.Assessment
) -> tuple[object, ...]:
    """sign_new's parameters: the confirmation link and the withdrawal link are made here."""
    return (
        campaign.id,
        req.email,
        *_form(req),
        campaign.current_version,
        *tokens.issue(settings.secret_key),
        settings.token_ttl_days,
        CONSENT_VERSION,
        flags.suspect,
        list(flags.reasons),
        *tokens.issue(settings.secret_key),
    )


async def sign(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign: Campaign,
    req: SigningRequest,
    signals: abuse.Signals | None = None,
) -> SignOutcome:
    """Record a pending signature (or refresh one) and queue its email, in one transaction.

    With `signals` (what the request tells), the signing is counted against the limits first; a
    signature over one, or otherwise suspicious, is kept but flagged (campaign/abuse.py).
    The service's handlers go through campaign/signing_batch.py, which writes the signings
    arriving together in one commit; this is one signing alone.
    """
    flags = abuse.CLEAN
    if signals is not None:
        flags = await abuse.assess(conn, settings, campaign.id, req.email, signals)
    # A new address, the rush's case: signature, token and email in one statement.
    if await conn.fetchval(Q["sign_new"], *_new_row(settings, campaign, req, flags)) is not None:
        return SignOutcome.CREATED
    return await sign_existing(conn, settings, campaign, req, flags)


async def sign_new_many(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign: Campaign,
    signings: Sequence[tuple[SigningRequest, abuse.Assessment]],
) -> list[bool]:
    """New addresses' signatures, tokens and emails for signings of one campaign, in one
    statement (one commit). True for each signing that created its signature; the others (an
    address that had signed, or given twice here) go on with `sign_existing`, in this order."""
    reqs = [req for req, _ in signings]
    new_tokens = [tokens.issue(settings.secret_key) for _ in signings]
    # Every email about a signature carries its withdrawal link (campaign/withdrawal.py).
    withdrawals = [tokens.issue(settings.secret_key) for _ in signings]
    created = await conn.fetch(
        Q["sign_new_batch"],
        campaign.id,
        campaign.current_version,
        settings.token_ttl_days,
        CONSENT_VERSION,
        [r.email for r in reqs],
        [r.given_name for r in reqs],
        [r.family_name for r in reqs],
        [r.mandate for r in reqs],
        [r.territory.level for r in reqs],
        [r.territory.code for r in reqs],
        [r.public for r in reqs],
        [r.comment for r in reqs],
        [r.ref for r in reqs],
        [salt for salt, _ in new_tokens],
        [token_hash for _, token_hash in new_tokens],
        [",".join(flags.reasons) for _, flags in signings],
        [salt for salt, _ in withdrawals],
        [withdraw_hash for _, withdraw_hash in withdrawals],
    )
    made = {row["item"] for row in created}
    return [n in made for n in range(1, len(reqs) + 1)]


async def analyze_rush_tables(conn: asyncpg.Connection) -> None:
    """ANALYZE of the tables a rush fills; their cached plans are made again (campaign/db.py)."""
    await conn.execute(Q["analyze_rush_tables"])


async def merge_search_pending(conn: asyncpg.Connection) -> int:
    """Merges the new signatures waiting in the search indexes' pending lists (migrations 0010
    and 0017); returns the pages merged."""
    pages: int = await conn.fetchval(Q["merge_search_pending"])
    return pages


async def sign_existing(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign: Campaign,
    req: SigningRequest,
    flags: abuse.Assessment,
) -> SignOutcome:
    """A signing whose address has signed the campaign already (or is new again): in one
    transaction, refresh a pending signature and send a new link, or tell a confirmed signer."""
    async with conn.transaction():
        existing = await conn.fetchrow(Q["lock_signature_by_email"], campaign.id, req.email)
        if existing is None:  # deleted in between (a purge): the address is new again
            new = _new_row(settings, campaign, req, flags)
            created = await conn.fetchval(Q["sign_new"], *new)
            return SignOutcome.NOTHING_SENT if created is None else SignOutcome.CREATED
        if existing["emails_sent"] >= MAX_EMAILS_PER_SIGNATURE:
            return SignOutcome.NOTHING_SENT
        if flags.resends_exceeded or (
            # A flagged signing: nothing beyond the first email of the day to its mailbox.
            flags.suspect and await outbox.mailed_today(conn, settings.secret_key, req.email)
        ):
            # Someone keeps submitting this address: nothing more is sent to it. A pending
            # signature is flagged (its details would come from these submissions); a confirmed
            # one is left alone, or anyone could un-count a signer by typing their address.
            if existing["status"] == "pending":
                await conn.execute(Q["flag_signature"], existing["id"], list(flags.reasons))
            return SignOutcome.NOTHING_SENT
        if existing["status"] == "pending":
            # The latest form wins while nothing is confirmed: it may fix a typo.
            await conn.execute(
                Q["refresh_pending_signature"],
                existing["id"],
                *_form(req),
                campaign.current_version,
                CONSENT_VERSION,
                list(flags.reasons),
            )
            await _queue_confirmation(conn, settings, existing["id"], req.email)
            return SignOutcome.RESENT
        if existing["status"] == "confirmed":
            await conn.execute(Q["count_email_sent"], existing["id"])
            await outbox.enqueue(
                conn,
                template="already_signed",
                recipient=req.email,
                signature_id=existing["id"],
                token_id=None,
            )
            return SignOutcome.ALREADY_CONFIRMED
        return SignOutcome.NOTHING_SENT


async def resend_confirmation(
    conn: asyncpg.Connection, settings: Settings, signature_id: int
) -> bool:
    """An organiser's resend: a new link for a pending signature, in one transaction.

    Not capped by MAX_EMAILS_PER_SIGNATURE (a person asked for it), but counted. False when the
    signature is not pending (confirmed, rejected, withdrawn or gone).
    """
    async with conn.transaction():
        row = await conn.fetchrow(Q["lock_signature_by_id"], signature_id)
        if row is None or row["status"] != "pending":
            return False
        await conn.execute(Q["count_email_sent"], signature_id)
        await _queue_confirmation(conn, settings, signature_id, row["email"])
    log.info("signature %s: confirmation resent", signature_id)
    return True


class LinkedSignature(msgspec.Struct, frozen=True, kw_only=True):
    """What a signer's link (confirmation, withdrawal) points at, shown on its page before the
    signer acts."""

    signature_id: int
    campaign_id: int
    status: str
    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str
    public: bool


class Confirmation(LinkedSignature, frozen=True, kw_only=True):
    expires_at: datetime
    expired: bool
    # Flagged (campaign/signing/abuse.py): confirmed, but neither counted nor listed until an
    # organiser clears it. The signer is told so, never why.
    suspect: bool = False


async def find_confirmation(conn: asyncpg.Connection, token: str) -> Confirmation | None:
    """The signature behind a link; None for a malformed or unknown token. Changes nothing."""
    return await tokens.find(conn, Q["find_confirmation"], token, Confirmation)


class ConfirmResult(enum.Enum):
    CONFIRMED = "confirmed"
    ALREADY = "already"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"  # rejected or withdrawn meanwhile


async def confirm(
    conn: asyncpg.Connection, token: str
) -> tuple[ConfirmResult, Confirmation | None]:
    """Confirm the signature and count it, in one statement. Confirming twice is harmless."""
    if not tokens.looks_like_token(token):
        return ConfirmResult.UNKNOWN, None
    row = await conn.fetchrow(Q["confirm_by_token"], tokens.token_hash(token))
    return (ConfirmResult.UNKNOWN, None) if row is None else _confirmed(row)


async def confirm_many(
    conn: asyncpg.Connection, token_list: list[str]
) -> list[tuple[ConfirmResult, Confirmation | None]]:
    """`confirm` for each token, in one statement and one commit (campaign/confirm_batch.py),
    as if they had come one after the other."""
    outcomes: list[tuple[ConfirmResult, Confirmation | None]] = [
        (ConfirmResult.UNKNOWN, None) for _ in token_list
    ]
    wanted = [(n, t) for n, t in enumerate(token_list) if tokens.looks_like_token(t)]
    if not wanted:
        return outcomes
    rows = await conn.fetch(Q["confirm_by_tokens"], [tokens.token_hash(t) for _, t in wanted])
    for row in rows:
        outcomes[wanted[row["item"] - 1][0]] = _confirmed(row)
    return outcomes


def _confirmed(row: asyncpg.Record) -> tuple[ConfirmResult, Confirmation]:
    """What a confirmation's row (confirm_by_token, confirm_by_tokens) says happened."""
    found = convert(row, Confirmation)
    if row["confirmed_now"]:  # counted too, unless suspect (counted once an organiser clears it)
        log.info("signature %s confirmed", found.signature_id)
        return ConfirmResult.CONFIRMED, found
    if found.status == "confirmed":
        return ConfirmResult.ALREADY, found
    if found.status != "pending":
        return ConfirmResult.UNAVAILABLE, found
    if found.expired:
        return ConfirmResult.EXPIRED, found
    return ConfirmResult.ALREADY, found  # a concurrent click won the race


class Signatory(msgspec.Struct, frozen=True, kw_only=True):
    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str
    confirmed_at: datetime
    featured: bool = False
    verified: bool = False  # proven to be the official declared (`proof` says how)
    proof: Proof | None = None
    register_match: bool = False  # the name and mandate are in the register


def _like_escape(text: str) -> str:
    """`text` as a LIKE pattern matching itself. NFKC first: it turns a full-width ％ or ＿ into
    % or _, which must then be escaped like any other (PostgreSQL's unaccent, applied after,
    leaves %, _ and \\ alone)."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_length(q: str) -> int:
    """The characters of a search that count towards its minimum length (no spaces)."""
    return len("".join(unicodedata.normalize("NFKC", q).split()))


async def public_signatories(
    conn: asyncpg.Connection,
    campaign_id: int,
    *,
    region: str | None = None,
    departement: str | None = None,
    mandate: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Signatory]]:
    """Confirmed signatures whose signers agreed to be listed, featured ones first, then newest
    first, and their total; with `q`, those whose names or territory name contain it (through
    the public search's trigram index)."""
    filters = (campaign_id, region, departement, mandate)
    if q:
        rows = await conn.fetch(
            Q["public_signatories_search"], *filters, _like_escape(q), limit, offset
        )
    else:
        rows = await conn.fetch(Q["public_signatories"], *filters, limit, offset)
    total = rows[0]["total"] if rows else 0
    return total, [convert(r, Signatory) for r in rows]
