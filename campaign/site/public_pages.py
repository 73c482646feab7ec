"""Public pages of the public face (French, complete without JavaScript): the map, a page per
région and per département, the embeddable counter (`/widget`) and the page that explains how to
embed it (`/integrer`)."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from litestar import Controller, Request, Response, get
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from campaign.core.bodies import etag_of, gzipped
from campaign.core.frenchdates import days_until
from campaign.core.frenchnumbers import count_of, number, percent
from campaign.letter.campaigns import Campaign
from campaign.runtime import Runtime, RuntimeDep
from campaign.signing import signatures
from campaign.site.cached_pages import HTML, OPT_NO_CSRF, cached_page, render
from campaign.site.map_view import LEVELS, MEASURES, Measure, france_map
from campaign.site.pages import _campaign, _common
from campaign.territories.index import Territory, normalize
from campaign.territories.map import Level
from campaign.web.httpcache import cached_response

Param = Annotated[str | None, QueryParameter(max_length=40)]
TERRITORY_SIGNATORIES = 20
MAX_COMMUNES = 300
# The mini map is by région: by département it would weigh 20 KB gzipped on its own, past the
# widget's budget (under 20 KB transferred, script and style included).
WIDGET_MAPS = {"region": "région", "aucune": "sans carte"}


def _choice(name: str, value: str | None, allowed: dict[str, str], default: str) -> str:
    """A query parameter among `allowed`; anything else is a 400 that names it."""
    if value is None or value == "":
        return default
    if value not in allowed:
        raise HTTPException(
            status_code=400,
            detail=f"Paramètre « {name} » invalide : valeurs possibles "
            + ", ".join(f"« {v} »" for v in allowed)
            + ".",
        )
    return value


class TerritoryFigures:
    """A territory's counts, from memory."""

    def __init__(self, runtime: Runtime, campaign_id: int, t: Territory) -> None:
        counts = runtime.counts.campaign(campaign_id)
        register = runtime.counts.register
        self.territory = t
        self.count = counts.count(t.level, t.code)
        self.verified = counts.metric("verified", t.level, t.code)
        self.register_match = counts.metric("register_match", t.level, t.code)
        self.communes_signed = counts.metric("communes_signed", t.level, t.code)
        self.maires = register.maires[t.level].get(t.code, 0)
        self.maires_signed = counts.metric("maires_signed", t.level, t.code)
        self.maires_declared = counts.metric("maires_declared", t.level, t.code)
        self.coverage = percent(runtime.counts.coverage(campaign_id, t.level, t.code))
        self.coverage_declared = percent(
            runtime.counts.coverage(campaign_id, t.level, t.code, "maires_declared")
        )
        # The raw numbers next to the share: « 1 commune sur 3 985 ».
        self.coverage_detail = (
            f"{count_of(self.maires_signed, 'commune')} sur {number(self.maires)}"
            if self.maires
            else ""
        )
        self.coverage_declared_detail = (
            f"{count_of(self.maires_declared, 'commune')} sur {number(self.maires)}"
            if self.maires
            else ""
        )


class CommuneRow(NamedTuple):
    """A commune in a territory's table. Its maire is one person, named in the register: the
    commune's own figure about them counts only a maire who agreed to be listed."""

    commune: Territory
    signatures: int
    verified: int
    register_match: int
    maire: str  # "verified", "declared" or ""


def _communes_with_signatures(runtime: Runtime, campaign_id: int, t: Territory) -> list[CommuneRow]:
    """The communes of a région or département with confirmed signatures, most signatures
    first. Walks only the communes that have some."""
    counts = runtime.counts.campaign(campaign_id)
    attribute = "region" if t.level == "region" else "departement"
    found = []
    for code, n in counts.rolled["commune"].items():
        commune = runtime.index.get("commune", code)
        if n > 0 and commune is not None and getattr(commune, attribute) == t.code:
            maire = (
                "verified"
                if counts.metric("maires_signed", "commune", code) > 0
                else "declared"
                if counts.metric("maires_declared", "commune", code) > 0
                else ""
            )
            found.append(
                CommuneRow(
                    commune,
                    n,
                    counts.metric("verified", "commune", code),
                    counts.metric("register_match", "commune", code),
                    maire,
                )
            )
    found.sort(key=lambda row: (-row.signatures, normalize(row.commune.name)))
    return found


