"""Mailings in the back office: write a message (Markdown, preview, a test to oneself), send it to
the confirmed signatories (filtered by mandate and territory) at a set rate, and follow its
progress live (`/admin/envois/{id}`, its figures polled from `…/progression`)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markdown_it import MarkdownIt

from campaign.admin import wording
from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Outcome, current_campaign, page, redirect
from campaign.admin.forms import FormDep, text, text_fields
from campaign.core.db import Q
from campaign.letter.campaigns import Campaign
from campaign.moderation import signatories
from campaign.moderation.filters import SignatoryFilter, parse_filter
from campaign.organisers.sessions import SessionUser
from campaign.reach import mailings
from campaign.reach.mailings import Mailing
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.index import normalize
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.territories.mandates import MANDATES

_markdown = MarkdownIt("commonmark", {"html": False, "typographer": True, "breaks": True})
SAMPLE = 5
"""Recipients shown on the confirmation step."""
DONE = {
    "test": "Le message de test part dans la file d’envoi, vers votre adresse.",
    "test-bloque": "Votre adresse est sur la liste d’opposition : le test n’est pas parti.",
    "envoi": "L’envoi a commencé.",
    "relance": "Personne de nouveau : chaque destinataire ne reçoit l’envoi qu’une fois.",
    "pause": "Envoi mis en pause.",
    "reprise": "Envoi repris.",
    "annulation": "Envoi annulé : les messages pas encore partis ne partiront pas.",
    "impossible": "Cette action n’est pas possible dans l’état actuel de l’envoi.",
}


def _choices(runtime: Runtime) -> dict[str, Any]:
    return {
        "mandates": [(m, MANDATE_LABELS[m]) for m in MANDATES],
        "regions": sorted(runtime.index.all("region"), key=lambda t: normalize(t.name)),
        "departements": runtime.index.all("departement"),
    }


def _filter_label(runtime: Runtime, params: dict[str, str]) -> str:
    parts = []
    if params.get("mandat"):
        parts.append(MANDATE_LABELS.get(params["mandat"], params["mandat"]))
    for level, key in (("region", "region"), ("departement", "departement")):
        if params.get(key):
            t = runtime.index.get(level, params[key])
            parts.append(t.label if t else params[key])
    if params.get("relais"):
        parts.append(f"relais {params['relais']}")
    return ", ".join(parts) or "tous"


async def _audience(runtime: Runtime, campaign: Campaign, f: SignatoryFilter) -> int:
    f = msgspec.structs.replace(f, status="confirmed")
    async with runtime.pool.acquire() as conn:
        n: int = await conn.fetchval(
            Q["mailing_audience"], *f.sql_args(campaign.id, runtime.index, with_email=False)
        )
    return n


async def _composer(
    runtime: Runtime,
    user: SessionUser,
    campaign: Campaign,
    values: dict[str, str],
    f: SignatoryFilter,
    **context: Any,
) -> Template:
    """The form of a new mailing: how many it would reach, the filter's choices."""
    return page(
        "admin/mailing_new.html",
        user,
        campaign,
        values=values,
        audience=await _audience(runtime, campaign, f),
        **_choices(runtime),
        **context,
    )


def _remaining(progress: mailings.Progress) -> str:
    """The time left, said in French, while the mailing is being sent."""
    if progress.status != "sending":
        return ""
    left = progress.queued + progress.sending
    return wording.remaining_time(left, progress.last_minute, progress.rate)


async def _mailing_or_404(runtime: Runtime, mailing_id: int) -> Mailing:
    async with runtime.pool.acquire() as conn:
        mailing = await mailings.get(conn, mailing_id)
    if mailing is None or mailing.campaign_id != current_campaign(runtime).id:
        raise NotFoundException(detail="Envoi introuvable.")
    return mailing


async def _confirmation(runtime: Runtime, user: SessionUser, mailing: Mailing) -> Template:
    """The step before a mailing goes: to how many, and a few of them to check the filter."""
    campaign = current_campaign(runtime)
    f = msgspec.structs.replace(parse_filter(mailing.filter_params())[0], status="confirmed")
    async with runtime.pool.acquire() as conn:
        _, rows = await signatories.find_page(
            conn, campaign.id, f, runtime.index, with_email=True, page=1, per_page=SAMPLE
        )
    return page(
        "admin/send_confirm.html",
        user,
        campaign,
        mailing=mailing,
        audience=await _audience(runtime, campaign, f),
        filter_label=_filter_label(runtime, mailing.filter_params()),
        sample=[
            (
                f"{r.given_name or ''} {r.family_name or ''}".strip() or "—",
                signatories.territory_label(runtime.index, r.territory_level, r.territory_code),
                wording.masked_email(r.email),
            )
            for r in rows
        ],
        action=f"/admin/envois/{mailing.id}/envoyer",
        back=f"/admin/envois/{mailing.id}",
        hidden={},
    )


