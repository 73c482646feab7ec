"""Moderation: reject or restore (counts follow in the same transaction), feature, correct a
name, resend a confirmation; one signature or a filtered selection, each change audited."""

from __future__ import annotations

import unicodedata
from typing import Any, Final

import asyncpg

from campaign.core import audit
from campaign.core.audit import Actor
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.signing import signatures

REASON_MAX = 500
NAME_MAX = 100
BULK_MAX = 10_000
ACTIONS: Final = {
    "rejeter": "Rejeter",
    "restaurer": "Restaurer",
    "mettre-en-avant": "Mettre en avant",
    "retirer-avant": "Retirer de la mise en avant",
    "lever-suspicion": "Lever la suspicion (compter la signature)",
}


class ModerationError(ValueError):
    """A refused action; the message is French, for the organiser."""


def clean_reason(reason: str | None, *, required: bool) -> str | None:
    text = " ".join((reason or "").split())[:REASON_MAX]
    if required and not text:
        raise ModerationError("Indiquez un motif.")
    return text or None


async def apply(
    conn: asyncpg.Connection, actor: Actor, action: str, ids: list[int], reason: str | None
) -> int:
    """Apply `action` to these signatures in the caller's transaction; returns how many changed.

    Signatures already in the target state are left alone (and not audited).
    """
    changes: list[tuple[int, Any, Any]]
    if action == "rejeter":
        reason = clean_reason(reason, required=True)
        rows = await conn.fetch(Q["admin_reject"], ids, reason)
        changes = [(r["id"], {"status": r["before"]}, {"status": "rejected"}) for r in rows]
        name = "signature.reject"
    elif action == "restaurer":
        reason = clean_reason(reason, required=False)
        rows = await conn.fetch(Q["admin_restore"], ids, reason)
        changes = [(r["id"], {"status": "rejected"}, {"status": r["after"]}) for r in rows]
        name = "signature.restore"
    elif action == "lever-suspicion":
        reason = clean_reason(reason, required=False)
        rows = await conn.fetch(Q["admin_clear_suspects"], ids, actor.email)
        changes = [
            (r["id"], {"suspecte": list(r["suspect_reasons"])}, {"suspecte": False}) for r in rows
        ]
        name = "signature.clear"
    elif action in ("mettre-en-avant", "retirer-avant"):
        on = action == "mettre-en-avant"
        rows = await conn.fetch(Q["admin_feature"], ids, on)
        changes = [(r["id"], {"featured": not on}, {"featured": on}) for r in rows]
        name = "signature.feature" if on else "signature.unfeature"
    else:
        raise ModerationError("Action inconnue.")
    await audit.record_many(conn, actor, name, "signature", changes, detail=_reason(reason))
    return len(changes)


def _reason(reason: str | None) -> dict[str, str] | None:
    return {"motif": reason} if reason else None


def _clean_name(value: str) -> str:
    text = " ".join(value.split())
    if not text or len(text) > NAME_MAX:
        raise ModerationError(f"Un nom compte de 1 à {NAME_MAX} caractères.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise ModerationError("Le nom contient des caractères invisibles.")
    return text


async def correct_names(
    conn: asyncpg.Connection, actor: Actor, signature_id: int, given_name: str, family_name: str
) -> bool:
    """Fix a typo in the displayed name; False when nothing changed."""
    given, family = _clean_name(given_name), _clean_name(family_name)
    async with conn.transaction():
        row = await conn.fetchrow(Q["admin_signature_lock"], signature_id)
        if row is None:
            raise ModerationError("Signature introuvable.")
        before = {"prénom": row["given_name"], "nom": row["family_name"]}
        after = {"prénom": given, "nom": family}
        if before == after:
            return False
        await conn.execute(Q["admin_correct_names"], signature_id, given, family)
        await audit.record(
            conn,
            actor,
            "signature.correct",
            target_type="signature",
            target_id=signature_id,
            before=before,
            after=after,
        )
    return True


async def resend(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, signature_id: int
) -> bool:
    """A new confirmation link for a pending signature, through the signing path's outbox."""
    async with conn.transaction():
        sent = await signatures.resend_confirmation(conn, settings, signature_id)
        if sent:
            await audit.record(
                conn, actor, "signature.resend", target_type="signature", target_id=signature_id
            )
    return sent
