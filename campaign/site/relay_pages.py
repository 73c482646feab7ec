"""Public pages of the reach: a relay's secret page (what it brought, its territory's coverage,
live) and the opt-out page of the suppression list.

A relay's page shows its own figures and nothing else: names only of the signatories it brought
who agreed to be listed, never an address; the territory's figures come from the in-memory counts.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from campaign.core.frenchdates import PARIS
from campaign.core.frenchnumbers import percent
from campaign.mail import suppression
from campaign.reach import invitations, relays
from campaign.register import levels
from campaign.runtime import Runtime, RuntimeDep
from campaign.territories.mandates import LABELS
from campaign.web import httpcache

NO_STORE = {**httpcache.NO_STORE, "X-Robots-Tag": "noindex, nofollow"}
TO_CALL = 30  # communes without signatures shown on a relay's page


class BroughtItem(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None  # None: not listed publicly, counted only
    mandate: str
    territory: str
    verified: bool
    level: str = "declared"  # verified, register_match or declared
    level_label: str = ""  # « élu·e vérifié·e (mairie) », « mandat trouvé au RNE », « déclaré »
    confirmed_at: str | None


class RelayState(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /relais/{token}/etat`: what the relay's page shows, polled by its script."""

    confirmed: int
    pending: int
    verified: int
    register_match: int = 0
    unlisted: int
    items: list[BroughtItem]
    territory: relays.Coverage
    coverage_text: str


async def _relay_or_404(runtime: Runtime, token: str) -> relays.Relay:
    async with runtime.pool.acquire() as conn:
        relay = await relays.by_token(conn, token)
    if relay is None:
        raise NotFoundException(detail="Ce lien de relais n’existe pas ou plus.")
    return relay


async def relay_state(runtime: Runtime, relay: relays.Relay) -> RelayState:
    async with runtime.pool.acquire() as conn:
        totals, brought = await relays.brought(conn, relay)
    items = []
    for b in brought:
        if b.status != "confirmed" or not b.public:
            continue
        territory = runtime.index.get(b.territory_level, b.territory_code)
        items.append(
            BroughtItem(
                name=f"{b.given_name} {b.family_name}",
                mandate=LABELS.get(b.mandate, b.mandate),
                territory=territory.label if territory else b.territory_code,
                verified=b.verified,
                level=levels.level_of(b),
                level_label=levels.level_label(b),
                confirmed_at=b.confirmed_at.astimezone(PARIS).strftime("%d/%m/%Y")
                if b.confirmed_at
                else None,
            )
        )
    coverage = relays.coverage(
        runtime.counts, relay.campaign_id, relay.territory_level, relay.territory_code
    )
    return RelayState(
        confirmed=totals.confirmed,
        pending=totals.pending,
        verified=totals.verified,
        register_match=totals.register_match,
        unlisted=totals.confirmed - totals.listed,
        items=items,
        territory=coverage,
        coverage_text=percent(coverage.coverage),
    )


class ReachPages(Controller):
    include_in_schema = False

    @get("/relais/{token:str}")
    async def relay_page(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        """A relay's own page, reached by its secret link."""
        relay = await _relay_or_404(runtime, token)
        state = await relay_state(runtime, relay)
        territory = runtime.index.get(relay.territory_level, relay.territory_code)
        to_call = relays.unsigned_communes(
            runtime.counts,
            runtime.index,
            relay.campaign_id,
            relay.territory_level,
            relay.territory_code,
        )
        return Template(
            "relay.html",
            context={
                "campaign": runtime.campaigns.current(relay.campaign_id),
                "relay": relay,
                "territory": territory,
                "state": state,
                "share_link": relays.share_link(runtime.settings, relay.code),
                "to_call": to_call[:TO_CALL],
                "to_call_total": len(to_call),
                "token": token,
            },
            headers=NO_STORE,
        )

    @get("/relais/{token:str}/etat")
    async def relay_json(self, runtime: RuntimeDep, token: FromPath[str]) -> Response[Any]:
        relay = await _relay_or_404(runtime, token)
        return Response(await relay_state(runtime, relay), headers=NO_STORE)

    @get("/desinscription/{token:str}")
    async def opt_out_page(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        """Asks before opting out: mail filters open links by themselves."""
        valid = suppression.read_token(runtime.settings.secret_key, token) is not None
        return Template(
            "optout.html",
            context={
                "campaign": runtime.campaigns.current(),
                "token": token,
                "result": None if valid else "unknown",
            },
            status_code=200 if valid else 404,
            headers=NO_STORE,
        )

    # No CSRF token: the link's token is the credential, and mail clients POST here by themselves
    # (`List-Unsubscribe-Post: List-Unsubscribe=One-Click`, RFC 8058) without any form.
    @post("/desinscription/{token:str}", opt={"exclude_from_csrf": True}, status_code=200)
    async def opt_out(self, runtime: RuntimeDep, token: FromPath[str]) -> Template:
        digest = suppression.read_token(runtime.settings.secret_key, token)
        if digest is not None:
            async with runtime.pool.acquire() as conn:
                await suppression.suppress(conn, digest, "mailing")
        return Template(
            "optout.html",
            context={
                "campaign": runtime.campaigns.current(),
                "token": token,
                "result": "done" if digest is not None else "unknown",
            },
            status_code=200 if digest is not None else 404,
            headers=NO_STORE,
        )


async def prefill_values(
    runtime: Runtime, invitation: str | None, ref: str | None
) -> dict[str, str]:
    """What the letter's form shows when opened from an invitation's or a relay's link: the
    invitee's names, mandate and territory (never the address), and the attribution code.
    Anything malformed or unknown is ignored: the form simply opens empty."""
    values: dict[str, str] = {}
    if ref and relays.CODE.fullmatch(ref):
        values["ref"] = ref
    if invitation:
        async with runtime.pool.acquire() as conn:
            found = await invitations.prefill(conn, invitation)
        if found is not None:
            values.update(invitations.form_values(found, runtime.index))
    return values
