"""The dashboard: totals by status, per day, by mandate, territory and relay, mail, progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, get
from litestar.response import Template

from campaign.admin import charts
from campaign.admin.auth import UserDep
from campaign.admin.common import current_campaign, page
from campaign.core import alerts
from campaign.core.db import Q
from campaign.core.frenchdates import days_until, long_datetime
from campaign.moderation.filters import STATUS_LABELS, STATUSES
from campaign.register.verification import verified_count
from campaign.runtime import RuntimeDep
from campaign.territories.index import normalize
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.territories.mandates import MANDATES

DAYS = 30
TOP_REFS = 30


class DashboardController(Controller):
    path = "/admin"
    include_in_schema = False
    opt = {"role": "viewer"}

    @get("/")
    async def dashboard(self, runtime: RuntimeDep, user: UserDep) -> Template:
        campaign = current_campaign(runtime)
        async with runtime.pool.acquire() as conn:
            by_status = {
                r["status"]: r["n"]
                for r in await conn.fetch(Q["admin_totals_by_status"], campaign.id)
            }
            days = await conn.fetch(Q["admin_per_day"], campaign.id, DAYS)
            by_mandate = {
                r["mandate"]: r for r in await conn.fetch(Q["admin_by_mandate"], campaign.id)
            }
            refs = await conn.fetch(Q["admin_by_ref"], campaign.id, TOP_REFS)
            mail = {r["status"]: r["n"] for r in await conn.fetch(Q["admin_outbox_by_status"])}
            verified = await verified_count(conn, campaign.id)
            raised = await alerts.current_alerts(conn)  # e.g. the relay refusing our credentials
        counts = runtime.counts.campaign(campaign.id)
        confirmed = by_status.get("confirmed", 0)
        pending = by_status.get("pending", 0)
        now = datetime.now(UTC)
        regions = sorted(runtime.index.all("region"), key=lambda t: normalize(t.name))
        departements = runtime.index.all("departement")
        mandates: list[tuple[str, Any, Any]] = [
            (MANDATE_LABELS[m], by_mandate[m]["confirmed"], by_mandate[m]["pending"])
            for m in MANDATES
            if m in by_mandate
        ]
        return page(
            "admin/dashboard.html",
            user,
            campaign,
            statuses=[(s, STATUS_LABELS[s], by_status.get(s, 0)) for s in STATUSES],
            total_all=sum(n for s, n in by_status.items() if s != "suspect"),
            live_total=counts.total,
            rate=None
            if confirmed + pending == 0
            else round(100 * confirmed / (confirmed + pending)),
            chart=charts.daily_bars([(r["day"], r["received"], r["confirmed"]) for r in days]),
            days=[(charts.short_date(r["day"]), r["received"], r["confirmed"]) for r in days],
            mandates=mandates,
            regions=[(t, counts.count("region", t.code)) for t in regions],
            departements=[(t, counts.count("departement", t.code)) for t in departements],
            refs=refs,
            mail=[(label, mail.get(key, 0)) for key, label in MAIL_LABELS.items()],
            verified=verified,
            # Issue 14: the register matches, and the maires declared next to the proven.
            register_match=counts.totals["register_match"],
            maires_declared=counts.totals["maires_declared"],
            maires_signed=counts.totals["maires_signed"],
            total_maires=runtime.counts.register.total_maires,
            goal=campaign.goal,
            goal_percent=min(100, round(100 * counts.total / campaign.goal))
            if campaign.goal
            else None,
            launch_datetime=long_datetime(campaign.launch_at),
            launch_iso=campaign.launch_at.isoformat(),
            days_left=days_until(campaign.launch_at, now),
            launched=now >= campaign.launch_at,
            alerts=[a.message() for a in raised],
        )


MAIL_LABELS = {
    "queued": "En file d’attente",
    "sending": "En cours d’envoi",
    "sent": "Envoyés",
    "failed": "En échec",
    "cancelled": "Annulés",
}
