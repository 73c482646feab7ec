"""Campaign settings (admins): the letter (Markdown, preview, a new version at each change),
launch date, closing date, goal, embargo, open or closed. Every process reloads the campaign on
its NOTIFY."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Outcome, current_campaign, page, redirect
from campaign.admin.forms import FormDep, text_fields
from campaign.core import audit
from campaign.core.db import Q
from campaign.core.frenchdates import BOUNDS_TEXT, PARIS, parse_moment
from campaign.letter.campaigns import Campaign, CampaignDefinition, save_campaign
from campaign.organisers.sessions import SessionUser
from campaign.runtime import Runtime, RuntimeDep

STATUSES = {"draft": "Brouillon", "open": "Ouverte aux signatures", "closed": "Close"}
BODY_MAX = 100_000
# Saved into the letter's definition (with its body): a changed body makes a new version.
_LETTER_FIELDS = ("title", "addressees", "summary", "launch_at", "goal")
TEXT_MAX = 500


def _fields(campaign: Campaign) -> dict[str, str]:
    return {
        "title": campaign.title,
        "addressees": campaign.addressees,
        "summary": campaign.summary,
        "launch_at": campaign.launch_at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M"),
        "closing_at": (
            campaign.closing_at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
            if campaign.closing_at
            else ""
        ),
        "goal": str(campaign.goal),
        "status": campaign.status,
        "embargo": "true" if campaign.embargo else "",
        "body": campaign.body,
    }


def _check(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("title", "addressees", "summary"):
        text = form.get(name, "").strip()
        if len(text) > TEXT_MAX:
            errors[name] = f"Au plus {TEXT_MAX} caractères."
        values[name] = text
    if not values["title"]:
        errors["title"] = "Le titre est obligatoire."
    try:
        values["launch_at"] = parse_moment(form.get("launch_at", ""))
    except ValueError:
        errors["launch_at"] = f"Date et heure attendues (heure de Paris), {BOUNDS_TEXT}."
    values["closing_at"] = None  # optional: signing then stays open until the status says
    if closing := form.get("closing_at", "").strip():
        try:
            values["closing_at"] = parse_moment(closing)
        except ValueError:
            errors["closing_at"] = (
                f"Date et heure attendues (heure de Paris), {BOUNDS_TEXT}, ou rien."
            )
        else:
            opens = values.get("launch_at")
            if opens is not None and values["closing_at"] <= opens:
                errors["closing_at"] = "La clôture doit venir après la publication."
    try:
        values["goal"] = int(form.get("goal", "0") or 0)
        if not 0 <= values["goal"] <= 10_000_000:
            raise ValueError
    except ValueError:
        errors["goal"] = "Un nombre entier positif."
    values["status"] = form.get("status", "")
    if values["status"] not in STATUSES:
        errors["status"] = "Statut inconnu."
    values["embargo"] = form.get("embargo") == "true"
    body = form.get("body", "").replace("\r\n", "\n").strip()
    if not body:
        errors["body"] = "La lettre ne peut pas être vide."
    elif len(body) > BODY_MAX:
        errors["body"] = f"Au plus {BODY_MAX} caractères."
    values["body"] = body + "\n"
    return values, errors


def _summary(c: Campaign) -> dict[str, Any]:
    return {
        "titre": c.title,
        "destinataires": c.addressees,
        "résumé": c.summary,
        "lancement": c.launch_at.isoformat(),
        "clôture": c.closing_at.isoformat() if c.closing_at else None,
        "objectif": c.goal,
        "statut": c.status,
        "embargo": c.embargo,
        "version": c.current_version,
    }


class CampaignSettingsController(Controller):
    path = "/admin/campagne"
    opt = {"role": "admin"}

    @get("/")
    async def form(self, runtime: RuntimeDep, user: UserDep, fait: Outcome = None) -> Template:
        campaign = current_campaign(runtime)
        return await self._page(runtime, user, campaign, _fields(campaign), done=fait)

    async def _page(
        self,
        runtime: Runtime,
        user: SessionUser,
        campaign: Campaign,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        *,
        preview: str | None = None,
        done: str | None = None,
    ) -> Template:
        """The form, its errors (422) or a preview of the letter, and the letter's versions."""
        async with runtime.pool.acquire() as conn:
            versions = await conn.fetch(Q["admin_letter_versions"], campaign.id)
        return page(
            "admin/campaign.html",
            user,
            campaign,
            status_code=422 if errors else 200,
            done=done,
            values=values,
            errors=errors or {},
            preview=preview,
            statuses=STATUSES,
            versions=versions,
        )

    @post("/")
    async def save(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template | Redirect:
        campaign = current_campaign(runtime)
        fields = text_fields(form)
        values, errors = _check(fields)
        shown = {**fields, "embargo": "true" if values.get("embargo") else ""}
        if errors:
            return await self._page(runtime, user, campaign, shown, errors)
        if fields.get("action") == "apercu":
            preview = msgspec.structs.replace(campaign, body=values["body"]).body_html
            return await self._page(runtime, user, campaign, shown, preview=preview)
        letter = {k: values[k] for k in _LETTER_FIELDS}
        definition = CampaignDefinition(slug=campaign.slug, body=values["body"], **letter)
        async with runtime.pool.acquire() as conn, conn.transaction():
            await save_campaign(conn, definition)  # a changed letter becomes a new version
            await conn.execute(
                Q["admin_update_campaign_flags"], campaign.id, values["status"], values["embargo"]
            )
            await conn.execute(Q["set_campaign_closing"], campaign.id, values["closing_at"])
            version = await conn.fetchval(Q["admin_campaign_version"], campaign.id)
            after = msgspec.structs.replace(
                campaign,
                **letter,
                status=values["status"],
                embargo=values["embargo"],
                closing_at=values["closing_at"],
                current_version=version,
            )
            await audit.record(
                conn,
                actor(user),
                "campaign.update",
                target_type="campaign",
                target_id=campaign.id,
                before=_summary(campaign),
                after=_summary(after),
                detail={"lettre modifiée": campaign.body != values["body"]},
            )
        # This process at once; the others on the campaigns' NOTIFY.
        async with runtime.pool.acquire() as conn:
            await runtime.campaigns.reload(conn)
        return redirect("/admin/campagne", "campagne")
