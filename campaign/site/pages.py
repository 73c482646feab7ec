"""The public pages (French, work without JavaScript): the letter and its form, confirmation,
signatories, privacy notice."""

from __future__ import annotations

import base64
import contextlib
import logging
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from campaign.core import clientaddr
from campaign.core.db import DB_ERRORS
from campaign.core.frenchdates import days_until, long_date, long_datetime
from campaign.core.frenchnumbers import count_of, percent
from campaign.counts.history import chart
from campaign.counts.latest import names_hidden
from campaign.letter import launch
from campaign.letter.campaigns import Campaign
from campaign.runtime import Runtime, RuntimeDep
from campaign.signing import abuse, signatures
from campaign.signing.signatures import ConfirmResult
from campaign.signing.validation import FIELDS, check_signing, territory_choices
from campaign.site.cached_pages import OPT_NO_CSRF, cached_page, lists_settled, render
from campaign.site.map_view import france_map, territory_url
from campaign.site.publication_pages import published_context
from campaign.site.relay_pages import prefill_values
from campaign.site.share import (
    ADDRESS_COOKIE,
    address_cookie,
    clear_address_cookie,
    read_address,
    share_context,
)
from campaign.territories.index import normalize
from campaign.territories.mandates import LABELS, LEVEL_LABELS, MANDATES
from campaign.territories.mandates import LEVELS as MANDATE_LEVELS
from campaign.web import inputs
from campaign.web.campaign import current_or_404
from campaign.web.httpcache import NO_STORE
from campaign.web.params import SearchText
from campaign.web.security import OPT_SENSITIVE, cross_site

HONEYPOT = "website"  # hidden from people; robots fill it in
TERRITORY_CHOICE = "territory_choice"  # radio buttons offered when the territory is ambiguous
PER_PAGE = 50
FORM_COOKIE = "formulaire"
"""The sign form's cookie: when the form was shown, signed (campaign/signing/abuse.py). Set by
the form's 1-pixel image (`/signer/jeton`), sent back only to `/signer` (its path), never from
another site (SameSite=Strict): it is both the form's timing stamp and its anti-forgery check,
so the page itself carries nothing of the visitor's and is the same for all."""
FORM_COOKIE_PATH = "/signer"
FORM_COOKIE_SECONDS = 24 * 3600
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_COOKIE_MESSAGE = (
    "Pour protéger le formulaire des envois automatiques, votre navigateur doit accepter un "
    "cookie technique. Il vient de le recevoir : vérifiez vos informations et envoyez à "
    "nouveau le formulaire."
)
log = logging.getLogger(__name__)


def _campaign(runtime: RuntimeDep) -> Campaign:
    return current_or_404(runtime.campaigns)


def _common(runtime: RuntimeDep, campaign: Campaign) -> dict[str, Any]:
    now = runtime.clock.now()
    counts = runtime.counts.campaign(campaign.id)
    return {
        "names_hidden": names_hidden(campaign, now),
        "territory_url": territory_url,
        "campaign": campaign,
        "total": counts.total,
        "goal": campaign.goal,
        "launch_date": long_date(campaign.launch_at),
        "launch_datetime": long_datetime(campaign.launch_at),
        "launch_iso": campaign.launch_at.isoformat(),
        "days_left": days_until(campaign.launch_at, now),
        "launched": now >= campaign.launch_at,
        "mandate_labels": LABELS,
    }


def _form_context(runtime: RuntimeDep, campaign: Campaign) -> dict[str, Any]:
    """What the sign form needs (templates/_sign_form.html), and no more."""
    now = runtime.clock.now()
    return {
        "campaign": campaign,
        # Signing stops at the closing date or when the status says so (campaign/launch.py).
        "closed_message": launch.closed_message(campaign, now),
        "closing_notice": launch.closing_notice(campaign, now),
        "territory_choices": [],
        "mandates": [(m, LABELS[m]) for m in MANDATES],
        "mandate_levels": MANDATE_LEVELS,
        "values": {},
        "errors": {},
    }


