"""The signatories as organisers see them: a filtered, sorted, paginated list; one signature
with its full history (audit log, confirmation links, emails)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from campaign.core import audit
from campaign.core.db import Q, convert, convert_all
from campaign.core.frenchdates import long_datetime
from campaign.moderation.filters import SignatoryFilter
from campaign.territories.index import TerritoryIndex


class SignatoryRow(msgspec.Struct, frozen=True, kw_only=True):
    """A signature as the list shows it."""

    id: int
    given_name: str
    family_name: str
    email: str | None
    mandate: str
    territory_level: str
    territory_code: str
    public: bool
    status: str
    featured: bool
    ref: str | None
    created_at: datetime
    confirmed_at: datetime | None
    verified: bool
    suspect: bool = False
    suspect_reasons: tuple[str, ...] = ()
    proof: str | None = None  # who vouched: the level of proof (campaign/register/levels.py)
    register_match: bool = False


class SignatureDetail(SignatoryRow, frozen=True, kw_only=True):
    """A signature as its own page shows it: its row, and the rest of what is known of it."""

    campaign_id: int
    letter_version: int
    comment: str | None
    emails_sent: int
    updated_at: datetime
    rejected_from: str | None
    moderation_reason: str | None
    suspect_cleared_at: datetime | None = None
    suspect_cleared_by: str | None = None
    verification: str | None
    verification_override: str | None
    proof_at: datetime | None = None
    proof_by: str | None = None
    proof_note: str | None = None
    consent_version: int | None = None
    consent_at: datetime | None = None
    withdrawn_at: datetime | None = None
    anonymised_at: datetime | None = None


class HistoryItem(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    what: str
    who: str | None = None
    detail: str | None = None
    entry: audit.AuditEntry | None = None
    """The journal entry it comes from (the back office says it as a sentence)."""


PER_PAGE = 50


async def _in_custom_plan(conn: asyncpg.Connection) -> None:
    # The filter is "param IS NULL OR ...": planned with the actual values, each unused condition
    # folds away and the right index is chosen. A generic plan would keep them all.
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")


async def find_page(
    conn: asyncpg.Connection,
    campaign_id: int,
    f: SignatoryFilter,
    index: TerritoryIndex | None,
    *,
    with_email: bool,
    page: int,
    per_page: int = PER_PAGE,
) -> tuple[int, list[SignatoryRow]]:
    """The total matching the filter, and one page of it."""
    args = f.sql_args(campaign_id, index, with_email=with_email)
    async with conn.transaction(readonly=True):
        await _in_custom_plan(conn)
        total: int = await conn.fetchval(Q["admin_signatories_count"], *args)
        rows = await conn.fetch(
            Q["admin_signatories_page"], *args, f.sort, per_page, (page - 1) * per_page
        )
    items = convert_all(rows, SignatoryRow)
    if not with_email:
        items = [msgspec.structs.replace(r, email=None) for r in items]
    return total, items


async def matching_ids(
    conn: asyncpg.Connection, campaign_id: int, f: SignatoryFilter, index: TerritoryIndex | None
) -> list[int]:
    """Every id the filter selects (call inside the transaction of the action that uses them)."""
    await _in_custom_plan(conn)
    args = f.sql_args(campaign_id, index, with_email=True)
    return [r["id"] for r in await conn.fetch(Q["admin_signatories_ids"], *args)]


async def get(
    conn: asyncpg.Connection, signature_id: int, *, with_email: bool
) -> SignatureDetail | None:
    row = await conn.fetchrow(Q["admin_signature"], signature_id)
    if row is None:
        return None
    detail = convert(row, SignatureDetail)
    return detail if with_email else msgspec.structs.replace(detail, email=None)


_TEMPLATES = {
    "confirm": "lien de confirmation",
    "already_signed": "« déjà signé »",
    "reminder": "rappel avec un nouveau lien",
}
_MAIL_STATUS = {
    "queued": "en file d’attente",
    "sending": "en cours d’envoi",
    "sent": "envoyé",
    "failed": "échec",
    "cancelled": "annulé",
}


def _describe(entry: audit.AuditEntry) -> str:
    labels = {
        "signature.reject": "Rejetée",
        "signature.restore": "Restaurée",
        "signature.feature": "Mise en avant",
        "signature.unfeature": "Retirée de la mise en avant",
        "signature.correct": "Nom corrigé",
        "signature.resend": "Lien de confirmation renvoyé",
        "signature.verify": "Vérification modifiée",
        "signature.attest": "Attestée par les organisateurs (élu·e vérifié·e)",
        "signature.unattest": "Attestation des organisateurs retirée",
        "signature.clear": "Suspicion levée",
        "privacy.erase": "Données effacées (demande d’effacement)",
        "mail.retry": "Courriel relancé",
    }
    return labels.get(entry.action, entry.action)


def _audit_detail(entry: audit.AuditEntry) -> str | None:
    parts = []
    for label, raw in (("avant", entry.before), ("après", entry.after), ("", entry.detail)):
        if raw:
            value = msgspec.json.decode(raw)
            text = (
                ", ".join(f"{k} : {v}" for k, v in value.items())
                if isinstance(value, dict)
                else str(value)
            )
            parts.append(f"{label} {text}".strip())
    return " — ".join(parts) or None


async def history(
    conn: asyncpg.Connection, detail: SignatureDetail, *, with_email: bool
) -> list[HistoryItem]:
    """Everything that happened to a signature, oldest first."""
    items = [HistoryItem(at=detail.created_at, what="Signature reçue (en attente)")]
    if detail.confirmed_at:
        items.append(HistoryItem(at=detail.confirmed_at, what="Confirmée par le signataire"))
    for tok in await conn.fetch(Q["admin_signature_tokens"], detail.id):
        items.append(
            HistoryItem(
                at=tok["created_at"],
                what="Lien de confirmation créé",
                detail=f"valable jusqu’au {long_datetime(tok['expires_at'])} (heure de Paris)",
            )
        )
    for mail in await conn.fetch(Q["admin_signature_outbox"], detail.id):
        what = f"Courriel {_TEMPLATES.get(mail['template'], mail['template'])}"
        state = _MAIL_STATUS.get(mail["status"], mail["status"])
        extra = f"{state}, {mail['attempts']} essai(s)"
        if mail["last_error"]:
            extra += f" — réponse : {mail['last_error']}"
        if with_email:
            extra = f"à {mail['recipient']} — {extra}"
        items.append(HistoryItem(at=mail["created_at"], what=what, detail=extra))
        if mail["sent_at"]:
            items.append(HistoryItem(at=mail["sent_at"], what=f"{what} : remis au serveur"))
    for entry in await audit.for_target(conn, "signature", detail.id):
        items.append(
            HistoryItem(
                at=entry.at,
                what=_describe(entry),
                who=entry.organiser_email,
                detail=_audit_detail(entry),
                entry=entry,
            )
        )
    return sorted(items, key=lambda i: i.at)


def territory_label(index: TerritoryIndex, level: str, code: str) -> str:
    territory = index.get(level, code)
    return territory.label if territory else code


def display(rows: list[Any], index: TerritoryIndex) -> list[tuple[Any, str]]:
    return [(r, territory_label(index, r.territory_level, r.territory_code)) for r in rows]
