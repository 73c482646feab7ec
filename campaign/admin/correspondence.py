"""Correspondence: the outbox (queued, sent, failed with the SMTP reply) and retrying failures.

Resending a confirmation link is a moderation action on a signature (see moderation.resend).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Before, Outcome, current_campaign, newest_first, page, redirect
from campaign.admin.dashboard import MAIL_LABELS
from campaign.core import alerts, audit
from campaign.core.audit import Actor
from campaign.core.db import Q, convert_all
from campaign.runtime import RuntimeDep


class MailRow(msgspec.Struct, frozen=True, kw_only=True):
    """A message of the outbox, in the order of the page's columns."""

    id: int
    created_at: datetime
    template: str
    recipient: str
    signature_id: int | None
    given_name: str | None
    family_name: str | None
    status: str
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    next_attempt_at: datetime


PER_PAGE = 100
RETRY_MAX = 1000


async def retry(conn: asyncpg.Connection, who: Actor, ids: list[int]) -> int:
    """Failed messages back to the queue, audited; returns how many."""
    async with conn.transaction():
        rows = await conn.fetch(Q["admin_outbox_retry"], ids)
        await audit.record_many(
            conn,
            who,
            "mail.retry",
            "mail",
            [
                (r["id"], {"status": "failed", "erreur": r["last_error"]}, {"status": "queued"})
                for r in rows
            ],
        )
        for r in rows:
            if r["signature_id"] is not None:  # also in the signature's history
                await audit.record(
                    conn,
                    who,
                    "mail.retry",
                    target_type="signature",
                    target_id=r["signature_id"],
                    detail={"courriel": r["id"]},
                )
        await conn.execute(Q["admin_outbox_wake"])
    return len(rows)


class MailController(Controller):
    path = "/admin/courriels"
    opt = {"role": "organiser"}

    @get("/")
    async def index(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        statut: FromQuery[str | None] = None,
        avant: Before = None,
        fait: Outcome = None,
        relances: FromQuery[int | None] = None,
    ) -> Template:
        status = statut if statut in MAIL_LABELS else None
        async with runtime.pool.acquire() as conn:
            rows = convert_all(
                await conn.fetch(Q["admin_outbox_list"], status, avant, PER_PAGE + 1), MailRow
            )
            raised = await alerts.current_alerts(conn)
        shown, next_before = newest_first(rows, PER_PAGE)
        return page(
            "admin/mail.html",
            user,
            current_campaign(runtime),
            done=fait,
            retried=relances,
            alerts=[a.message() for a in raised],
            status=status,
            labels=MAIL_LABELS,
            rows=shown,
            next_before=next_before,
        )

    @post("/{mail_id:int}/relancer")
    async def retry_one(
        self, runtime: RuntimeDep, user: UserDep, mail_id: FromPath[int]
    ) -> Redirect:
        async with runtime.pool.acquire() as conn:
            n = await retry(conn, actor(user), [mail_id])
        return redirect(f"/admin/courriels?statut=failed&relances={n}")

    @post("/relancer-echecs")
    async def retry_failed(self, runtime: RuntimeDep, user: UserDep) -> Redirect:
        async with runtime.pool.acquire() as conn:
            ids = [r["id"] for r in await conn.fetch(Q["admin_outbox_failed_ids"], RETRY_MAX)]
            n = await retry(conn, actor(user), ids)
        return redirect(f"/admin/courriels?relances={n}")
