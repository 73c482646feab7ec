"""The audit log: every organiser action, who, when, what, before and after; append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from campaign.core.db import Q, convert_all

_encode = msgspec.json.Encoder().encode


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts: an organiser's account, or the command line (id None)."""

    id: int | None
    email: str


CLI_ACTOR = Actor(id=None, email="ligne de commande")


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    at: datetime
    organiser_email: str | None
    action: str
    target_type: str | None
    target_id: int | None
    before: str | None
    after: str | None
    detail: str | None


def _json(value: Any) -> str | None:
    return None if value is None else _encode(value).decode()


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: int | None = None,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
) -> int:
    """Append one entry; call it in the transaction of the action so both happen or neither."""
    entry_id: int = await conn.fetchval(
        Q["admin_audit_insert"],
        actor.id,
        actor.email,
        action,
        target_type,
        target_id,
        _json(before),
        _json(after),
        _json(detail),
    )
    return entry_id


async def recent(
    conn: asyncpg.Connection, *, before_id: int | None, action: str | None, limit: int
) -> list[AuditEntry]:
    rows = await conn.fetch(Q["admin_audit_recent"], before_id, action, limit)
    return convert_all(rows, AuditEntry)


async def for_target(
    conn: asyncpg.Connection, target_type: str, target_id: int
) -> list[AuditEntry]:
    return convert_all(
        await conn.fetch(Q["admin_audit_for_target"], target_type, target_id), AuditEntry
    )


async def record_many(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    target_type: str,
    changes: list[tuple[int, Any, Any]],
    *,
    detail: Any = None,
) -> None:
    """One entry per (target id, before, after): a bulk action leaves each target's history."""
    if not changes:
        return
    await conn.executemany(
        Q["admin_audit_insert"],
        [
            (actor.id, actor.email, action, target_type, tid, _json(b), _json(a), _json(detail))
            for tid, b, a in changes
        ],
    )
