"""Invitations in the back office: import invitees (CSV: every bad line named, the good ones
kept) or take the town halls of a département from the public directory, see who already signed,
and send the invitations (a mailing of kind `invitations`, at a set rate, once per invitee)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.core.db import Q
from campaign.moderation.filters import parse_filter
from campaign.reach import invitation_csv, invitations, mailings, mairies, relays
from campaign.runtime import Runtime, RuntimeDep

PER_PAGE: Final = 100
IMPORT_MAX_BYTES: Final = 5 * 1024 * 1024
SHOWN_ERRORS: Final = 200


def _departement(raw: str | None) -> str | None:
    f, _ = parse_filter({"departement": raw or ""})
    return f.departement


async def _relay_choices(runtime: Runtime, campaign_id: int) -> list[relays.Ranked]:
    async with runtime.pool.acquire() as conn:
        return [r for r in await relays.ranking(conn, campaign_id) if r.active]


class InvitationsController(Controller):
    path = "/admin/invitations"
    include_in_schema = False
    opt = {"role": "organiser"}

    async def _page(
        self,
        runtime: Runtime,
        user: UserDep,
        *,
        departement: str | None = None,
        status: str | None = None,
        offset: int = 0,
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            total, rows = await invitations.listing(
                conn,
                campaign.id,
                departement=departement,
                status=status,
                limit=PER_PAGE,
                offset=offset,
            )
            summary = await invitations.summary(conn, campaign.id)
            to_send = await conn.fetchval(
                Q["invitations_uninvited_count"], campaign.id, departement, None
            )
        return page(
            "admin/invitations.html",
            user,
            campaign,
            status_code=status_code,
            rows=[(r, runtime.index.get(r.territory_level, r.territory_code)) for r in rows],
            total=total,
            summary=summary,
            to_send=to_send,
            departement=departement,
            status=status,
            statuses=invitations.STATUS_LABELS,
            departements=runtime.index.all("departement"),
            relays=await _relay_choices(runtime, campaign.id),
            offset=offset,
            per_page=PER_PAGE,
            **extra,
        )

    @get("/")
    async def index(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        departement: FromQuery[str | None] = None,
        statut: FromQuery[str | None] = None,
        debut: FromQuery[int] = 0,
    ) -> Template:
        status = statut if statut in invitations.STATUS_LABELS else None
        return await self._page(
            runtime,
            user,
            departement=_departement(departement),
            status=status,
            offset=max(0, min(debut, 1_000_000)),
        )

    @post("/import", request_max_body_size=IMPORT_MAX_BYTES)
    async def import_csv(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        campaign = current_campaign(runtime)
        form = await request.form()
        upload = form.get("fichier")
        data: bytes | str = ""
        if isinstance(upload, UploadFile):
            data = await upload.read()
        if not data:
            pasted = form.get("texte")
            data = pasted if isinstance(pasted, str) else ""
        relay_id = await _relay(runtime, campaign.id, form.get("relais"))
        if not data.strip():
            return await self._page(
                runtime,
                user,
                status_code=422,
                import_errors=["Choisissez un fichier CSV ou collez ses lignes."],
            )
        invitees, errors = invitation_csv.parse(data, runtime.index)
        result = None
        if invitees:
            async with runtime.pool.acquire() as conn:
                result = await invitations.add_invitees(
                    conn,
                    runtime.settings,
                    campaign.id,
                    invitees,
                    actor(user),
                    relay_id=relay_id,
                )
        return await self._page(
            runtime,
            user,
            status_code=422 if errors and not invitees else 200,
            import_result=result,
            import_errors=[str(e) for e in errors[:SHOWN_ERRORS]],
            import_errors_more=max(0, len(errors) - SHOWN_ERRORS),
        )

    @post("/annuaire")
    async def from_directory(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        campaign = current_campaign(runtime)
        form = await request.form()
        departement = _departement(str(form.get("departement") or ""))
        if departement is None:
            return await self._page(
                runtime, user, status_code=422, import_errors=["Choisissez un département."]
            )
        relay_id = await _relay(runtime, campaign.id, form.get("relais"))
        async with runtime.pool.acquire() as conn:
            invitees, missing = await mairies.invitees_for(
                conn, runtime.index, runtime.town_halls, "departement", departement
            )
            result = await invitations.add_invitees(
                conn,
                runtime.settings,
                campaign.id,
                invitees,
                actor(user),
                source="annuaire",
                relay_id=relay_id,
            )
        return await self._page(
            runtime,
            user,
            departement=departement,
            import_result=result,
            directory_missing=missing,
        )

    @post("/envoyer")
    async def send(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        campaign = current_campaign(runtime)
        form = await request.form()
        errors: dict[str, str] = {}
        rate = mailings.parse_rate(str(form.get("rate") or ""), errors)
        if rate is None:
            return await self._page(runtime, user, status_code=422, send_error=errors.get("rate"))
        relay_id = await _relay(runtime, campaign.id, form.get("relais"))
        async with runtime.pool.acquire() as conn:
            mailing_id = await mailings.create_invitations(
                conn,
                campaign.id,
                actor(user),
                rate=rate,
                departement=_departement(str(form.get("departement") or "")),
                relay_id=relay_id,
            )
            await mailings.start(conn, mailing_id, actor(user))
        return Redirect(f"/admin/envois/{mailing_id}?fait=envoi", status_code=303)


async def _relay(runtime: Runtime, campaign_id: int, raw: object) -> int | None:
    """A relay of the campaign chosen in a form (anything else: none)."""
    if not (isinstance(raw, str) and raw.isdigit() and len(raw) < 18):
        return None
    chosen = int(raw)
    return (
        chosen if any(r.id == chosen for r in await _relay_choices(runtime, campaign_id)) else None
    )
