"""A territorial catalyst's console (/console), phone first and without JavaScript: its
territory's communes in the order of what to do next, with « inviter » and « visite / appel »
notes; its coverage over time; the alliance of mandate levels per territory; its QR code and its
printable flyer. Only a `catalyst` account may use these routes, and it may use no other."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from campaign.admin import charts
from campaign.admin.auth import UserDep, actor, end_session
from campaign.admin.common import page
from campaign.admin.forms import FormDep, text
from campaign.core.frenchdates import PARIS
from campaign.letter.campaigns import Campaign
from campaign.organisers import catalysts
from campaign.organisers.catalysts import Catalyst
from campaign.organisers.sessions import SessionUser
from campaign.reach import alliance, qrcodes, relays, territory_queue
from campaign.reach.territory_queue import QueueError
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.index import Territory
from campaign.web.campaign import current_or_404
from campaign.web.httpcache import NO_STORE

SHOWN_PER_QUEUE: Final = 30
DONE: Final = {
    "invitation": "Invitation envoyée à la mairie : elle part dans la file d’envoi.",
    "deja": "Cette mairie était déjà invitée : rien de plus n’est parti.",
    "note": "Votre note est enregistrée ; les organisateurs la voient.",
}
_PARAGRAPH = re.compile(r"\n\s*\n")


class Console:
    """What every console page needs: the catalyst, its campaign and territories."""

    def __init__(
        self, catalyst: Catalyst, campaign: Campaign, territories: list[Territory]
    ) -> None:
        self.catalyst = catalyst
        self.campaign = campaign
        self.territories = territories


async def _console(runtime: Runtime, user: SessionUser) -> Console:
    async with runtime.pool.acquire() as conn:
        catalyst = await catalysts.get(conn, user.id)
        if catalyst is None:
            raise PermissionDeniedException(detail="Ce compte n’a pas de territoire.")
        territories = await catalysts.territories(conn, user.id, runtime.index)
    campaign = current_or_404(runtime.campaigns, catalyst.campaign_id)
    return Console(catalyst, campaign, territories)


def _page(template: str, user: SessionUser, console: Console, **context: Any) -> Template:
    return page(
        template,
        user,
        console.campaign,
        catalyst=console.catalyst,
        territories=console.territories,
        **context,
    )


def _commune(runtime: Runtime, console: Console, code: str) -> Territory:
    """A commune of the catalyst's territory; 404 for any other."""
    commune = runtime.index.get("commune", code)
    if commune is not None:
        for territory in console.territories:
            if territory.code in (commune.code, commune.departement):
                return commune
    raise NotFoundException(detail="Cette commune n’est pas dans votre territoire.")


def letter_opening(body: str, limit: int = 600) -> list[str]:
    """The letter's first paragraphs as plain text (Markdown marks left out), for the flyer."""
    out: list[str] = []
    length = 0
    for block in _PARAGRAPH.split(body.strip()):
        plain = re.sub(r"[*_#>`]+", "", " ".join(block.split())).strip()
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", plain)
        if not plain:
            continue
        out.append(plain)
        length += len(plain)
        if length >= limit:
            break
    return out


