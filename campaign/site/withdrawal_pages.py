"""The withdrawal page, reached from the link in every email: it shows what would be withdrawn;
only the POST of its button (or a mail client's one-click unsubscription) withdraws."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Template

from campaign.runtime import RuntimeDep
from campaign.signing import withdrawal
from campaign.signing.withdrawal import WithdrawResult
from campaign.territories.mandates import LABELS, LEVEL_LABELS
from campaign.web.httpcache import NO_STORE


def _page(template: str, status: int = 200, **context: Any) -> Template:
    return Template(template, context=context, status_code=status, headers=NO_STORE)


class WithdrawalPages(Controller):
    include_in_schema = False

    @get("/retirer/{token:str}")
    async def withdraw_page(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        """What the link withdraws; opening it (as mail filters do) changes nothing."""
        async with runtime.pool.acquire() as conn:
            found = await withdrawal.find(conn, token)
        campaign = runtime.campaigns.current(found.campaign_id if found else None)
        if found is None:
            return _page("withdraw_result.html", 404, result="unknown", campaign=campaign)
        if found.erased:
            return _page("withdraw_result.html", result="already", campaign=campaign)
        territory = runtime.index.get(found.territory_level, found.territory_code)
        return _page(
            "withdraw.html",
            campaign=campaign,
            token=token,
            signature=found,
            territory=territory,
            level_label=LEVEL_LABELS[found.territory_level],
            mandate_labels=LABELS,
        )

    # No CSRF token: the link's token is the credential, and mail clients POST here by themselves
    # (`List-Unsubscribe-Post: List-Unsubscribe=One-Click`, RFC 8058) without any form.
    @post("/retirer/{token:str}", opt={"exclude_from_csrf": True}, status_code=200)
    async def withdraw(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        async with runtime.pool.acquire() as conn:
            result = await withdrawal.withdraw(conn, token)
        status = 404 if result is WithdrawResult.UNKNOWN else 200
        campaign = runtime.campaigns.current(None)
        return _page("withdraw_result.html", status, result=result.value, campaign=campaign)
