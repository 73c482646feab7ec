"""JSON API `/api/v1`: campaigns, live counts, signing, signatories, territories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_202_ACCEPTED
from msgspec import Meta

from campaign.core import clientaddr
from campaign.core.migrations import pending_migrations
from campaign.counts.cache import CountsBody
from campaign.counts.latest import names_hidden, seconds_until_names
from campaign.counts.live import KEEPALIVE_FRAME
from campaign.counts.streamgate import Lease
from campaign.letter import launch
from campaign.letter.campaigns import Campaign, PublicCampaign
from campaign.register.proof import Proof
from campaign.runtime import Runtime, RuntimeDep
from campaign.signing import abuse, signatures
from campaign.signing.validation import SigningBody, check_signing
from campaign.territories.mandates import Mandate
from campaign.web.httpcache import cached_response
from campaign.web.params import SearchText

REGION_CODE = r"^[0-9]{2}$"
DEPARTEMENT_CODE = r"^([0-9]{2,3}|2[AB])$"
STREAM_RETRY_AFTER = 30  # seconds a refused live stream waits (the page polls meanwhile)


class CampaignInfo(PublicCampaign, frozen=True, kw_only=True):
    letter_version: int
    total: int
    names_hidden: bool = False
    """The embargo holds: no name is published before `launch_at` (counts are)."""
    published: bool = False
    """`launch_at` has come: the letter is published with its signatories and downloads."""
    closing_at: datetime | None = None
    """When signing closes by itself (null: no date set)."""
    signing_open: bool = True
    """Signing is open (not past `closing_at`, status `open`)."""


class Accepted(msgspec.Struct, frozen=True):
    detail: str


class SignatoryItem(msgspec.Struct, frozen=True, kw_only=True):
    given_name: str
    family_name: str
    mandate: str
    territory_code: str
    territory_name: str
    verified: Annotated[
        bool,
        Meta(
            description="Élu·e vérifié·e : la preuve que le signataire est l’élu·e déclaré·e "
            "est apportée (`proof` dit par qui)"
        ),
    ]
    proof: Annotated[
        Proof | None,
        Meta(
            description="Qui l’a prouvé : `mairie` (la mairie a confirmé depuis son adresse "
            "officielle), `official_domain` (confirmé depuis une adresse au domaine officiel de "
            "sa collectivité ou de son assemblée), `organisers` (attesté par les organisateurs) ; "
            "null : non prouvé"
        ),
    ] = None
    register_match: Annotated[
        bool,
        Meta(
            description="Mandat trouvé au RNE : le nom et le mandat déclarés figurent au "
            "répertoire national des élus, ce qui ne prouve pas qui a signé"
        ),
    ] = False
    featured: bool
    signed_at: datetime


class SignatoryPage(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    items: list[SignatoryItem]
    embargo: bool = False
    """Names are under embargo: `items` is empty and `total` 0 whatever the filters (a search
    must not tell who signed) until `names_public_at`."""
    names_public_at: datetime | None = None


def signatory_item(runtime: Runtime, r: signatures.Signatory) -> SignatoryItem:
    territory = runtime.index.get(r.territory_level, r.territory_code)
    return SignatoryItem(
        given_name=r.given_name,
        family_name=r.family_name,
        mandate=r.mandate,
        territory_code=r.territory_code,
        territory_name=territory.name if territory else r.territory_code,
        verified=r.verified,
        proof=r.proof,
        register_match=r.register_match,
        featured=r.featured,
        signed_at=r.confirmed_at,
    )


_encoder = msgspec.json.Encoder()


class TerritoryItem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    level: str
    departement: str | None
    region: str | None
    postal_codes: list[str]


NOT_MODIFIED = ResponseSpec(data_container=None, description="Inchangé depuis l’ETag donné.")


def cached_answers(
    data: Any, description: str, media_type: str = "application/json"
) -> dict[int, ResponseSpec]:
    """The answers of a GET that carries an ETag, for the OpenAPI document: 200 and 304."""
    return {
        200: ResponseSpec(data_container=data, media_type=media_type, description=description),
        304: NOT_MODIFIED,
    }


def campaign_or_404(runtime: Runtime, slug: str) -> Campaign:
    campaign = runtime.campaigns.get(slug)
    if campaign is None:
        raise NotFoundException(detail=f"Campagne inconnue : {slug}")
    return campaign


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})
    ref = schema.get("$ref", "")
    return dict(defs[ref.rsplit("/", 1)[1]]) if ref else schema


class SigningOperation(Operation):
    """Documents the signing body: the handler reads it itself, to report every field's error."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        schema["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _inline(msgspec.json.schema(SigningBody))}},
        }
        return schema