class MailingsController(Controller):
    path = "/admin/envois"
    opt = {"role": "organiser"}

    @get("/")
    async def index(self, runtime: RuntimeDep, user: UserDep) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            rows = await mailings.recent(conn, campaign.id)
        return page(
            "admin/mailings.html",
            user,
            campaign,
            mailings=[(m, _filter_label(runtime, m.filter_params())) for m in rows],
        )

    @get("/nouveau")
    async def compose(self, runtime: RuntimeDep, user: UserDep) -> Template:
        campaign = current_campaign(runtime)
        values = {"rate": str(mailings.DEFAULT_RATE).replace(".", ",").removesuffix(",0")}
        return await _composer(
            runtime, user, campaign, values, SignatoryFilter(), errors={}, preview=None
        )

    @post("/nouveau")
    async def save(self, runtime: RuntimeDep, user: UserDep, form: FormDep) -> Template | Redirect:
        campaign = current_campaign(runtime)
        values = text_fields(form)
        draft, errors = mailings.check_draft(values)
        if draft is None:
            f = parse_filter(values)[0]
            return await _composer(
                runtime, user, campaign, values, f, errors=errors, preview=None, status_code=422
            )
        if values.get("action") == "apercu":
            preview = _markdown.render(draft.body)
            return await _composer(
                runtime, user, campaign, values, draft.filter, errors=errors, preview=preview
            )
        async with runtime.pool.acquire() as conn:
            mailing_id = await mailings.create(conn, campaign.id, draft, actor(user))
        return redirect(f"/admin/envois/{mailing_id}")

    @get("/{mailing_id:int}")
    async def detail(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        mailing_id: FromPath[int],
        fait: Outcome = None,
    ) -> Template:
        mailing = await _mailing_or_404(runtime, mailing_id)
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            progress = await mailings.progress(conn, mailing)
        params = mailing.filter_params()
        audience = None
        if mailing.kind == "signatories" and mailing.status == "draft":
            audience = await _audience(runtime, campaign, parse_filter(params)[0])
        return page(
            "admin/mailing.html",
            user,
            campaign,
            mailing=mailing,
            progress=progress,
            filter_label=_filter_label(runtime, params),
            audience=audience,
            body_html=_markdown.render(mailing.body),
            remaining_text=_remaining(progress),
            notice=DONE.get(fait or ""),
        )

    @get("/{mailing_id:int}/progression")
    async def progress_json(self, runtime: RuntimeDep, mailing_id: FromPath[int]) -> Response[Any]:
        """The live figures of the progress page."""
        mailing = await _mailing_or_404(runtime, mailing_id)
        async with runtime.pool.acquire() as conn:
            progress = await mailings.progress(conn, mailing)
        figures = {**msgspec.structs.asdict(progress), "remaining_text": _remaining(progress)}
        return Response(figures, headers={"Cache-Control": "no-store"})

    @post("/{mailing_id:int}/test")
    async def test(self, runtime: RuntimeDep, user: UserDep, mailing_id: FromPath[int]) -> Redirect:
        await _mailing_or_404(runtime, mailing_id)
        async with runtime.pool.acquire() as conn:
            sent = await mailings.send_test(conn, mailing_id, user.email, actor(user))
        return redirect(f"/admin/envois/{mailing_id}", "test" if sent else "test-bloque")

    @post("/{mailing_id:int}/envoyer")
    async def start(
        self, runtime: RuntimeDep, user: UserDep, mailing_id: FromPath[int], form: FormDep
    ) -> Template | Redirect:
        """Without `confirme=oui`: the confirmation step (how many, a sample); with it: send."""
        mailing = await _mailing_or_404(runtime, mailing_id)
        if text(form, "confirme") != "oui":
            return await _confirmation(runtime, user, mailing)
        try:
            async with runtime.pool.acquire() as conn:
                added = await mailings.start(conn, mailing_id, actor(user), runtime.index)
        except mailings.MailingError:
            return redirect(f"/admin/envois/{mailing_id}", "impossible")
        return redirect(f"/admin/envois/{mailing_id}", "envoi" if added else "relance")

    @post("/{mailing_id:int}/{action:str}")
    async def change(
        self, runtime: RuntimeDep, user: UserDep, mailing_id: FromPath[int], action: FromPath[str]
    ) -> Redirect:
        actions = {"pause": ("pause", "pause"), "reprendre": ("resume", "reprise")}
        actions["annuler"] = ("cancel", "annulation")
        if action not in actions:
            raise NotFoundException(detail="Action inconnue.")
        await _mailing_or_404(runtime, mailing_id)
        name, done = actions[action]
        async with runtime.pool.acquire() as conn:
            ok = await mailings.set_status(conn, mailing_id, name, actor(user))
        return redirect(f"/admin/envois/{mailing_id}", done if ok else "impossible")
