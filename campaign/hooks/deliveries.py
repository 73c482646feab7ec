"""The deliveries' queue: claimed by the worker with a lease (at least once), their outcome
recorded only by the worker that still holds them, and what each one carries, built when it is
sent from the rows as they are then.

Privacy: a signature event carries the signature's id, mandate, territory, whether it is
verified and when it was confirmed; the signer's name only if they agreed to be listed
publicly (and not while the campaign's names are under embargo); never an email address, a
comment or a relay code. A signer who withdrew (or was erased) is never sent: the confirmation
or verification not yet delivered is dropped, and `signature.withdrawn` carries the id alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from campaign.core.db import Q, convert_all


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    delivery_id: uuid.UUID
    event: str
    signature_id: int | None
    occurred_at: datetime
    attempts: int
    endpoint_id: int
    url: str
    secret_salt: bytes
    active: bool
    campaign_id: int
    campaign_slug: str


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A line of the back office's delivery log."""

    id: int
    delivery_id: uuid.UUID
    event: str
    signature_id: int | None
    occurred_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


_encode = msgspec.json.Encoder().encode


async def claim(pool: asyncpg.Pool, *, limit: int, lease_seconds: float) -> list[Claimed]:
    return convert_all(await pool.fetch(Q["hook_claim"], limit, lease_seconds), Claimed)


async def log_of(
    conn: asyncpg.Connection, endpoint_id: int, *, limit: int, before: int | None = None
) -> list[Delivery]:
    return convert_all(await conn.fetch(Q["hook_deliveries"], endpoint_id, limit, before), Delivery)


async def publish_due(pool: asyncpg.Pool) -> int:
    """Queues `campaign.published` for the campaigns whose launch instant has just come."""
    return len(await pool.fetch(Q["hook_publish_due"]))


def _signature_data(row: asyncpg.Record) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row["id"],
        "mandate": row["mandate"],
        "territory": {
            "level": row["territory_level"],
            "code": row["territory_code"],
            "name": row["territory_name"],
            "departement": row["departement"],
            "region": row["region"],
        },
        "verified": bool(row["verified"]),
        "confirmed_at": row["confirmed_at"].isoformat() if row["confirmed_at"] else None,
        "listed": bool(row["listed"]),
    }
    if row["listed"]:
        data["given_name"] = row["given_name"]
        data["family_name"] = row["family_name"]
    return data


async def body_of(pool: asyncpg.Pool, base_url: str, d: Claimed) -> bytes | None:
    """The JSON body the delivery carries now; None: not to be sent any more (its signer
    withdrew, was erased or set aside since the event)."""
    data: dict[str, Any]
    if d.event == "signature.withdrawn":
        data = {"id": d.signature_id}
    elif d.event in ("signature.confirmed", "signature.verified"):
        row = await pool.fetchrow(Q["hook_signature"], d.signature_id)
        if row is None or row["erased"] or row["status"] != "confirmed":
            return None
        data = _signature_data(row)
    elif d.event == "campaign.published":
        c = await pool.fetchrow(Q["hook_campaign"], d.campaign_id)
        data = {
            "slug": c["slug"],
            "title": c["title"],
            "launch_at": c["launch_at"].isoformat(),
            "url": f"{base_url}/",
        }
    else:  # ping
        data = {"endpoint_id": d.endpoint_id, "message": "Test du webhook."}
    envelope = {
        "id": str(d.delivery_id),
        "type": d.event,
        "occurred_at": d.occurred_at.isoformat(),
        "campaign": d.campaign_slug,
        "data": data,
    }
    return _encode(envelope)


async def mark_delivered(pool: asyncpg.Pool, d: Claimed, status: int) -> bool:
    return _updated(await pool.execute(Q["hook_mark_delivered"], d.id, d.attempts, status))


async def mark_retry(
    pool: asyncpg.Pool, d: Claimed, delay: float, status: int | None, error: str
) -> bool:
    return _updated(
        await pool.execute(Q["hook_mark_retry"], d.id, d.attempts, delay, status, error)
    )


async def mark_ended(
    pool: asyncpg.Pool, d: Claimed, outcome: str, status: int | None, error: str
) -> bool:
    """`failed` (for good) or `dropped` (not to be sent)."""
    return _updated(
        await pool.execute(Q["hook_mark_ended"], d.id, d.attempts, outcome, status, error)
    )


def _updated(status: str) -> bool:
    return status == "UPDATE 1"