class CampaignApi(Controller):
    path = "/api/v1/campaigns/{slug:str}"
    tags = ["campagnes"]

    @get(
        "/",
        operation_id="getCampaign",
        responses=cached_answers(
            CampaignInfo, "La campagne (ETag ; Cache-Control public, quelques secondes)."
        ),
    )
    async def campaign(
        self, slug: FromPath[str], runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """The campaign, its launch date, its goal and its total of confirmed signatures."""
        c = campaign_or_404(runtime, slug)
        now = runtime.clock.now()
        public = {name: getattr(c, name) for name in PublicCampaign.__struct_fields__}
        body = _encoder.encode(
            CampaignInfo(
                **public,
                letter_version=c.current_version,
                total=runtime.counts.campaign(c.id).total,
                names_hidden=names_hidden(c, now),
                published=launch.published(c, now),
                closing_at=c.closing_at,
                signing_open=launch.closed_message(c, now) is None,
            )
        )
        return cached_response(request, body, max_age=2, stale=10)

    @get(
        "/counts",
        operation_id="getCounts",
        cache=False,
        responses=cached_answers(
            CountsBody,
            "Signatures par territoire, vérifiées, élus du répertoire et part des "
            "maires signataires (servi depuis la mémoire ; ETag).",
        ),
    )
    async def counts(
        self,
        slug: FromPath[str],
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        level: FromQuery[Literal["region", "departement", "commune"]] = "region",
    ) -> Response[bytes]:
        """Confirmed and verified signatures per territory, officials of the register and the share
        of maires who signed; a commune's counts roll up into its département and région."""
        c = campaign_or_404(runtime, slug)
        body, etag = runtime.counts.body(c.id, level)
        return cached_response(request, body, etag=etag, max_age=2, stale=10)

    @get("/events", operation_id="streamCounts", media_type="text/event-stream")
    async def events(
        self, slug: FromPath[str], runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Stream:
        """Server-Sent Events: `counts` events with the new total and the changed territories.
        Past the streams a process or a client network may hold: 503 and `Retry-After` (poll
        the counts instead)."""
        c = campaign_or_404(runtime, slug)
        client = clientaddr.from_scope(request.scope, runtime.settings.trusted_proxies)
        lease = runtime.broadcaster.gate.admit(
            clientaddr.network_of(client) if client is not None else None
        )
        if lease is None:
            raise HTTPException(
                status_code=503,
                detail="Trop de flux en direct ouverts : interrogez les compteurs "
                "(/counts) en attendant.",
                headers={"Retry-After": str(STREAM_RETRY_AFTER)},
            )
        return Stream(
            _count_events(runtime, c.id, lease),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @post(
        "/signatures",
        operation_id="sign",
        status_code=HTTP_202_ACCEPTED,
        operation_class=SigningOperation,
    )
    async def sign(
        self, slug: FromPath[str], runtime: RuntimeDep, request: Request[Any, Any, Any]
    ) -> Accepted:
        """Sign the letter; the same answer whether or not the address already signed."""
        c = campaign_or_404(runtime, slug)
        closed = launch.closed_message(c, runtime.clock.now())
        if closed is not None:  # past the closing date, or closed by an organiser
            raise HTTPException(status_code=409, detail=closed)
        try:
            data = msgspec.json.decode(await request.body())
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            raise HTTPException(status_code=400, detail="Corps JSON invalide.") from None
        if not isinstance(data, dict):
            raise HTTPException(status_code=400, detail="Un objet JSON est attendu.")
        req, errors = check_signing(data, runtime.index, strict_bool=True)
        if req is None:
            raise HTTPException(
                status_code=422,
                detail="Certains champs sont invalides : " + ", ".join(errors),
                extra=[{"key": k, "message": m} for k, m in errors.items()],
            )
        signals = abuse.signals(request.scope, runtime.settings)
        await runtime.signing.sign(c, req, signals)
        return Accepted(detail="Vérifiez votre boîte de réception pour confirmer votre signature.")

    @get(
        "/signatories",
        operation_id="listSignatories",
        responses=cached_answers(
            SignatoryPage,
            "Signataires publics, les mis en avant d’abord, puis les plus récents "
            "(ETag ; Cache-Control public, quelques secondes). Sous embargo : aucun nom.",
        ),
    )
    async def signatories(
        self,
        slug: FromPath[str],
        runtime: RuntimeDep,
        request: Request[Any, Any, Any],
        region: Annotated[str | None, QueryParameter(pattern=REGION_CODE)] = None,
        departement: Annotated[str | None, QueryParameter(pattern=DEPARTEMENT_CODE)] = None,
        mandate: FromQuery[Mandate | None] = None,
        q: SearchText = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> Response[bytes]:
        """Confirmed signatures whose signers agreed to be listed, featured first, then newest;
        nothing while the campaign's embargo on names holds."""
        c = campaign_or_404(runtime, slug)
        hidden_for = seconds_until_names(c, runtime.clock.now())
        if hidden_for is not None:
            hidden = SignatoryPage(total=0, items=[], embargo=True, names_public_at=c.launch_at)
            return cached_response(
                request,
                _encoder.encode(hidden),
                max_age=min(10, hidden_for),
                stale=min(30, hidden_for),
            )
        least = runtime.settings.search_min_chars
        if q and signatures.search_length(q) < least:
            raise HTTPException(
                status_code=400,
                detail=f"q : au moins {least} caractères pour une recherche.",
                extra=[{"key": "q", "message": f"Au moins {least} caractères."}],
            )
        if q:
            client = clientaddr.from_scope(request.scope, runtime.settings.trusted_proxies)
            wait = runtime.search_rate.retry_after(
                clientaddr.network_of(client) if client is not None else None
            )
            if wait:
                raise HTTPException(
                    status_code=429,
                    detail=f"Trop de recherches depuis votre réseau : réessayez dans {wait} s.",
                    headers={"Retry-After": str(wait)},
                )
        key = (
            "api",
            c.id,
            runtime.counts.version(c.id),
            region,
            departement,
            mandate,
            q,
            page,
            limit,
        )
        found = runtime.searches.get(key) if q else None
        if found is None:
            async with runtime.pool.acquire() as conn:
                found = await signatures.public_signatories(
                    conn,
                    c.id,
                    region=region,
                    departement=departement,
                    mandate=mandate,
                    q=q,
                    limit=limit,
                    offset=(page - 1) * limit,
                )
            if q:
                runtime.searches.put(key, found)
        total, rows = found
        found = SignatoryPage(total=total, items=[signatory_item(runtime, r) for r in rows])
        return cached_response(request, _encoder.encode(found), max_age=10, stale=30)


async def _count_events(runtime: Runtime, campaign_id: int, lease: Lease) -> AsyncIterator[bytes]:
    """A snapshot, then each coalesced change, and comments when idle: SSE frames the
    broadcaster encodes once for every client. Ends with the process (a None in the queue), or
    when only keep-alives went out for `idle_close` seconds (checked at each keep-alive, so a
    stream costs no timer of its own; the browser's EventSource reconnects by itself)."""
    broadcaster = runtime.broadcaster
    loop = asyncio.get_running_loop()
    queue = broadcaster.subscribe(campaign_id)
    try:
        yield broadcaster.snapshot_frame(campaign_id)
        last_count = loop.time()
        while (frame := await queue.get()) is not None:
            if frame is KEEPALIVE_FRAME:
                if broadcaster.idle_close and loop.time() - last_count >= broadcaster.idle_close:
                    return
            else:
                last_count = loop.time()
            yield frame
    finally:  # also when the client leaves (the pending read is cancelled)
        broadcaster.unsubscribe(campaign_id, queue)
        lease.release()


@get(
    "/api/v1/territories",
    operation_id="searchTerritories",
    tags=["territoires"],
    responses=cached_answers(
        list[TerritoryItem], "Territoires trouvés (ETag ; Cache-Control public, une heure)."
    ),
)
async def search_territories(
    runtime: RuntimeDep,
    request: Request[Any, Any, Any],
    q: Annotated[str, QueryParameter(min_length=1, max_length=100)],
    level: FromQuery[Literal["region", "departement", "commune"] | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
) -> Response[bytes]:
    """Territories by name (accents and case ignored), INSEE code or postal code."""
    found = [
        TerritoryItem(
            code=t.code,
            name=t.name,
            level=t.level,
            departement=t.departement,
            region=t.region,
            postal_codes=list(t.postal_codes),
        )
        for t in runtime.index.search(q, level, limit)
    ]
    # The territories change only when they are reloaded: a CDN may keep answers for an hour.
    return cached_response(request, _encoder.encode(found), max_age=3600, stale=86400)


@get("/health", operation_id="health", tags=["exploitation"], cache=False)
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/ready", operation_id="ready", tags=["exploitation"], cache=False)
async def ready(runtime: RuntimeDep) -> Response[dict[str, Any]]:
    """The database answers and every migration is applied."""
    try:
        async with runtime.pool.acquire(timeout=2) as conn:
            pending = await asyncio.wait_for(pending_migrations(conn), timeout=2)
    except Exception as exc:
        return Response({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
    if pending:
        return Response({"status": "unavailable", "pending_migrations": pending}, status_code=503)
    return Response({"status": "ok", "listening": runtime.broadcaster.connected.is_set()})
