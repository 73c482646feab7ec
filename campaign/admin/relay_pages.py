"""Relays and territories in the back office: create relays (name, territory, code), give them
their links, rank them; rank the territories and show, for one, the communes where no official
has signed yet (where to call next)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.core.db import Q
from campaign.core.frenchnumbers import percent
from campaign.reach import relays
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.index import Territory
from campaign.territories.mandates import LEVELS as MANDATE_LEVELS

TO_CALL = 200
DONE = {
    "relais": "Relais créé : transmettez-lui ses deux liens.",
    "lien": "Nouveau lien secret : l’ancien ne fonctionne plus.",
    "active": "Relais réactivé.",
    "inactive": "Relais désactivé : son lien secret ne fonctionne plus (son code compte toujours).",
}


def _territory(runtime: Runtime, text: str) -> Territory | None:
    """A relay's territory: a code or a name, commune, département or région."""
    text = text.strip()
    for level in ("departement", "region", "commune"):
        found = runtime.index.get(level, text.upper())
        if found is not None:
            return found
    for level in ("departement", "region", "commune"):
        resolution = runtime.index.resolve(level, text)
        if resolution.territory is not None:
            return resolution.territory
    return None


def _label(runtime: Runtime, level: str, code: str) -> str:
    found = runtime.index.get(level, code)
    return found.label if found else code


class RelaysController(Controller):
    path = "/admin/relais"
    include_in_schema = False
    opt = {"role": "organiser"}

    async def _list(
        self,
        runtime: Runtime,
        user: UserDep,
        *,
        values: dict[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            ranked = await relays.ranking(conn, campaign.id)
        rows = []
        for r in ranked:
            cov = relays.coverage(runtime.counts, campaign.id, r.territory_level, r.territory_code)
            rows.append((r, _label(runtime, r.territory_level, r.territory_code), cov))
        return page(
            "admin/relays.html",
            user,
            campaign,
            status_code=status_code,
            rows=rows,
            values=values or {},
            form_error=error,
            percent=percent,
        )

    @get("/", opt={"role": "viewer"})
    async def index(self, runtime: RuntimeDep, user: UserDep) -> Template:
        return await self._list(runtime, user)

    @post("/")
    async def create(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        campaign = current_campaign(runtime)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        territory = _territory(runtime, form.get("territoire", ""))
        if territory is None:
            return await self._list(
                runtime,
                user,
                values=form,
                error="Territoire inconnu : un code (69, 84, 69123) ou un nom sans ambiguïté.",
                status_code=422,
            )
        try:
            async with runtime.pool.acquire() as conn:
                relay_id = await relays.create(
                    conn,
                    runtime.settings,
                    campaign.id,
                    name=form.get("nom", ""),
                    territory=territory,
                    code=form.get("code"),
                    who=actor(user),
                )
        except relays.RelayError as exc:
            return await self._list(runtime, user, values=form, error=str(exc), status_code=422)
        return Redirect(f"/admin/relais/{relay_id}?fait=relais", status_code=303)

    @get("/{relay_id:int}")
    async def detail(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        relay_id: FromPath[int],
        fait: FromQuery[str | None] = None,
    ) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            relay = await relays.get(conn, relay_id)
            if relay is None or relay.campaign_id != campaign.id:
                raise NotFoundException(detail="Relais introuvable.")
            totals, brought = await relays.brought(conn, relay, limit=200)
        return page(
            "admin/relay.html",
            user,
            campaign,
            relay=relay,
            territory_label=_label(runtime, relay.territory_level, relay.territory_code),
            secret_link=relays.secret_link(runtime.settings, relay),
            share_link=relays.share_link(runtime.settings, relay.code),
            totals=totals,
            brought=[(b, _label(runtime, b.territory_level, b.territory_code)) for b in brought],
            coverage=relays.coverage(
                runtime.counts, campaign.id, relay.territory_level, relay.territory_code
            ),
            percent=percent,
            notice=DONE.get(fait or ""),
        )

    @post("/{relay_id:int}/nouveau-lien")
    async def renew(self, runtime: RuntimeDep, user: UserDep, relay_id: FromPath[int]) -> Redirect:
        async with runtime.pool.acquire() as conn:
            await relays.renew_link(conn, runtime.settings, relay_id, actor(user))
        return Redirect(f"/admin/relais/{relay_id}?fait=lien", status_code=303)

    @post("/{relay_id:int}/activer")
    async def activate(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        relay_id: FromPath[int],
        request: Request[Any, Any, Any],
    ) -> Redirect:
        active = (await request.form()).get("actif") == "oui"
        async with runtime.pool.acquire() as conn:
            await relays.set_active(conn, relay_id, active, actor(user))
        done = "active" if active else "inactive"
        return Redirect(f"/admin/relais/{relay_id}?fait={done}", status_code=303)


class TerritoriesController(Controller):
    """Territories ranked by coverage and signatures; one département's communes to call."""

    path = "/admin/territoires"
    include_in_schema = False
    opt = {"role": "viewer"}

    @get("/")
    async def index(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        departement: FromQuery[str | None] = None,
    ) -> Template:
        campaign = current_campaign(runtime)
        counts = runtime.counts
        ranked = []
        for t in runtime.index.all("departement"):
            cov = relays.coverage(counts, campaign.id, "departement", t.code)
            ranked.append((t, cov))
        by_coverage = sorted(
            ranked, key=lambda x: (-(x[1].coverage or 0), -x[1].confirmed, x[0].code)
        )
        regions = [
            (t, relays.coverage(counts, campaign.id, "region", t.code))
            for t in runtime.index.all("region")
        ]
        regions.sort(key=lambda x: (-(x[1].coverage or 0), -x[1].confirmed, x[0].name))
        chosen = (
            runtime.index.get("departement", (departement or "").upper()) if departement else None
        )
        to_call: list[dict[str, Any]] = []
        to_call_total = 0
        if chosen is not None:
            communes = relays.unsigned_communes(
                counts, runtime.index, campaign.id, "departement", chosen.code
            )
            to_call_total = len(communes)
            shown = communes[:TO_CALL]
            codes = [t.code for t in shown]
            async with runtime.pool.acquire() as conn:
                maires = {
                    r["code"]: f"{r['given_name']} {r['family_name']}"
                    for r in await conn.fetch(Q["communes_maires"], codes)
                }
                invited = {
                    r["code"]: r
                    for r in await conn.fetch(Q["communes_invited"], campaign.id, codes)
                }
            to_call = [
                {
                    "territory": t,
                    "maire": maires.get(t.code),
                    "invitees": invited[t.code]["invitees"] if t.code in invited else 0,
                    "invited": bool(invited[t.code]["invited"]) if t.code in invited else False,
                }
                for t in shown
            ]
        return page(
            "admin/territories.html",
            user,
            campaign,
            departements=by_coverage,
            regions=regions,
            chosen=chosen,
            to_call=to_call,
            to_call_total=to_call_total,
            percent=percent,
            maire_level=MANDATE_LEVELS["maire"],
        )
