"""The organisations' endpoints: registered, switched on or off, deleted and tested by an
administrator of the back office, each action audited in its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import asyncpg
import msgspec

from campaign.core import audit, tokens
from campaign.core.audit import Actor
from campaign.core.db import Q, convert, convert_all
from campaign.hooks import addresses, signed

EVENTS: Final[dict[str, str]] = {
    "signature.confirmed": "Signature confirmée",
    "signature.verified": "Signature vérifiée",
    "signature.withdrawn": "Signature retirée (à effacer de vos fichiers)",
    "campaign.published": "Lettre publiée",
}
CHANNEL = "webhooks"  # NOTIFYed when deliveries are queued: the workers listen to it


class EndpointError(ValueError):
    """A registration refused; the message is French, for the back office."""


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    delivered: int = 0
    waiting: int = 0
    failed: int = 0


class StoredEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    campaign_id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    secret_salt: bytes


def chosen_events(values: list[str]) -> list[str]:
    chosen = [e for e in EVENTS if e in values]
    if not chosen or len(set(values)) != len(chosen):
        raise EndpointError("Choisissez au moins un évènement parmi ceux proposés.")
    return chosen


async def create(
    conn: asyncpg.Connection,
    secret_key: str,
    campaign_id: int,
    *,
    url: str,
    events: list[str],
    allow_local: bool,
    who: Actor,
) -> tuple[int, str]:
    """Registers an endpoint; returns its id and its signing secret (to show once: only its salt
    is kept). Raises EndpointError or addresses.AddressError, writing nothing."""
    chosen = chosen_events(events)
    url = await addresses.check(url, allow_local=allow_local)
    salt = tokens.new_salt()
    async with conn.transaction():
        endpoint_id: int = await conn.fetchval(
            Q["hook_endpoint_insert"], campaign_id, url, chosen, salt, who.email
        )
        # The URL may carry a receiver's key in its path: the journal keeps only its host.
        host = url.split("//", 1)[-1].split("/", 1)[0]
        await audit.record(
            conn,
            who,
            "webhook.create",
            target_type="webhook",
            target_id=endpoint_id,
            after={"host": host, "events": chosen},
        )
    return endpoint_id, signed.endpoint_secret(secret_key, salt)


async def all_of(conn: asyncpg.Connection, campaign_id: int) -> list[Endpoint]:
    return convert_all(await conn.fetch(Q["hook_endpoints"], campaign_id), Endpoint)


async def get(conn: asyncpg.Connection, endpoint_id: int) -> StoredEndpoint | None:
    row = await conn.fetchrow(Q["hook_endpoint"], endpoint_id)
    return None if row is None else convert(row, StoredEndpoint)


async def set_active(
    conn: asyncpg.Connection, campaign_id: int, endpoint_id: int, active: bool, who: Actor
) -> bool:
    async with conn.transaction():
        done = await conn.fetchval(Q["hook_endpoint_set_active"], endpoint_id, active, campaign_id)
        if done is not None:
            await audit.record(
                conn,
                who,
                "webhook.activate" if active else "webhook.deactivate",
                target_type="webhook",
                target_id=endpoint_id,
            )
    return done is not None


async def delete(conn: asyncpg.Connection, campaign_id: int, endpoint_id: int, who: Actor) -> bool:
    """Deletes the endpoint and its delivery log."""
    async with conn.transaction():
        done = await conn.fetchval(Q["hook_endpoint_delete"], endpoint_id, campaign_id)
        if done is not None:
            await audit.record(
                conn, who, "webhook.delete", target_type="webhook", target_id=endpoint_id
            )
    return done is not None


async def ping(conn: asyncpg.Connection, endpoint_id: int, who: Actor) -> int:
    """Queues a `ping` for this endpoint (the « test » button); returns the delivery's row id."""
    async with conn.transaction():
        row = await conn.fetchrow(Q["hook_ping"], endpoint_id)
        await audit.record(conn, who, "webhook.ping", target_type="webhook", target_id=endpoint_id)
    delivery: int = row["id"]
    return delivery