class ConsoleController(Controller):
    path = "/console"
    opt = {"role": "catalyst"}

    @get("/")
    async def index(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        file: FromQuery[str | None] = None,
        fait: FromQuery[str | None] = None,
    ) -> Template:
        """The communes by queue; `file`: one queue shown whole."""
        console = await _console(runtime, user)
        communes = territory_queue.communes_of(runtime.index, console.territories)
        today = runtime.clock.now().astimezone(PARIS).date()
        async with runtime.pool.acquire() as conn:
            queues = await territory_queue.queues(
                conn, console.campaign.id, communes, runtime.town_halls
            )
            days = await territory_queue.coverage_days(conn, console.campaign.id, communes, today)
        whole = file if file in territory_queue.QUEUES else None
        return _page(
            "console/index.html",
            user,
            console,
            queues=queues,
            queue_labels=territory_queue.QUEUE_LABELS,
            shown=SHOWN_PER_QUEUE,
            whole=whole,
            communes=len(communes),
            chart=charts.coverage_line(days, len(communes)),
            covered=days[-1][1] if days else 0,
            console_done=DONE.get(fait or ""),
        )

    @get("/communes/{code:str}")
    async def commune(
        self,
        runtime: RuntimeDep,
        user: UserDep,
        code: FromPath[str],
        fait: FromQuery[str | None] = None,
    ) -> Template:
        return await self._commune_page(runtime, user, code, console_done=DONE.get(fait or ""))

    async def _commune_page(
        self, runtime: Runtime, user: SessionUser, code: str, **context: Any
    ) -> Template:
        console = await _console(runtime, user)
        commune = _commune(runtime, console, code)
        async with runtime.pool.acquire() as conn:
            queues = await territory_queue.queues(
                conn, console.campaign.id, [commune], runtime.town_halls
            )
            contacts = await territory_queue.recent_contacts(
                conn, console.campaign.id, commune=commune.code, limit=100
            )
        entry = next(e for queue in queues.values() for e in queue)
        return _page(
            "console/commune.html",
            user,
            console,
            entry=entry,
            queue_labels=territory_queue.QUEUE_LABELS,
            contacts=contacts,
            kinds=territory_queue.CONTACT_KINDS,
            **context,
        )

    @post("/communes/{code:str}/inviter")
    async def invite(
        self, runtime: RuntimeDep, user: UserDep, code: FromPath[str]
    ) -> Template | Redirect:
        console = await _console(runtime, user)
        commune = _commune(runtime, console, code)
        try:
            async with runtime.pool.acquire() as conn:
                sent = await territory_queue.invite_maire(
                    conn,
                    runtime.settings,
                    runtime.town_halls,
                    actor(user),
                    console.campaign.id,
                    console.catalyst.relay_id,
                    commune,
                )
        except QueueError as exc:
            return await self._commune_page(runtime, user, code, error=str(exc), status_code=422)
        done = "invitation" if sent else "deja"
        return Redirect(f"/console/communes/{commune.code}?fait={done}", status_code=303)

    @post("/communes/{code:str}/contact")
    async def contact(
        self, runtime: RuntimeDep, user: UserDep, code: FromPath[str], form: FormDep
    ) -> Template | Redirect:
        console = await _console(runtime, user)
        commune = _commune(runtime, console, code)
        try:
            async with runtime.pool.acquire() as conn:
                await territory_queue.note_contact(
                    conn,
                    actor(user),
                    console.campaign.id,
                    commune,
                    text(form, "kind"),
                    text(form, "note"),
                )
        except QueueError as exc:
            return await self._commune_page(
                runtime,
                user,
                code,
                error=str(exc),
                status_code=422,
                values={"note": text(form, "note")[: territory_queue.NOTE_MAX]},
            )
        return Redirect(f"/console/communes/{commune.code}?fait=note", status_code=303)

    @get("/alliance/{level:str}/{code:str}")
    async def alliance_page(
        self, runtime: RuntimeDep, user: UserDep, level: FromPath[str], code: FromPath[str]
    ) -> Template:
        console = await _console(runtime, user)
        territory = next(
            (t for t in console.territories if (t.level, t.code) == (level, code)), None
        )
        if territory is None:
            raise NotFoundException(detail="Ce territoire n’est pas le vôtre.")
        async with runtime.pool.acquire() as conn:
            levels = await alliance.alliance(conn, console.campaign.id, territory, runtime.index)
        return _page("console/alliance.html", user, console, territory=territory, levels=levels)

    @get("/qr.png")
    async def qr_png(self, runtime: RuntimeDep, user: UserDep) -> Response[bytes]:
        console = await _console(runtime, user)
        url = relays.share_link(runtime.settings, console.catalyst.relay_code)
        return Response(qrcodes.png(url), media_type="image/png", headers=NO_STORE)

    @get("/qr.svg")
    async def qr_svg(self, runtime: RuntimeDep, user: UserDep) -> Response[bytes]:
        console = await _console(runtime, user)
        url = relays.share_link(runtime.settings, console.catalyst.relay_code)
        return Response(qrcodes.svg(url), media_type="image/svg+xml", headers=NO_STORE)

    @get("/affiche")
    async def flyer(self, runtime: RuntimeDep, user: UserDep) -> Template:
        """A one-page A4 flyer: the letter's first lines and the QR code."""
        console = await _console(runtime, user)
        url = relays.share_link(runtime.settings, console.catalyst.relay_code)
        return _page(
            "console/flyer.html",
            user,
            console,
            opening=letter_opening(console.campaign.body),
            qr_svg=qrcodes.svg(url, sized=False).decode(),
            share_url=url,
        )

    @post("/deconnexion")
    async def logout(
        self, runtime: RuntimeDep, user: UserDep, request: Request[Any, Any, Any]
    ) -> Response[Any]:
        return await end_session(runtime, user, request)
