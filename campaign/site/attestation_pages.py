"""The page a town hall reaches from its attestation email: each signer's name and mandate, and
two buttons per signer (POST, CSRF); opening the link (as mail filters do) answers nothing."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from campaign.core.frenchdates import long_date
from campaign.reach import attestation_answers
from campaign.reach.attestation_answers import Found, Result
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.mandates import LABELS
from campaign.web import inputs
from campaign.web.httpcache import NO_STORE

REPLIES = {"oui": "yes", "non": "no"}


def _page(runtime: Runtime, found: Found | None, status: int = 200, **context: Any) -> Template:
    campaign = runtime.campaigns.current(found.attestation.campaign_id if found else None)
    state = "unknown"
    if found is not None:
        a = found.attestation
        if a.status == "cancelled":
            state = "cancelled"
        elif a.expired and a.status == "queued":
            state = "expired"
        elif a.status == "queued":
            state = "open"
        else:
            state = "answered"
    return Template(
        "attestation.html",
        context={
            "campaign": campaign,
            "found": found,
            "state": state,
            "mandate_labels": LABELS,
            "long_date": long_date,
            **context,
        },
        status_code=status,
        headers=NO_STORE,
    )


class AttestationPages(Controller):
    include_in_schema = False

    @get("/attestation/{token:str}")
    async def attestation_page(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        """Who the town hall is asked about; nothing changes until a button is pressed."""
        async with runtime.pool.acquire() as conn:
            found = await attestation_answers.find(conn, token)
        return _page(runtime, found, 404 if found is None else 200, token=token)

    @post("/attestation/{token:str}", status_code=200)
    async def answer(
        self, runtime: RuntimeDep, token: FromPath[str], request: Request[Any, Any, Any]
    ) -> Template:
        form = await inputs.read_form(request)  # UTF-8 without NUL, else a 400
        reply = REPLIES.get(str(form.get("reponse") or ""))
        raw_id = str(form.get("signataire") or "")
        if reply is None or not raw_id.isdigit() or len(raw_id) > 18:
            async with runtime.pool.acquire() as conn:
                found = await attestation_answers.find(conn, token)
            return _page(
                runtime,
                found,
                400 if found is not None else 404,
                token=token,
                error="Réponse incomplète : choisissez « Oui » ou « Non » pour une personne.",
            )
        async with runtime.pool.acquire() as conn:
            result, found = await attestation_answers.answer(conn, token, int(raw_id), reply)
        status = {Result.UNKNOWN: 404, Result.CLOSED: 409, Result.ALREADY: 409}.get(result, 200)
        return _page(
            runtime,
            found,
            status,
            token=token,
            result=result.value,
            answered_id=int(raw_id),
            reply=reply,
        )
