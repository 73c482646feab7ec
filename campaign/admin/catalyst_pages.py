"""Catalysts in the back office: organisers invite a territorial catalyst (its account, its
territories, its relay; a first password shown once, to pass on) and read the visits and calls
the catalysts note."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, get, post
from litestar.response import Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.admin.forms import FormDep, text_fields
from campaign.organisers import catalysts
from campaign.organisers.accounts import AccountError
from campaign.organisers.sessions import SessionUser
from campaign.reach import territory_queue
from campaign.runtime import Runtime, RuntimeDep

CONTACTS_SHOWN: Final = 100


def _territory_label(runtime: Runtime, key: str) -> str:
    level, _, code = key.partition(":")
    found = runtime.index.get(level, code)
    return found.label if found else code


class CatalystsController(Controller):
    path = "/admin/catalyseurs"
    opt = {"role": "organiser"}

    async def _page(
        self, runtime: Runtime, user: SessionUser, *, status_code: int = 200, **context: Any
    ) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            listed = await catalysts.listing(conn, campaign.id)
            contacts = await territory_queue.recent_contacts(
                conn, campaign.id, limit=CONTACTS_SHOWN
            )
        return page(
            "admin/catalysts.html",
            user,
            campaign,
            status_code=status_code,
            catalysts=[(c, [_territory_label(runtime, t) for t in c.territories]) for c in listed],
            contacts=[
                (c, _territory_label(runtime, f"commune:{c.territory_code}")) for c in contacts
            ],
            kinds=territory_queue.CONTACT_KINDS,
            **context,
        )

    @get("/", opt={"role": "viewer"})
    async def index(self, runtime: RuntimeDep, user: UserDep) -> Template:
        return await self._page(runtime, user)

    @post("/")
    async def create(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template:
        values = text_fields(form)
        campaign = current_campaign(runtime)
        password = catalysts.new_password()
        try:
            territories = catalysts.parse_territories(values.get("territoires", ""), runtime.index)
            async with runtime.pool.acquire() as conn:
                await catalysts.create(
                    conn,
                    runtime.settings,
                    campaign.id,
                    actor(user),
                    name=values.get("nom", ""),
                    email=values.get("email", ""),
                    territories=territories,
                    password=password,
                )
        except AccountError as exc:
            return await self._page(
                runtime, user, status_code=422, form_error=str(exc), values=values
            )
        return await self._page(
            runtime, user, created={"email": values.get("email", "").strip(), "password": password}
        )
