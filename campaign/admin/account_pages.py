"""Admins' pages: organiser accounts, and the audit log (read-only, as everywhere)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.core import audit
from campaign.organisers import accounts
from campaign.organisers.accounts import AccountError
from campaign.organisers.roles import ROLES
from campaign.runtime import RuntimeDep

JOURNAL_PAGE = 100


class AccountsController(Controller):
    path = "/admin/comptes"
    include_in_schema = False
    opt = {"role": "admin"}

    async def _page(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        *,
        error: str | None = None,
        done: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        async with runtime.pool.acquire() as conn:
            organisers = await accounts.list_organisers(conn)
        return page(
            "admin/accounts.html",
            user,
            current_campaign(runtime),
            status_code=422 if error else 200,
            done=done,
            error=error,
            organisers=organisers,
            roles=ROLES,
            values=values or {},
        )

    @get("/")
    async def index(
        self, runtime: RuntimeDep, user: UserDep, fait: FromQuery[str | None] = None
    ) -> Template:
        return await self._page(runtime, user, done=fait)

    @post("/")
    async def create(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        form = await request.form()
        email = str(form.get("email") or "")
        role = str(form.get("role") or "")
        try:
            async with runtime.pool.acquire() as conn:
                await accounts.create_organiser(
                    conn, actor(user), email, role, str(form.get("password") or "")
                )
        except AccountError as exc:
            return await self._page(
                runtime, user, error=str(exc), values={"email": email, "role": role}
            )
        return Redirect("/admin/comptes?fait=compte", status_code=303)

    @post("/{organiser_id:int}")
    async def change(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        organiser_id: FromPath[int],
        request: Request[Any, Any, Any],
    ) -> Template | Redirect:
        form = await request.form()
        action = str(form.get("action") or "")
        try:
            async with runtime.pool.acquire() as conn:
                if action == "role":
                    await accounts.change_role(
                        conn, actor(user), organiser_id, str(form.get("role") or "")
                    )
                elif action in ("activer", "desactiver"):
                    await accounts.set_active(conn, actor(user), organiser_id, action == "activer")
                else:
                    raise AccountError("Action inconnue.")
        except AccountError as exc:
            return await self._page(runtime, user, error=str(exc))
        return Redirect("/admin/comptes?fait=compte", status_code=303)


class JournalController(Controller):
    path = "/admin/journal"
    include_in_schema = False
    opt = {"role": "admin"}

    @get("/")
    async def index(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        avant: FromQuery[int | None] = None,
        action: FromQuery[str | None] = None,
    ) -> Template:
        async with runtime.pool.acquire() as conn:
            entries = await audit.recent(
                conn, before_id=avant, action=action or None, limit=JOURNAL_PAGE + 1
            )
        return page(
            "admin/journal.html",
            user,
            current_campaign(runtime),
            entries=entries[:JOURNAL_PAGE],
            next_before=entries[JOURNAL_PAGE - 1].id if len(entries) > JOURNAL_PAGE else None,
            action=action or "",
        )
