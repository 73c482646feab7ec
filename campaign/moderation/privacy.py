"""Organisers' privacy and abuse tools: block lists (addresses, domains, networks), answers to
access requests (everything held about an address, as a JSON file) and erasure requests (the
same effect as the signer's own withdrawal). Every change and every answer is audited; the audit
log identifies the address by a keyed hash, never in clear."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import msgspec

from campaign.core import audit
from campaign.core.audit import Actor
from campaign.core.db import Q
from campaign.mail import suppression
from campaign.signing import withdrawal
from campaign.signing.abuse import email_domain
from campaign.signing.validation import normalise_email

BLOCK_KINDS: Final = {"email": "Adresse", "domain": "Domaine", "network": "Réseau"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")
_encode = msgspec.json.Encoder().encode


class PrivacyError(ValueError):
    """A refused request; the message is French, for the organiser."""


def address_fingerprint(secret_key: str, email: str) -> str:
    """What the audit log keeps of an address: recomputable from the address, not reversible."""
    mac = hmac.new(secret_key.encode(), f"privacy:{email}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def clean_address(raw: str) -> str:
    email = normalise_email(" ".join(raw.split()))
    if not _EMAIL.match(email):
        raise PrivacyError("Adresse électronique invalide.")
    return email


# -- block lists --------------------------------------------------------------------------------


class BlockEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: str
    value: str
    reason: str | None
    created_by: str | None
    created_at: datetime


def clean_block_value(kind: str, raw: str) -> tuple[str, str | None]:
    """(value, network) as stored; PrivacyError with a French message otherwise."""
    text = raw.strip().lower()
    if kind == "email":
        return clean_address(text), None
    if kind == "domain":
        text = text.lstrip("@").rstrip(".")
        if not _DOMAIN.match(text):
            raise PrivacyError("Domaine invalide (exemple : exemple.fr).")
        return text, None
    if kind == "network":
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PrivacyError(
                "Réseau invalide (exemple : 203.0.113.0/24 ou 2001:db8::/48)."
            ) from None
        return str(network), str(network)
    raise PrivacyError("Type de blocage inconnu.")


async def block_list(conn: asyncpg.Connection) -> list[BlockEntry]:
    return [msgspec.convert(dict(r), BlockEntry) for r in await conn.fetch(Q["block_list_all"])]


async def block(
    conn: asyncpg.Connection, actor: Actor, kind: str, raw: str, reason: str | None
) -> bool:
    """Add an entry (False when it was there already); audited."""
    value, network = clean_block_value(kind, raw)
    reason = " ".join((reason or "").split())[:500] or None
    async with conn.transaction():
        entry_id = await conn.fetchval(
            Q["block_list_add"], kind, value, network, reason, actor.email
        )
        if entry_id is None:
            return False
        await audit.record(
            conn,
            actor,
            "blocklist.add",
            target_type="block_list",
            target_id=entry_id,
            after={"type": kind, "valeur": value, "motif": reason},
        )
    return True


async def unblock(conn: asyncpg.Connection, actor: Actor, entry_id: int) -> bool:
    async with conn.transaction():
        row = await conn.fetchrow(Q["block_list_remove"], entry_id)
        if row is None:
            return False
        await audit.record(
            conn,
            actor,
            "blocklist.remove",
            target_type="block_list",
            target_id=entry_id,
            before={"type": row["kind"], "valeur": row["value"], "motif": row["reason"]},
        )
    return True


# -- access and erasure requests ----------------------------------------------------------------


def _jsonable(record: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(record).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, str) and key in ("verification_match", "before", "after", "detail"):
            value = msgspec.json.decode(value)
        out[key] = value
    return out


async def access(conn: asyncpg.Connection, secret_key: str, actor: Actor, raw: str) -> bytes:
    """Everything held about an address, as a JSON document; the answer is audited."""
    email = clean_address(raw)
    async with conn.transaction():
        rows = await conn.fetch(Q["access_signatures"], email)
        ids = [r["id"] for r in rows]
        document = {
            "adresse": email,
            "produit_le": datetime.now(UTC).isoformat(),
            "signatures": [_jsonable(r) for r in rows],
            "liens": [_jsonable(r) for r in await conn.fetch(Q["access_tokens"], ids)],
            "courriels": [_jsonable(r) for r in await conn.fetch(Q["access_outbox"], ids, email)],
            "journal_des_organisateurs": [
                _jsonable(r) for r in await conn.fetch(Q["access_audit"], ids)
            ],
            "listes_de_blocage": [
                _jsonable(r)
                for r in await conn.fetch(Q["access_block_list"], email, email_domain(email))
            ],
            "invitations": [_jsonable(r) for r in await conn.fetch(Q["access_invitations"], email)],
            "opposition_aux_courriels": await suppression.is_suppressed(conn, email),
            "note": (
                "Les limites anti-abus ne gardent de votre adresse réseau et de votre adresse "
                "électronique que des empreintes chiffrées, effacées après quelques jours : "
                "elles ne peuvent pas être rattachées à vous."
            ),
        }
        await audit.record(
            conn,
            actor,
            "privacy.access",
            detail={
                "empreinte": address_fingerprint(secret_key, email),
                "signatures": ids,
            },
        )
    return _encode(document)


async def erase(conn: asyncpg.Connection, secret_key: str, actor: Actor, raw: str) -> int:
    """An erasure request: every signature of the address is withdrawn and erased, its unsent
    emails cancelled; audited. Returns how many signatures were erased."""
    email = clean_address(raw)
    async with conn.transaction():
        ids = [r["id"] for r in await conn.fetch(Q["signature_ids_by_email"], email)]
        erased = await withdrawal.erase(conn, ids, withdraw=True)
        # Messages to the address that no signature owns any more are erased too, and so are
        # its invitations; its hash joins the suppression list, so that no campaign writes to
        # it again (nor invites it from a later import).
        await conn.execute(Q["erasure_outbox"], [], [email])
        await conn.execute(Q["erasure_invitations"], email)
        await suppression.suppress(conn, suppression.address_hash(email), "organiser")
        detail = {"empreinte": address_fingerprint(secret_key, email), "demande": "effacement"}
        await audit.record_many(
            conn,
            actor,
            "privacy.erase",
            "signature",
            [(sid, {"statut": before}, {"statut": "withdrawn"}) for sid, before in erased],
            detail=detail,
        )
        if not erased:
            await audit.record(conn, actor, "privacy.erase", detail={**detail, "signatures": 0})
    return len(erased)