def _index_context(runtime: RuntimeDep, campaign: Campaign) -> dict[str, Any]:
    counts = runtime.counts.campaign(campaign.id)
    regions = sorted(runtime.index.all("region"), key=lambda t: normalize(t.name))
    departements = runtime.index.all("departement")
    now = runtime.clock.now()
    return {
        **_common(runtime, campaign),
        **_form_context(runtime, campaign),
        "server_now": now.isoformat(),  # live.js times the launch instant on the server's clock
        "letter_html": campaign.body_html,
        "regions": [(t, counts.count("region", t.code)) for t in regions],
        "departements": [(t, counts.count("departement", t.code)) for t in departements],
        "coverage": {
            t.code: percent(runtime.counts.coverage(campaign.id, "departement", t.code))
            for t in departements
        },
        "coverage_declared": {
            t.code: percent(
                runtime.counts.coverage(campaign.id, "departement", t.code, "maires_declared")
            )
            for t in departements
        },
        "france_map": france_map(runtime, campaign.id, "departement", "signatures"),
        "register_loaded": runtime.counts.register.total_maires > 0,
    }


async def _with_publication(runtime: Runtime, campaign: Campaign, context: dict[str, Any]) -> None:
    """From the launch instant, the published state: banner, downloads, the grouped list."""
    if launch.published(campaign, runtime.clock.now()):
        context.update(await published_context(runtime, campaign))


