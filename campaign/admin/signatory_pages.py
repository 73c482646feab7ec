"""Pages of the signatories: the list (search, filters, sort, pages), one signature and its
history, and the actions on them (organisers and admins only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Outcome, current_campaign, page, redirect
from campaign.admin.forms import FormDep, text, text_fields
from campaign.core import audit
from campaign.letter.campaigns import Campaign
from campaign.moderation import actions as moderation
from campaign.moderation import signatories
from campaign.moderation.filters import (
    PROOF_CHOICES,
    SORTS,
    STATUS_LABELS,
    STATUSES,
    SignatoryFilter,
    parse_filter,
)
from campaign.organisers.roles import allows
from campaign.organisers.sessions import SessionUser
from campaign.register import verification
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.territories.mandates import MANDATES

ORGANISER = {"role": "organiser"}


def _filter(request: Request[Any, Any, Any]) -> tuple[dict[str, str], SignatoryFilter, list[str]]:
    """The query string, the list's filter it gives, and what was wrong in it."""
    params = dict(request.query_params)
    f, errors = parse_filter(params)
    return params, f, errors


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


class SignatoriesController(Controller):
    path = "/admin/signataires"
    opt = {"role": "viewer"}

    @get("/")
    async def index(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        campaign = current_campaign(runtime)
        params, f, errors = _filter(request)
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
            status_code=400 if errors else 200,  # the list shown, without what was wrong
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
            regions=[(t.code, t.name) for t in runtime.index.all("region")],
            departements=[
                (t.code, f"{t.code} — {t.name}") for t in runtime.index.all("departement")
            ],
            sorts=SORTS,
            proof_choices=PROOF_CHOICES,
            with_email=with_email,
            bulk_actions=moderation.ACTIONS,
        )

    @get("/{signature_id:int}")
    async def detail(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        signature_id: FromPath[int],
        fait: Outcome = None,
    ) -> Template:
        return await _detail_page(runtime, user, signature_id, done=fait)

    @post("/{signature_id:int}/moderer", opt=ORGANISER)
    async def moderate(
        self, runtime: RuntimeDep, user: UserDep, signature_id: FromPath[int], form: FormDep
    ) -> Template | Redirect:
        action = text(form, "action")
        ids, reason = [signature_id], text(form, "motif")
        return await _act(
            runtime,
            user,
            signature_id,
            lambda conn: moderation.apply(conn, actor(user), action, ids, reason),
            done=_MODERATED.get(action, ""),
        )

    @post("/{signature_id:int}/corriger", opt=ORGANISER)
    async def correct(
        self, runtime: RuntimeDep, user: UserDep, signature_id: FromPath[int], form: FormDep
    ) -> Template | Redirect:
        given, family = text(form, "given_name"), text(form, "family_name")
        return await _act(
            runtime,
            user,
            signature_id,
            lambda conn: moderation.correct_names(conn, actor(user), signature_id, given, family),
            done="correction",
        )

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
        self, runtime: RuntimeDep, user: UserDep, signature_id: FromPath[int], form: FormDep
    ) -> Template | Redirect:
        """Override the register's verification (or go back to it: empty decision)."""
        decision = text(form, "decision") or None
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

    @post("/{signature_id:int}/attestation", opt=ORGANISER)
    async def attest(
        self, runtime: RuntimeDep, user: UserDep, signature_id: FromPath[int], form: FormDep
    ) -> Template | Redirect:
        """Attest that the signer is the official declared (with a reason), or withdraw it."""
        decision, reason = text(form, "decision"), text(form, "motif").strip()
        if decision not in ("attester", "retirer"):
            return await _detail_page(runtime, user, signature_id, error="Décision inconnue.")
        if decision == "attester" and not reason:
            message = "Une attestation demande un motif (comment savez-vous que c’est l’élu·e ?)."
            return await _detail_page(runtime, user, signature_id, error=message)
        if len(reason) > verification.REASON_MAX:
            message = "Le motif ne doit pas dépasser 500 caractères."
            return await _detail_page(runtime, user, signature_id, error=message)
        async with runtime.pool.acquire() as conn, conn.transaction():
            before = await signatories.get(conn, signature_id, with_email=False)
            if before is None:
                raise NotFoundException(detail="Signature introuvable.")
            if decision == "attester":
                done = await verification.attest(conn, signature_id, reason, user.email)
                refused = "Cette signature est déjà prouvée par la mairie ou son domaine officiel."
            else:
                done = await verification.withdraw_attestation(conn, signature_id)
                refused = "Cette signature n’a pas d’attestation des organisateurs à retirer."
            if not done:
                return await _detail_page(runtime, user, signature_id, error=refused)
            await audit.record(
                conn,
                actor(user),
                "signature.attest" if decision == "attester" else "signature.unattest",
                target_type="signature",
                target_id=signature_id,
                before={"preuve": before.proof},
                after={"preuve": "organisers" if decision == "attester" else None},
                detail={"motif": reason} if reason else None,
            )
        return _back(signature_id, "attestation" if decision == "attester" else "desattestation")

    @get("/lot", opt=ORGANISER)
    async def bulk_preview(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Template:
        """How many signatures an action on this filter would touch, before doing it."""
        campaign = current_campaign(runtime)
        params, f, errors = _filter(request)
        async with runtime.pool.acquire() as conn:
            total, _ = await signatories.find_page(
                conn, campaign.id, f, runtime.index, with_email=True, page=1, per_page=1
            )
        status = 400 if errors else 200
        return _bulk_page(user, campaign, f, errors, total, params.get("action", ""), status)

    @post("/lot", opt=ORGANISER)
    async def bulk_apply(
        self, runtime: RuntimeDep, user: UserDep, form: FormDep
    ) -> Template | Redirect:
        campaign = current_campaign(runtime)
        fields = text_fields(form)
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
            return _bulk_page(user, campaign, f, [*errors, message], len(ids), action, 409)
        query = f.query_string()
        return redirect(f"/admin/signataires?{query}{'&' if query else ''}modifiees={changed}")


_MODERATED = {
    "rejeter": "rejet",
    "restaurer": "restauration",
    "mettre-en-avant": "avant",
    "retirer-avant": "retrait-avant",
    "lever-suspicion": "suspicion",
}
"""The outcome each moderation action says on the signature's page."""


def _back(signature_id: int, done: str) -> Redirect:
    return redirect(f"/admin/signataires/{signature_id}", done)


async def _act(
    runtime: Runtime,
    user: SessionUser,
    signature_id: int,
    action: Callable[[asyncpg.Connection], Awaitable[object]],
    *,
    done: str,
) -> Template | Redirect:
    """One moderation action on a signature, in a transaction: back to its page with the
    outcome, or the page again with the reason it was refused."""
    try:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await action(conn)
    except moderation.ModerationError as exc:
        return await _detail_page(runtime, user, signature_id, error=str(exc))
    return _back(signature_id, done)


def _bulk_page(
    user: SessionUser,
    campaign: Campaign,
    f: SignatoryFilter,
    errors: list[str],
    total: int,
    action: str,
    status_code: int = 200,
) -> Template:
    """How many signatures an action on this filter touches, to confirm (409: to confirm again)."""
    return page(
        "admin/bulk.html",
        user,
        campaign,
        status_code=status_code,
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


async def _detail_page(
    runtime: Runtime,
    user: SessionUser,
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
        s=signature,
        territory=signatories.territory_label(
            runtime.index, signature.territory_level, signature.territory_code
        ),
        history=history,
        status_labels=STATUS_LABELS,
        done=done,
        error=error,
    )
