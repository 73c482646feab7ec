"""Pages of the signatories: the list (search, filters, sort, pages), one signature and its
history, and the actions on them (organisers and admins only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import current_campaign, page
from campaign.core import audit
from campaign.moderation import actions as moderation
from campaign.moderation import signatories
from campaign.moderation.filters import SORTS, STATUS_LABELS, STATUSES, parse_filter
from campaign.organisers.roles import allows
from campaign.register import verification
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.territories.mandates import MANDATES

ORGANISER = {"role": "organiser"}


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


class SignatoriesController(Controller):
    path = "/admin/signataires"
    include_in_schema = False
    opt = {"role": "viewer"}

    @get("/")
    async def index(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        campaign = current_campaign(runtime)
        params = dict(request.query_params)
        f, errors = parse_filter(params)
        number = _page_number(params.get("page"))
        with_email = allows(user.role, "organiser")
        async with runtime.pool.acquire() as conn:
            total, rows = await signatories.find_page(
                conn, campaign.id, f, runtime.index, with_email=with_email, page=number
            )
        return page(
            "admin/signatories.html",
            user,
            campaign,
            f=f,
            errors=errors,
            total=total,
            items=signatories.display(rows, runtime.index),
            page_number=number,
            pages=max(1, -(-total // signatories.PER_PAGE)),
            query=f.query_string(),
            statuses=[(s, STATUS_LABELS[s]) for s in STATUSES],
            status_labels=STATUS_LABELS,
            mandates=[(m, MANDATE_LABELS[m]) for m in MANDATES],
            regions=runtime.index.all("region"),
            departements=runtime.index.all("departement"),
            sorts=SORTS,
            with_email=with_email,
            bulk_actions=moderation.ACTIONS,
        )

    @get("/{signature_id:int}")
    async def detail(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        signature_id: FromPath[int],
        fait: FromQuery[str | None] = None,
    ) -> Template:
        return await _detail_page(runtime, user, signature_id, done=fait)

    @post("/{signature_id:int}/moderer", opt=ORGANISER)
    async def moderate(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        signature_id: FromPath[int],
        request: Request[Any, Any, Any],
    ) -> Template | Redirect:
        form = await request.form()
        action = str(form.get("action") or "")
        done = {
            "rejeter": "rejet",
            "restaurer": "restauration",
            "mettre-en-avant": "avant",
            "retirer-avant": "retrait-avant",
            "lever-suspicion": "suspicion",
        }.get(action, "")
        try:
            async with runtime.pool.acquire() as conn, conn.transaction():
                await moderation.apply(
                    conn, actor(user), action, [signature_id], str(form.get("motif") or "")
                )
        except moderation.ModerationError as exc:
            return await _detail_page(runtime, user, signature_id, error=str(exc))
        return _back(signature_id, done)

    @post("/{signature_id:int}/corriger", opt=ORGANISER)
    async def correct(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        signature_id: FromPath[int],
        request: Request[Any, Any, Any],
    ) -> Template | Redirect:
        form = await request.form()
        try:
            async with runtime.pool.acquire() as conn:
                await moderation.correct_names(
                    conn,
                    actor(user),
                    signature_id,
                    str(form.get("given_name") or ""),
                    str(form.get("family_name") or ""),
                )
        except moderation.ModerationError as exc:
            return await _detail_page(runtime, user, signature_id, error=str(exc))
        return _back(signature_id, "correction")

    @post("/{signature_id:int}/renvoyer", opt=ORGANISER)
    async def resend(
        self, runtime: RuntimeDep, user: UserDep, signature_id: FromPath[int]
    ) -> Template | Redirect:
        async with runtime.pool.acquire() as conn:
            sent = await moderation.resend(conn, runtime.settings, actor(user), signature_id)
        if not sent:
            message = "Seule une signature en attente reçoit un nouveau lien."
            return await _detail_page(runtime, user, signature_id, error=message)
        return _back(signature_id, "renvoi")

    @post("/{signature_id:int}/verification", opt=ORGANISER)
    async def verify(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        signature_id: FromPath[int],
        request: Request[Any, Any, Any],
    ) -> Template | Redirect:
        """Override the register's verification (or go back to it: empty decision)."""
        form = await request.form()
        decision = str(form.get("decision") or "") or None
        if decision not in (None, "verified", "not_found"):
            return await _detail_page(runtime, user, signature_id, error="Décision inconnue.")
        async with runtime.pool.acquire() as conn, conn.transaction():
            before = await signatories.get(conn, signature_id, with_email=False)
            if before is None:
                raise NotFoundException(detail="Signature introuvable.")
            await verification.override_verification(conn, signature_id, decision, user.email)
            await audit.record(
                conn,
                actor(user),
                "signature.verify",
                target_type="signature",
                target_id=signature_id,
                before={"décision": before.verification_override},
                after={"décision": decision},
            )
        return _back(signature_id, "verification")

    @get("/lot", opt=ORGANISER)
    async def bulk_preview(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        """How many signatures an action on this filter would touch, before doing it."""
        campaign = current_campaign(runtime)
        params = dict(request.query_params)
        f, errors = parse_filter(params)
        action = params.get("action", "")
        async with runtime.pool.acquire() as conn:
            total, _ = await signatories.find_page(
                conn, campaign.id, f, runtime.index, with_email=True, page=1, per_page=1
            )
        return page(
            "admin/bulk.html",
            user,
            campaign,
            f=f,
            errors=errors,
            total=total,
            action=action if action in moderation.ACTIONS else "",
            actions=moderation.ACTIONS,
            query=f.query_string(),
            too_many=total > moderation.BULK_MAX,
            bulk_max=moderation.BULK_MAX,
            status_labels=STATUS_LABELS,
        )

    @post("/lot", opt=ORGANISER)
    async def bulk_apply(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        campaign = current_campaign(runtime)
        form = await request.form()
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        f, errors = parse_filter(fields)
        action = fields.get("action", "")
        expected = fields.get("attendu", "")
        message: str | None = None
        async with runtime.pool.acquire() as conn, conn.transaction():
            ids = await signatories.matching_ids(conn, campaign.id, f, runtime.index)
            if errors or action not in moderation.ACTIONS:
                message = "Action ou filtre invalide."
            elif str(len(ids)) != expected:
                message = (
                    f"La sélection a changé : {len(ids)} signature(s) au lieu de {expected}. "
                    "Vérifiez l’aperçu puis confirmez à nouveau."
                )
            elif len(ids) > moderation.BULK_MAX:
                message = f"Au plus {moderation.BULK_MAX} signatures à la fois."
            else:
                try:
                    changed = await moderation.apply(
                        conn, actor(user), action, ids, fields.get("motif")
                    )
                except moderation.ModerationError as exc:
                    message = str(exc)
        if message is not None:
            return page(
                "admin/bulk.html",
                user,
                campaign,
                status_code=409,
                f=f,
                errors=[*errors, message],
                total=len(ids),
                action=action if action in moderation.ACTIONS else "",
                actions=moderation.ACTIONS,
                query=f.query_string(),
                too_many=len(ids) > moderation.BULK_MAX,
                bulk_max=moderation.BULK_MAX,
                status_labels=STATUS_LABELS,
            )
        query = f.query_string()
        return Redirect(
            f"/admin/signataires?{query}&modifiees={changed}"
            if query
            else f"/admin/signataires?modifiees={changed}",
            status_code=303,
        )


def _back(signature_id: int, done: str) -> Redirect:
    return Redirect(f"/admin/signataires/{signature_id}?fait={done}", status_code=303)


async def _detail_page(
    runtime: Runtime,
    user: UserDep,
    signature_id: int,
    *,
    done: str | None = None,
    error: str | None = None,
) -> Template:
    """One signature and its history; an action that failed shows its reason here (422)."""
    with_email = allows(user.role, "organiser")
    async with runtime.pool.acquire() as conn:
        signature = await signatories.get(conn, signature_id, with_email=with_email)
        if signature is None:
            raise NotFoundException(detail="Signature introuvable.")
        history = await signatories.history(conn, signature, with_email=with_email)
    return page(
        "admin/signature.html",
        user,
        current_campaign(runtime),
        status_code=422 if error else 200,
        done=done,
        error=error,
        s=signature,
        territory=signatories.territory_label(
            runtime.index, signature.territory_level, signature.territory_code
        ),
        history=history,
        status_labels=STATUS_LABELS,
    )