class PublicPages(Controller):
    include_in_schema = False

    @get("/carte", opt=OPT_NO_CSRF, cache=False)
    async def france(
        self,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        niveau: Param = None,
        mesure: Param = None,
    ) -> Response[bytes]:
        """The map by département or région, by signatures or share of maires, with its table;
        the same for everyone (campaign/site/cached_pages.py), kept per variant: the default one
        under its path, the others by the app at each request (a CDN keeps them too)."""
        campaign = _campaign(runtime)
        level: Level = "departement"
        if _choice("niveau", niveau, LEVELS, "departement") == "region":
            level = "region"
        measure: Measure = "signatures"
        chosen = _choice("mesure", mesure, MEASURES, "signatures")
        if chosen == "maires":
            measure = "maires"
        elif chosen == "maires_declared":
            measure = "maires_declared"

        def html() -> str:
            territories = sorted(runtime.index.all(level), key=lambda t: normalize(t.name))
            context = {
                **_common(runtime, campaign),
                "level": level,
                "measure": measure,
                "levels": LEVELS,
                "measures": MEASURES,
                "register_loaded": runtime.counts.register.total_maires > 0,
                "france_map": france_map(runtime, campaign.id, level, measure),
                "rows": [TerritoryFigures(runtime, campaign.id, t) for t in territories],
            }
            return render(request, "map.html", context)

        async def build() -> tuple[str, bool]:
            return html(), True

        if request.scope["query_string"]:
            return Response(html().encode(), media_type=HTML)
        return await cached_page(runtime, request, build)

    @get("/territoires/region/{code:str}", opt=OPT_NO_CSRF, cache=False)
    async def region(
        self, runtime: RuntimeDep, request: Request[Any, Any, Any], code: FromPath[str]
    ) -> Response[bytes]:
        return await _territory_page(runtime, request, "region", code)

    @get("/territoires/departement/{code:str}", opt=OPT_NO_CSRF, cache=False)
    async def departement(
        self, runtime: RuntimeDep, request: Request[Any, Any, Any], code: FromPath[str]
    ) -> Response[bytes]:
        return await _territory_page(runtime, request, "departement", code)

    @get("/integrer")
    async def embed(self, runtime: RuntimeDep) -> Template:
        """How to put the counter on another site: the snippet to copy, and a preview."""
        campaign = _campaign(runtime)
        return Template(
            "embed.html",
            context={
                **_common(runtime, campaign),
                "base_url": runtime.settings.base_url,
                "widget_maps": WIDGET_MAPS,
            },
        )

    @get("/widget", cache=False)
    async def widget(
        self, runtime: RuntimeDep, request: Request[Any, Any, Any], carte: Param = None
    ) -> Response[bytes]:
        """The embeddable counter (and mini map): the only page other sites may frame (see
        campaign/security.py). Light (no framework), gzipped once per change of the counts,
        cacheable for a few seconds; live through static/live.js."""
        campaign = _campaign(runtime)
        choice = _choice("carte", carte, WIDGET_MAPS, "region")
        body, etag, compressed = _widget(runtime, request, campaign, choice)
        return cached_response(
            request,
            body,
            etag=etag,
            compressed=compressed,
            max_age=5,
            stale=30,
            media_type="text/html; charset=utf-8",
        )


async def _territory_page(
    runtime: Runtime, request: Request[Any, Any, Any], level: str, code: str
) -> Response[bytes]:
    """A région's or département's page, the same for everyone (cached_pages.py)."""
    _campaign(runtime)  # a 404 while no campaign exists
    t = runtime.index.get(level, code)
    if t is None:
        place = "Cette région" if level == "region" else "Ce département"
        raise NotFoundException(detail=f"{place} n’existe pas (code « {code[:10]} »).")

    async def build() -> tuple[str, bool]:
        return render(request, "territory.html", await _territory_context(runtime, t)), True

    return await cached_page(runtime, request, build)


async def _territory_context(runtime: Runtime, t: Territory) -> dict[str, Any]:
    campaign = _campaign(runtime)
    level, code = t.level, t.code
    context = _common(runtime, campaign)
    figures = TerritoryFigures(runtime, campaign.id, t)
    departements = []
    if level == "region":
        departements = [
            TerritoryFigures(runtime, campaign.id, d)
            for d in runtime.index.all("departement")
            if d.region == code
        ]
    region = runtime.index.get("region", t.region) if t.region else None
    communes = _communes_with_signatures(runtime, campaign.id, t)
    items: list[tuple[signatures.Signatory, Territory | None]] = []
    listed = 0
    if not context["names_hidden"]:
        async with runtime.pool.acquire() as conn:
            listed, rows = await signatures.public_signatories(
                conn,
                campaign.id,
                region=code if level == "region" else None,
                departement=code if level == "departement" else None,
                limit=TERRITORY_SIGNATORIES,
            )
        items = [(r, runtime.index.get(r.territory_level, r.territory_code)) for r in rows]
    context.update(
        t=t,
        level=level,
        figures=figures,
        region=region,
        departements=departements,
        communes=communes[:MAX_COMMUNES],
        communes_total=len(communes),
        items=items,
        listed=listed,
        register_loaded=runtime.counts.register.total_maires > 0,
        list_url=f"/signataires?{level}={code}",
    )
    return context


def _widget(
    runtime: Runtime, request: Request[Any, Any, Any], campaign: Campaign, carte: str
) -> tuple[bytes, str, bytes]:
    """The widget's HTML, its ETag and its gzip, rendered once per state of what it shows."""
    now = runtime.clock.now()
    level: Level = "region"
    key = (
        runtime.settings.base_url,
        campaign,
        runtime.counts.body(campaign.id, level)[1],  # changes with any count it shows
        days_until(campaign.launch_at, now),
        now >= campaign.launch_at,
    )

    def build() -> tuple[bytes, str, bytes]:
        context = {
            **_common(runtime, campaign),
            "base_url": runtime.settings.base_url,
            "carte": carte,
            "mini_map": None
            if carte == "aucune"
            else france_map(runtime, campaign.id, level, element_id="widget-carte", links=False),
        }
        engine = request.app.template_engine
        assert engine is not None
        html = engine.get_template("widget.html").render(**context)
        body = html.encode()
        return (body, etag_of(body), gzipped(body))

    return runtime.widgets.get((campaign.id, carte), key, build)