class Pages(Controller):
    include_in_schema = False

    @get("/", opt=OPT_NO_CSRF, cache=False)
    async def letter(
        self,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        invitation: FromQuery[str | None] = None,
        ref: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """The same bytes for everyone (campaign/site/cached_pages.py), but for an invitation's
        or a relay's link, whose answer pre-fills the form (campaign/site/relay_pages.py)."""
        campaign = _campaign(runtime)
        if request.scope["query_string"]:
            values = await prefill_values(runtime, invitation, ref)
            html, _ = await _letter_html(runtime, request, campaign, values)
            return Response(html.encode(), media_type="text/html", headers=NO_STORE)
        # The chart's history is part of the page's state: read (or kept) before it is taken.
        with contextlib.suppress(*DB_ERRORS):
            await runtime.history.get(campaign)
        return await cached_page(
            runtime, request, lambda: _letter_html(runtime, request, campaign, {})
        )

    @get("/signer/jeton", opt={**OPT_NO_CSRF, OPT_SENSITIVE: True}, cache=False)
    async def form_cookie(self, runtime: RuntimeDep) -> Response[bytes]:
        """The sign form's 1-pixel image: sets its cookie (`FORM_COOKIE`), with or without
        JavaScript, when the form comes into view."""
        return Response(
            PIXEL, media_type="image/gif", cookies=[_form_cookie(runtime)], headers=NO_STORE
        )

    @post("/signer", opt=OPT_NO_CSRF)
    async def sign(
        self, runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        campaign = _campaign(runtime)
        if cross_site(request.headers, runtime.settings):
            raise PermissionDeniedException(detail="Formulaire envoyé depuis un autre site.")
        # UTF-8, else a 400; a NUL is refused by the validation, next to its field.
        form = await inputs.read_form(request, nul=True)
        context = _form_context(runtime, campaign)
        if context["closed_message"] is not None:
            # The page says so politely, in place of the form.
            return Template("sign.html", context=context, status_code=409)
        # Text fields only: a file part posted under a field's name is an error, not its repr.
        fields: dict[str, object] = {
            k: form.get(k) for k in FIELDS if form.get(k) not in (None, "")
        }
        values = {k: v for k, v in fields.items() if isinstance(v, str)}
        # A territory picked among the candidates of an ambiguous entry (page without JavaScript).
        choice = form.get(TERRITORY_CHOICE)
        if isinstance(choice, str) and choice.strip():
            fields["territory_code"] = values["territory_code"] = choice.strip()
            level = MANDATE_LEVELS.get(str(fields.get("mandate")))
            chosen = runtime.index.get(level, choice.strip()) if level else None
            if chosen is not None:  # its label, unique at its level: a code may be a postal one
                fields["territory_code"] = values["territory_code"] = chosen.label
        if "public" in fields:
            fields["public"] = "true" if fields["public"] in ("true", "on") else fields["public"]
        req, errors = check_signing(fields, runtime.index, strict_bool=False, resolve_names=True)
        stamp = request.cookies.get(FORM_COOKIE)
        if not abuse.form_stamp_valid(runtime.settings.secret_key, stamp):
            # No cookie (a text browser that loads no image, a page kept from before): the form
            # comes back as typed, with the cookie; the next submission goes through.
            context.update(values=values, errors={"formulaire": NO_COOKIE_MESSAGE, **errors})
            return Template(
                "sign.html",
                context=context,
                status_code=403,
                cookies=[_form_cookie(runtime)],
                headers=NO_STORE,
            )
        if req is None or errors:
            if req is None and "territory_code" in errors:
                context["territory_choices"] = territory_choices(
                    runtime.index, fields.get("mandate"), fields.get("territory_code")
                )
            context.update(values=values, errors=errors)
            return Template("sign.html", context=context, status_code=422)
        signals = abuse.signals(request.scope, runtime.settings, form_stamp=stamp)
        if form.get(HONEYPOT):  # flagged, not rejected: a person reviews it (same answer)
            signals = msgspec.structs.replace(signals, form_reason="honeypot")
        await runtime.signing.sign(campaign, req, signals)
        # The address typed goes to the thank-you page in a signed cookie, not in the URL.
        cookie = address_cookie(runtime.settings, req.email, runtime.clock.now())
        return Redirect("/merci", status_code=303, cookies=[cookie])

    @get("/merci", opt={OPT_SENSITIVE: True})
    async def thanks(self, runtime: RuntimeDep, request: Request[Any, Any, Any]) -> Template:
        """Shows the address typed once (the cookie is cleared), and the share block."""
        campaign = _campaign(runtime)
        context = _common(runtime, campaign)
        raw = request.cookies.get(ADDRESS_COOKIE)
        context.update(
            address=read_address(runtime.settings, raw, runtime.clock.now()),
            share=share_context(runtime.settings, campaign, signed=True),
        )
        cookies = [clear_address_cookie(runtime.settings)] if raw is not None else []
        return Template("thanks.html", context=context, cookies=cookies, headers=NO_STORE)

    @get("/confirmer/{token:str}", name="confirm_page")
    async def confirm_page(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        """Shows what is being confirmed; only the button's POST confirms (mail filters click)."""
        async with runtime.pool.acquire() as conn:
            found = await signatures.find_confirmation(conn, token)
        campaign = (
            _campaign(runtime) if found is None else runtime.campaigns.by_id(found.campaign_id)
        )
        assert campaign is not None
        context = _common(runtime, campaign)
        if found is None:
            return Template(
                "confirm_result.html",
                context={**context, "result": "unknown"},
                status_code=404,
                headers=NO_STORE,
            )
        if found.status == "confirmed":
            result = "already"
        elif found.status != "pending":
            result = "unavailable"
        elif found.expired:
            result = "expired"
        else:
            result = "ask"
        territory = runtime.index.get(found.territory_level, found.territory_code)
        context.update(
            result=result,
            token=token,
            signature=found,
            territory=territory,
            level_label=LEVEL_LABELS[found.territory_level],
        )
        template = "confirm.html" if result == "ask" else "confirm_result.html"
        return Template(template, context=context, headers=NO_STORE)

    @post("/confirmer/{token:str}")
    async def confirm(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        result, found = await runtime.confirming.confirm(token)
        campaign = (
            _campaign(runtime) if found is None else runtime.campaigns.by_id(found.campaign_id)
        )
        assert campaign is not None
        context = _common(runtime, campaign)
        territory = found and runtime.index.get(found.territory_level, found.territory_code)
        status = 404 if result is ConfirmResult.UNKNOWN else 200
        context.update(result=result.value, signature=found, territory=territory)
        return Template(
            "confirm_result.html", context=context, status_code=status, headers=NO_STORE
        )

    @get("/signataires", opt=OPT_NO_CSRF, cache=False)
    async def signatories(
        self,
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        q: SearchText = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        region: Annotated[str | None, QueryParameter(max_length=10)] = None,
        departement: Annotated[str | None, QueryParameter(max_length=10)] = None,
        mandat: Annotated[str | None, QueryParameter(max_length=40)] = None,
    ) -> Response[bytes]:
        """The first page, unfiltered, is the same for everyone (cached_pages.py); a search, a
        filter or another page is read for its request."""
        campaign = _campaign(runtime)
        filters = _list_filters(runtime, region, departement, mandat)
        if request.scope["query_string"]:
            search_error = None
            if q and signatures.search_length(q) < runtime.settings.search_min_chars:
                search_error = (
                    f"Tapez au moins {runtime.settings.search_min_chars} caractères pour "
                    "chercher un nom ou une commune."
                )
                q = None
            if q:
                client = clientaddr.from_scope(request.scope, runtime.settings.trusted_proxies)
                wait = runtime.search_rate.retry_after(
                    clientaddr.network_of(client) if client is not None else None
                )
                if wait:
                    refused = render(
                        request,
                        "error.html",
                        {
                            **_common(runtime, campaign),
                            "title": "Trop de recherches",
                            "message": "Trop de recherches depuis votre réseau. Réessayez dans "
                            f"{count_of(wait, 'seconde')}.",
                        },
                    )
                    return Response(
                        refused.encode(),
                        media_type="text/html",
                        status_code=429,
                        headers={"Retry-After": str(wait)},
                    )
            html = await _signatories_html(
                runtime, request, campaign, filters, q, page, search_error=search_error
            )
            return Response(html.encode(), media_type="text/html")

        async def build() -> tuple[str, bool]:
            html = await _signatories_html(runtime, request, campaign, filters, None, 1)
            return html, True

        return await cached_page(runtime, request, build)

    @get("/confidentialite")
    async def privacy(self, runtime: RuntimeDep) -> Template:
        context = _common(runtime, _campaign(runtime))
        context.update(
            contact_email=runtime.settings.publisher_email,
            publisher=runtime.settings,
            unconfirmed_days=runtime.settings.unconfirmed_days,
            retention_months=runtime.settings.retention_months,
            limits_keep_days=runtime.settings.limits_keep_days,
        )
        return Template("privacy.html", context=context)

    @get("/mentions-legales")
    async def legal(self, runtime: RuntimeDep) -> Template:
        """The legal notice: the publisher and the host, from the settings."""
        context = _common(runtime, _campaign(runtime))
        context.update(publisher=runtime.settings)
        return Template("legal.html", context=context)


async def _signatories_html(
    runtime: Runtime,
    request: Request[Any, Any, Any],
    campaign: Campaign,
    filters: dict[str, str],
    q: str | None,
    page: int,
    *,
    search_error: str | None = None,
) -> str:
    """The list's page: the first one for everyone, or a search, a filter, another page. A
    search's answer is kept a few seconds (runtime.searches), until the counts change."""
    context = {
        **_common(runtime, campaign),
        **filters,
        "q": q or "",
        "regions": sorted(runtime.index.all("region"), key=lambda t: normalize(t.name)),
        "departements": runtime.index.all("departement"),
        "mandates": [(m, LABELS[m]) for m in MANDATES],
        "items": [],
        "listed": 0,
        "page": page,
        "pages": 1,
    }
    if context["names_hidden"]:  # no name, and no count a search could turn into a name
        return render(request, "signatories.html", context)
    if search_error is not None:
        context["search_error"] = search_error
    key = (
        "page",
        campaign.id,
        runtime.counts.version(campaign.id),  # a change of the counts is a change of the list
        *(filters[k] for k in ("region", "departement", "mandat")),
        q,
        page,
    )
    found = runtime.searches.get(key) if q else None
    if found is None:
        async with runtime.pool.acquire() as conn:
            found = await signatures.public_signatories(
                conn,
                campaign.id,
                region=filters["region"] or None,
                departement=filters["departement"] or None,
                mandate=filters["mandat"] or None,
                q=q or None,
                limit=PER_PAGE,
                offset=(page - 1) * PER_PAGE,
            )
        if q:
            runtime.searches.put(key, found)
    total, rows = found
    query = {k: v for k in ("region", "departement", "mandat") if (v := filters[k])}
    if q:
        query["q"] = q
    context.update(
        items=[(r, runtime.index.get(r.territory_level, r.territory_code)) for r in rows],
        listed=total,
        pages=max(1, -(-total // PER_PAGE)),
        query=urlencode(query),
    )
    return render(request, "signatories.html", context)


async def _letter_html(
    runtime: Runtime,
    request: Request[Any, Any, Any],
    campaign: Campaign,
    values: dict[str, str],
) -> tuple[str, bool]:
    """The letter's page with its form (pre-filled with `values`), and whether the lists it
    shows are as new as the counts."""
    context = _index_context(runtime, campaign)
    context["values"] = values
    context["share"] = share_context(runtime.settings, campaign, signed=False)
    await _with_publication(runtime, campaign, context)
    settled = True
    if not context["names_hidden"]:
        context["latest"] = await _latest(runtime, campaign)
    try:
        context["history_chart"] = chart((await runtime.history.get(campaign)).points)
    except DB_ERRORS as exc:  # the page stands without its chart while the database is away
        log.warning("history chart left out: %s", type(exc).__name__)
        settled = False
    settled = settled and lists_settled(runtime, campaign, latest=not context["names_hidden"])
    return render(request, "index.html", context), settled


def _form_cookie(runtime: Runtime) -> Cookie:
    """The sign form's cookie (`FORM_COOKIE`), stamped now."""
    return Cookie(
        key=FORM_COOKIE,
        value=abuse.form_stamp(runtime.settings.secret_key),
        path=FORM_COOKIE_PATH,
        max_age=FORM_COOKIE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.base_url.startswith("https://"),
    )


async def _latest(runtime: Runtime, campaign: Campaign) -> list[tuple[signatures.Signatory, Any]]:
    """The newest public signatories with their territories (from memory; see public.py)."""
    rows = await runtime.latest.get(campaign.id)
    return [(r, runtime.index.get(r.territory_level, r.territory_code)) for r in rows]


def _list_filters(
    runtime: Runtime, region: str | None, departement: str | None, mandat: str | None
) -> dict[str, str]:
    """The list's filters, checked: an unknown value is a 400 that names the field."""
    region, departement, mandat = (v.strip() if v else "" for v in (region, departement, mandat))
    problems = []
    if region and runtime.index.get("region", region) is None:
        problems.append("« region » : région inconnue (code INSEE à deux chiffres, ex. 84)")
    if departement and runtime.index.get("departement", departement) is None:
        problems.append("« departement » : département inconnu (code, ex. 69, 2A, 974)")
    if mandat and mandat not in LABELS:
        problems.append("« mandat » : mandat inconnu")
    if problems:
        raise HTTPException(
            status_code=400, detail="Filtre invalide : " + " ; ".join(problems) + "."
        )
    return {"region": region, "departement": departement, "mandat": mandat}
