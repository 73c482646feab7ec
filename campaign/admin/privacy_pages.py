"""Pages of the organisers' privacy and abuse tools: block lists, access and erasure requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Outcome, current_campaign, page, redirect
from campaign.admin.forms import FormDep, text
from campaign.moderation import privacy as privacy_requests
from campaign.moderation.privacy import BLOCK_KINDS, PrivacyError
from campaign.organisers.sessions import SessionUser
from campaign.runtime import Runtime, RuntimeDep
from campaign.web.httpcache import NO_STORE

_DONE = {
    "ajout": "Entrée ajoutée à la liste de blocage.",
    "deja": "Cette entrée figurait déjà dans la liste.",
    "suppression": "Entrée retirée de la liste de blocage.",
}


class BlockListController(Controller):
    path = "/admin/blocage"
    opt = {"role": "organiser"}

    async def _page(self, runtime: Runtime, user: SessionUser, **context: Any) -> Template:
        """The block list and the form to add to it; `context`: a notice, or an error."""
        async with runtime.pool.acquire() as conn:
            entries = await privacy_requests.block_list(conn)
        return page(
            "admin/blocklist.html",
            user,
            current_campaign(runtime),
            entries=entries,
            kinds=BLOCK_KINDS,
            **context,
        )

    @get("/")
    async def index(self, runtime: RuntimeDep, user: UserDep, fait: Outcome = None) -> Template:
        return await self._page(runtime, user, notice=_DONE.get(fait or ""))

    @post("/")
    async def add(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template | Redirect:
        values = {k: text(form, k) for k in ("kind", "value", "reason")}
        try:
            async with runtime.pool.acquire() as conn:
                added = await privacy_requests.block(
                    conn, actor(user), values["kind"], values["value"], values["reason"]
                )
        except PrivacyError as exc:
            return await self._page(runtime, user, error=str(exc), values=values)
        return redirect("/admin/blocage", "ajout" if added else "deja")

    @post("/{entry_id:int}/supprimer")
    async def remove(self, runtime: RuntimeDep, user: UserDep, entry_id: FromPath[int]) -> Redirect:
        async with runtime.pool.acquire() as conn:
            await privacy_requests.unblock(conn, actor(user), entry_id)
        return redirect("/admin/blocage", "suppression")


def _requests_page(runtime: Runtime, user: SessionUser, **context: Any) -> Template:
    return page("admin/privacy.html", user, current_campaign(runtime), **context)


def _refused(request: Request[Any, Any, Any], exc: PrivacyError) -> Template:
    """A request refused (no valid address): the page again, with the reason (422)."""
    runtime: Runtime = request.app.state.runtime
    return _requests_page(runtime, request.state.organiser, error=str(exc))


class PrivacyRequestsController(Controller):
    path = "/admin/donnees"
    opt = {"role": "organiser"}
    exception_handlers = {PrivacyError: _refused}

    @get("/")
    async def index(self, runtime: RuntimeDep, user: UserDep) -> Template:
        return _requests_page(runtime, user)

    @post("/acces", status_code=200)
    async def access(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Response[bytes]:
        """Everything held about an address, as a JSON file to send to the person."""
        async with runtime.pool.acquire() as conn:
            document = await privacy_requests.access(
                conn, runtime.settings.secret_key, actor(user), text(form, "email")
            )
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
    async def erase(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template:
        if form.get("confirmer") != "oui":
            message = "Cochez la case de confirmation : l’effacement est définitif."
            return _requests_page(runtime, user, error=message)
        async with runtime.pool.acquire() as conn:
            erased = await privacy_requests.erase(
                conn, runtime.settings.secret_key, actor(user), text(form, "email")
            )
        return _requests_page(runtime, user, erased=erased)
