"""Pages of the organisers' privacy and abuse tools: block lists, access and erasure requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.moderation import privacy as privacy_requests
from campaign.moderation.privacy import BLOCK_KINDS, PrivacyError
from campaign.runtime import Runtime, RuntimeDep
from campaign.web.httpcache import NO_STORE

_DONE = {
    "ajout": "Entrée ajoutée à la liste de blocage.",
    "deja": "Cette entrée figurait déjà dans la liste.",
    "suppression": "Entrée retirée de la liste de blocage.",
}


class BlockListController(Controller):
    path = "/admin/blocage"
    include_in_schema = False
    opt = {"role": "organiser"}

    async def _page(
        self,
        runtime: Runtime,
        user: UserDep,
        *,
        done: str | None = None,
        error: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        async with runtime.pool.acquire() as conn:
            entries = await privacy_requests.block_list(conn)
        return page(
            "admin/blocklist.html",
            user,
            current_campaign(runtime),
            status_code=422 if error else 200,
            error=error,
            notice=_DONE.get(done or ""),
            entries=entries,
            kinds=BLOCK_KINDS,
            values=values or {},
        )

    @get("/")
    async def index(
        self, runtime: RuntimeDep, user: UserDep, fait: FromQuery[str | None] = None
    ) -> Template:
        return await self._page(runtime, user, done=fait)

    @post("/")
    async def add(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        form = await request.form()
        values = {k: str(form.get(k) or "") for k in ("kind", "value", "reason")}
        try:
            async with runtime.pool.acquire() as conn:
                added = await privacy_requests.block(
                    conn, actor(user), values["kind"], values["value"], values["reason"]
                )
        except PrivacyError as exc:
            return await self._page(runtime, user, error=str(exc), values=values)
        return Redirect(f"/admin/blocage?fait={'ajout' if added else 'deja'}", status_code=303)

    @post("/{entry_id:int}/supprimer")
    async def remove(self, runtime: RuntimeDep, user: UserDep, entry_id: FromPath[int]) -> Redirect:
        async with runtime.pool.acquire() as conn:
            await privacy_requests.unblock(conn, actor(user), entry_id)
        return Redirect("/admin/blocage?fait=suppression", status_code=303)


class PrivacyRequestsController(Controller):
    path = "/admin/donnees"
    include_in_schema = False
    opt = {"role": "organiser"}

    def _page(self, runtime: Runtime, user: UserDep, status: int = 200, **context: Any) -> Template:
        return page(
            "admin/privacy.html", user, current_campaign(runtime), status_code=status, **context
        )

    @get("/")
    async def index(self, runtime: RuntimeDep, user: UserDep) -> Template:
        return self._page(runtime, user)

    @post("/acces", status_code=200)
    async def access(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Response[bytes] | Template:
        """Everything held about an address, as a JSON file to send to the person."""
        form = await request.form()
        try:
            async with runtime.pool.acquire() as conn:
                document = await privacy_requests.access(
                    conn, runtime.settings.secret_key, actor(user), str(form.get("email") or "")
                )
        except PrivacyError as exc:
            return self._page(runtime, user, 422, error=str(exc))
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            document,
            media_type="application/json",
            headers={
                **NO_STORE,
                "Content-Disposition": f'attachment; filename="donnees-personnelles-{stamp}.json"',
            },
        )

    @post("/effacement")
    async def erase(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        form = await request.form()
        if form.get("confirmer") != "oui":
            message = "Cochez la case de confirmation : l’effacement est définitif."
            return self._page(runtime, user, 422, error=message)
        try:
            async with runtime.pool.acquire() as conn:
                erased = await privacy_requests.erase(
                    conn, runtime.settings.secret_key, actor(user), str(form.get("email") or "")
                )
        except PrivacyError as exc:
            return self._page(runtime, user, 422, error=str(exc))
        return self._page(runtime, user, erased=erased)
