"""The town halls' attestations in the back office: each one's commune, signers, when it was sent
and the answers; an organiser may resend one still awaiting its answer, or cancel it (audited)."""

from __future__ import annotations

from typing import Final

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from campaign.admin.auth import UserDep, actor
from campaign.admin.common import Before, Outcome, current_campaign, newest_first, page, redirect
from campaign.organisers.sessions import SessionUser
from campaign.reach import attestation
from campaign.reach.attestation import ActionError
from campaign.runtime import Runtime, RuntimeDep

PER_PAGE: Final = 100
PATH: Final = "/admin/attestations"
DONE: Final = {
    "renvoi": "La demande d’attestation repart dans la file d’envoi (même lien, valable 30 jours).",
    "annulation": "Demande d’attestation annulée : son lien ne permet plus de répondre.",
}


class AttestationsController(Controller):
    path = PATH
    opt = {"role": "organiser"}

    async def _list(
        self,
        runtime: Runtime,
        user: SessionUser,
        *,
        before: int | None = None,
        notice: str | None = None,
        error: str | None = None,
    ) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            rows = await attestation.listing(conn, campaign.id, before=before, limit=PER_PAGE + 1)
        shown, older = newest_first(rows, PER_PAGE)
        return page(
            "admin/attestations.html",
            user,
            campaign,
            error=error,
            status_code=409 if error else 200,
            rows=shown,
            older=older,
            notice=notice,
            attestation_labels=attestation.STATUS_LABELS,
        )

    @get("/", opt={"role": "viewer"})
    async def index(
        self, runtime: RuntimeDep, user: UserDep, avant: Before = None, fait: Outcome = None
    ) -> Template:
        return await self._list(runtime, user, before=avant, notice=DONE.get(fait or ""))

    @post("/{attestation_id:int}/renvoyer")
    async def resend(
        self, runtime: RuntimeDep, user: UserDep, attestation_id: FromPath[int]
    ) -> Template | Redirect:
        campaign = current_campaign(runtime)
        try:
            async with runtime.pool.acquire() as conn:
                await attestation.resend(
                    conn, runtime.settings, attestation_id, campaign.id, actor(user)
                )
        except ActionError as exc:
            return await self._list(runtime, user, error=str(exc))
        return redirect(PATH, "renvoi")

    @post("/{attestation_id:int}/annuler")
    async def cancel(
        self, runtime: RuntimeDep, user: UserDep, attestation_id: FromPath[int]
    ) -> Template | Redirect:
        campaign = current_campaign(runtime)
        try:
            async with runtime.pool.acquire() as conn:
                await attestation.cancel(conn, attestation_id, campaign.id, actor(user))
        except ActionError as exc:
            return await self._list(runtime, user, error=str(exc))
        return redirect(PATH, "annulation")
