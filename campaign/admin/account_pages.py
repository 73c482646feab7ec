"""Admins' pages: organiser accounts, and the audit log (read-only, as everywhere)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin import wording
from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Before, Outcome, current_campaign, newest_first, page, redirect
from campaign.admin.forms import FormDep, text
from campaign.core import audit
from campaign.organisers import accounts
from campaign.organisers.accounts import AccountError
from campaign.organisers.roles import ROLES
from campaign.organisers.sessions import SessionUser
from campaign.runtime import Runtime, RuntimeDep

JOURNAL_PAGE = 100


class AdminsController(Controller):
    """What admins alone see: the organisers' accounts, and the audit log."""

    path = "/admin"
    opt = {"role": "admin"}

    async def _accounts(self, runtime: Runtime, user: SessionUser, **context: Any) -> Template:
        """The accounts and the form to add one; `context`: an outcome, or an error."""
        async with runtime.pool.acquire() as conn:
            context["organisers"] = await accounts.list_organisers(conn)
        return page("admin/accounts.html", user, current_campaign(runtime), roles=ROLES, **context)

    @get("/comptes")
    async def accounts_page(
        self, runtime: RuntimeDep, user: UserDep, fait: Outcome = None
    ) -> Template:
        return await self._accounts(runtime, user, done=fait)

    @post("/comptes")
    async def create(
        self, runtime: RuntimeDep, user: UserDep, form: FormDep
    ) -> Template | Redirect:
        values = {"email": text(form, "email"), "role": text(form, "role")}
        try:
            async with runtime.pool.acquire() as conn:
                await accounts.create_organiser(
                    conn, actor(user), values["email"], values["role"], text(form, "password")
                )
        except AccountError as exc:
            return await self._accounts(runtime, user, error=str(exc), values=values)
        return redirect("/admin/comptes", "compte")

    @post("/comptes/{organiser_id:int}")
    async def change(
        self, runtime: RuntimeDep, user: UserDep, organiser_id: FromPath[int], form: FormDep
    ) -> Template | Redirect:
        action = text(form, "action")
        try:
            async with runtime.pool.acquire() as conn:
                if action == "role":
                    await accounts.change_role(conn, actor(user), organiser_id, text(form, "role"))
                elif action in ("activer", "desactiver"):
                    await accounts.set_active(conn, actor(user), organiser_id, action == "activer")
                else:
                    raise AccountError("Action inconnue.")
        except AccountError as exc:
            return await self._accounts(runtime, user, error=str(exc))
        return redirect("/admin/comptes", "compte")

    @get("/journal")
    async def journal(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        avant: Before = None,
        action: FromQuery[str | None] = None,
    ) -> Template:
        """The audit log, newest first, filtered by action."""
        async with runtime.pool.acquire() as conn:
            entries = await audit.recent(
                conn, before_id=avant, action=action or None, limit=JOURNAL_PAGE + 1
            )
            roles = {o.email: o.role for o in await accounts.list_organisers(conn)}
        shown, next_before = newest_first(entries, JOURNAL_PAGE)
        return page(
            "admin/journal.html",
            user,
            current_campaign(runtime),
            action=action or "",
            entries=[(e, wording.sentence(e, roles)) for e in shown],
            next_before=next_before,
        )
