"""Invitations in the back office: import invitees (CSV: every bad line named, the good ones
kept) or take the town halls of a département from the public directory, see who already signed,
and send the invitations (a mailing of kind `invitations`, at a set rate, once per invitee)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page, redirect
from campaign.admin.forms import FormDep, text
from campaign.core.db import Q
from campaign.moderation.filters import parse_filter
from campaign.moderation.signatories import territory_label
from campaign.organisers.sessions import SessionUser
from campaign.reach import invitation_csv, invitations, mailings, mairies, relays
from campaign.reach.invitation_csv import Invitee
from campaign.runtime import Runtime, RuntimeDep

PER_PAGE: Final = 100
IMPORT_MAX_BYTES: Final = 5 * 1024 * 1024
SHOWN_ERRORS: Final = 200
SAMPLE: Final = 5


def _departement(raw: str | None) -> str | None:
    f, _ = parse_filter({"departement": raw or ""})
    return f.departement


async def _relay_choices(runtime: Runtime, campaign_id: int) -> list[relays.Ranked]:
    async with runtime.pool.acquire() as conn:
        return [r for r in await relays.ranking(conn, campaign_id) if r.active]


class InvitationsController(Controller):
    path = "/admin/invitations"
    opt = {"role": "organiser"}

    async def _page(
        self,
        runtime: Runtime,
        user: SessionUser,
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
        debut: FromQuery[int] = 0,
        departement: FromQuery[str | None] = None,
        statut: FromQuery[str | None] = None,
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
    async def import_csv(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template:
        upload = form.get("fichier")
        data: bytes | str = ""
        if isinstance(upload, UploadFile):
            data = await upload.read()
        if not data:
            pasted = form.get("texte")
            data = pasted if isinstance(pasted, str) else ""
        if not data.strip():
            message = "Choisissez un fichier CSV ou collez ses lignes."
            return await self._page(runtime, user, status_code=422, import_errors=[message])
        invitees, errors = invitation_csv.parse(data, runtime.index)
        shown: dict[str, Any] = {
            "import_errors": [str(e) for e in errors[:SHOWN_ERRORS]],
            "import_errors_more": max(0, len(errors) - SHOWN_ERRORS),
        }
        if not invitees:
            return await self._page(runtime, user, status_code=422 if errors else 200, **shown)
        return await self._add(runtime, user, form, invitees, "csv", **shown)

    @post("/annuaire")
    async def from_directory(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template:
        departement = _departement(text(form, "departement"))
        if departement is None:
            message = "Choisissez un département."
            return await self._page(runtime, user, status_code=422, import_errors=[message])
        async with runtime.pool.acquire() as conn:
            invitees, missing = await mairies.invitees_for(
                conn, runtime.index, runtime.town_halls, "departement", departement
            )
        return await self._add(
            runtime,
            user,
            form,
            invitees,
            "annuaire",
            departement=departement,
            directory_missing=missing,
        )

    async def _add(
        self,
        runtime: Runtime,
        user: SessionUser,
        form: FormMultiDict,
        invitees: list[Invitee],
        source: str,
        **shown: Any,
    ) -> Template:
        """Add the invitees, brought by the relay the form names (if any); the page says how many
        (those already there are left as they were)."""
        campaign = current_campaign(runtime)
        relay_id = await _relay(runtime, campaign.id, form.get("relais"))
        async with runtime.pool.acquire() as conn:
            result = await invitations.add_invitees(
                conn,
                runtime.settings,
                campaign.id,
                invitees,
                actor(user),
                source=source,
                relay_id=relay_id,
            )
        return await self._page(runtime, user, import_result=result, **shown)

    @post("/envoyer")
    async def send(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template | Redirect:
        campaign = current_campaign(runtime)
        errors: dict[str, str] = {}
        rate = mailings.parse_rate(text(form, "rate"), errors)
        if rate is None:
            return await self._page(runtime, user, status_code=422, send_error=errors.get("rate"))
        relay_id = await _relay(runtime, campaign.id, form.get("relais"))
        departement = _departement(text(form, "departement"))
        if text(form, "confirme") != "oui":
            return await _confirmation(runtime, user, campaign.id, departement, relay_id, form)
        async with runtime.pool.acquire() as conn:
            mailing_id = await mailings.create_invitations(
                conn,
                campaign.id,
                actor(user),
                rate=rate,
                departement=departement,
                relay_id=relay_id,
            )
            await mailings.start(conn, mailing_id, actor(user))
        return redirect(f"/admin/envois/{mailing_id}", "envoi")


async def _confirmation(
    runtime: Runtime,
    user: SessionUser,
    campaign_id: int,
    departement: str | None,
    relay_id: int | None,
    form: FormMultiDict,
) -> Template:
    """The step before invitations go: to how many, and a few of them."""
    async with runtime.pool.acquire() as conn:
        count: int = await conn.fetchval(
            Q["invitations_uninvited_count"], campaign_id, departement, relay_id
        )
        _, rows = await invitations.listing(
            conn, campaign_id, departement=departement, status="new", limit=SAMPLE, offset=0
        )
    where = runtime.index.get("departement", departement) if departement else None
    return page(
        "admin/send_confirm.html",
        user,
        current_campaign(runtime),
        mailing=None,
        noun="invité·e",
        audience=count,
        filter_label=where.label if where else "",
        sample=[
            (
                f"{r.given_name} {r.family_name}".strip() or "—",
                territory_label(runtime.index, r.territory_level, r.territory_code),
                "—",  # the invitations list does not read addresses
            )
            for r in rows
        ],
        action="/admin/invitations/envoyer",
        back="/admin/invitations",
        hidden={
            "rate": text(form, "rate"),
            "departement": departement or "",
            "relais": str(relay_id or ""),
        },
    )


async def _relay(runtime: Runtime, campaign_id: int, raw: object) -> int | None:
    """A relay of the campaign chosen in a form (anything else: none)."""
    if not (isinstance(raw, str) and raw.isdigit() and len(raw) < 18):
        return None
    chosen = int(raw)
    return (
        chosen if any(r.id == chosen for r in await _relay_choices(runtime, campaign_id)) else None
    )
