"""The organisations' webhooks in the back office (administrators): register an endpoint (its
secret shown once), switch it off or on, delete it, send it a test, read its delivery log."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Before, Outcome, current_campaign, newest_first, page, redirect
from campaign.admin.forms import FormDep, text
from campaign.hooks import deliveries, endpoints
from campaign.hooks.addresses import AddressError, local_allowed
from campaign.hooks.endpoints import EVENTS, EndpointError, StoredEndpoint
from campaign.organisers.sessions import SessionUser
from campaign.runtime import Runtime, RuntimeDep

PER_PAGE = 50
DONE = {
    "test": "Un évènement de test (« ping ») part vers ce point d’accès.",
    "active": "Point d’accès réactivé.",
    "inactive": "Point d’accès désactivé : ce qui lui était destiné ne lui sera pas envoyé.",
    "supprime": "Point d’accès supprimé, avec son historique d’envois.",
}
STATUS_LABELS = {
    "queued": "En attente",
    "sending": "En cours",
    "delivered": "Remis",
    "failed": "Échec définitif",
    "dropped": "Abandonné",
}


class HooksController(Controller):
    path = "/admin/webhooks"
    opt = {"role": "admin"}

    async def _list(
        self, runtime: Runtime, user: SessionUser, *, done: str | None = None, **shown: object
    ) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            registered = await endpoints.all_of(conn, campaign.id)
        return page(
            "admin/webhooks.html",
            user,
            campaign,
            endpoints=registered,
            events=EVENTS,
            notice=DONE.get(done or ""),
            **shown,  # type: ignore[arg-type]
        )

    @get("/")
    async def index(self, runtime: RuntimeDep, user: UserDep, fait: Outcome = None) -> Template:
        return await self._list(runtime, user, done=fait)

    @post("/")
    async def create(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template:
        campaign = current_campaign(runtime)
        url = text(form, "url")
        chosen = [str(v) for v in form.getall("evenements", []) if isinstance(v, str)]
        try:
            async with runtime.pool.acquire() as conn:
                endpoint_id, secret = await endpoints.create(
                    conn,
                    runtime.settings.secret_key,
                    campaign.id,
                    url=url,
                    events=chosen,
                    allow_local=local_allowed(runtime.settings),
                    who=actor(user),
                )
        except (EndpointError, AddressError) as exc:
            return await self._list(
                runtime, user, error=str(exc), values={"url": url}, chosen=chosen
            )
        # The secret is shown on this answer only (never stored, never logged).
        return page(
            "admin/webhook_secret.html", user, campaign, endpoint_id=endpoint_id, secret=secret
        )

    async def _endpoint(self, runtime: Runtime, endpoint_id: int) -> StoredEndpoint:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            found = await endpoints.get(conn, endpoint_id)
        if found is None or found.campaign_id != campaign.id:
            raise NotFoundException(detail="Point d’accès introuvable.")
        return found

    @get("/{endpoint_id:int}")
    async def detail(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        endpoint_id: FromPath[int],
        fait: Outcome = None,
        avant: Before = None,
    ) -> Template:
        endpoint = await self._endpoint(runtime, endpoint_id)
        async with runtime.pool.acquire() as conn:
            rows = await deliveries.log_of(conn, endpoint_id, limit=PER_PAGE + 1, before=avant)
        shown, older = newest_first(rows, PER_PAGE)
        return page(
            "admin/webhook.html",
            user,
            current_campaign(runtime),
            endpoint=endpoint,
            deliveries=shown,
            older=older,
            events=EVENTS,
            delivery_status=STATUS_LABELS,
            notice=DONE.get(fait or ""),
        )

    @post("/{endpoint_id:int}/test")
    async def ping(
        self, runtime: RuntimeDep, user: UserDep, endpoint_id: FromPath[int]
    ) -> Redirect:
        await self._endpoint(runtime, endpoint_id)
        async with runtime.pool.acquire() as conn:
            await endpoints.ping(conn, endpoint_id, actor(user))
        return redirect(f"/admin/webhooks/{endpoint_id}", "test")

    @post("/{endpoint_id:int}/activer")
    async def activate(
        self, runtime: RuntimeDep, user: UserDep, endpoint_id: FromPath[int], form: FormDep
    ) -> Redirect:
        active = text(form, "actif") == "oui"
        async with runtime.pool.acquire() as conn:
            found = await endpoints.set_active(
                conn, current_campaign(runtime).id, endpoint_id, active, actor(user)
            )
        if not found:
            raise NotFoundException(detail="Point d’accès introuvable.")
        return redirect(f"/admin/webhooks/{endpoint_id}", "active" if active else "inactive")

    @post("/{endpoint_id:int}/supprimer")
    async def delete(
        self, runtime: RuntimeDep, user: UserDep, endpoint_id: FromPath[int]
    ) -> Redirect:
        async with runtime.pool.acquire() as conn:
            found = await endpoints.delete(
                conn, current_campaign(runtime).id, endpoint_id, actor(user)
            )
        if not found:
            raise NotFoundException(detail="Point d’accès introuvable.")
        return redirect("/admin/webhooks", "supprime")
