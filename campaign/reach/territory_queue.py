"""A catalyst's territory, commune by commune, in the order of what to do next: invite, follow
up, wait for the verification, done; with the maire's name from the register, the town hall's
public address, the visits and calls noted, and the coverage of the territory over time.

The register carries no intercommunality's membership, so there is no queue « the EPCI's
président signed but not its maires »: communes and départements only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

import asyncpg
import msgspec

from campaign.core.audit import Actor, record
from campaign.core.db import Q, convert_all
from campaign.core.settings import Settings
from campaign.reach import invitations, mailings
from campaign.reach.invitation_csv import Invitee
from campaign.reach.mairies import TownHalls
from campaign.territories.index import Territory, TerritoryIndex

# The queues, in the order a catalyst works through them.
QUEUES: Final = ("to_invite", "invited", "to_verify", "done")
QUEUE_LABELS: Final = {
    "to_invite": "Pas encore invitée",
    "invited": "Invitée, pas encore signé",
    "to_verify": "Le maire a signé, vérification en cours",
    "done": "Le maire a signé, signature vérifiée",
}
CONTACT_KINDS: Final = {"visit": "Visite", "call": "Appel"}
NOTE_MAX: Final = 2000
INVITE_RATE: Final = 1.0  # one town hall at a time: no need to hurry
COVERAGE_DAYS: Final = 180  # the chart's longest span


class QueueError(ValueError):
    """A French message for the catalyst."""


class CommuneState(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    invited: bool
    maire_signed: bool
    maire_verified: bool
    signed: int
    last_kind: str | None
    last_note: str | None
    last_at: datetime | None


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    commune: Territory
    state: CommuneState
    queue: str
    maire: str | None  # « Prénom Nom » from the register
    address: str | None  # the town hall's public address


def communes_of(index: TerritoryIndex, territories: list[Territory]) -> list[Territory]:
    """Every commune of the territories, once."""
    found: dict[str, Territory] = {}
    for territory in territories:
        if territory.level == "commune":
            found[territory.code] = territory
        else:
            for commune in index.all("commune"):
                if commune.departement == territory.code:
                    found[commune.code] = commune
    return list(found.values())


def queue_of(state: CommuneState) -> str:
    if state.maire_verified:
        return "done"
    if state.maire_signed:
        return "to_verify"
    return "invited" if state.invited else "to_invite"


async def queues(
    conn: asyncpg.Connection,
    campaign_id: int,
    communes: list[Territory],
    town_halls: TownHalls,
) -> dict[str, list[Entry]]:
    """The communes in their queues; in each, the most populated first."""
    codes = [c.code for c in communes]
    states = {
        s.code: s
        for s in convert_all(
            await conn.fetch(Q["catalyst_communes_state"], campaign_id, codes), CommuneState
        )
    }
    maires = {
        r["code"]: f"{r['given_name']} {r['family_name']}"
        for r in await conn.fetch(Q["communes_maires"], codes)
    }
    addresses = town_halls.addresses()
    result: dict[str, list[Entry]] = {name: [] for name in QUEUES}
    for commune in sorted(communes, key=lambda c: (-(c.population or 0), c.name)):
        state = states[commune.code]
        queue = queue_of(state)
        result[queue].append(
            Entry(
                commune=commune,
                state=state,
                queue=queue,
                maire=maires.get(commune.code),
                address=addresses.get(commune.code),
            )
        )
    return result


async def note_contact(
    conn: asyncpg.Connection,
    who: Actor,
    campaign_id: int,
    commune: Territory,
    kind: str,
    note: str,
) -> int:
    """A visit or a call, with its note: stored and audited together."""
    if kind not in CONTACT_KINDS:
        raise QueueError("Choisissez « visite » ou « appel ».")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise QueueError(f"La note compte {NOTE_MAX} caractères au plus.")
    async with conn.transaction():
        contact_id: int = await conn.fetchval(
            Q["catalyst_contact_insert"], who.id, campaign_id, commune.code, kind, note
        )
        await record(
            conn,
            who,
            f"catalyst.{kind}",
            target_type="catalyst_contact",
            target_id=contact_id,
            detail={"commune": commune.code, "note": note},
        )
    return contact_id


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    at: datetime
    kind: str
    note: str
    territory_code: str
    catalyst_name: str | None


async def recent_contacts(
    conn: asyncpg.Connection,
    campaign_id: int,
    *,
    organiser_id: int | None = None,
    commune: str | None = None,
    limit: int = 50,
) -> list[Contact]:
    """The newest visits and calls noted, by anyone or one catalyst, anywhere or in a commune."""
    rows = await conn.fetch(
        Q["catalyst_contacts_recent"], campaign_id, organiser_id, commune, limit
    )
    return convert_all(rows, Contact)


async def invite_maire(
    conn: asyncpg.Connection,
    settings: Settings,
    town_halls: TownHalls,
    who: Actor,
    campaign_id: int,
    relay_id: int,
    commune: Territory,
) -> bool:
    """Invites the commune's maire at the town hall's public address, through the campaign's
    invitations (brought by the catalyst's relay); False when that address was already invited."""
    address = town_halls.addresses().get(commune.code)
    if address is None:
        raise QueueError("L’annuaire ne donne pas d’adresse publique pour cette mairie.")
    row = await conn.fetchrow(Q["communes_maires"], [commune.code])
    invitee = Invitee(
        email=address,
        given_name=row["given_name"] if row else "",
        family_name=row["family_name"] if row else "",
        mandate="maire",
        territory_level="commune",
        territory_code=commune.code,
    )
    async with conn.transaction():
        result = await invitations.add_invitees(
            conn, settings, campaign_id, [invitee], who, source="annuaire", relay_id=relay_id
        )
        if not result.added:
            return False
        mailing_id = await mailings.create_invitations(
            conn,
            campaign_id,
            who,
            rate=INVITE_RATE,
            departement=commune.departement,
            relay_id=relay_id,
        )
        await mailings.start(conn, mailing_id, who)
    return True


async def coverage_days(
    conn: asyncpg.Connection, campaign_id: int, communes: list[Territory], today: date
) -> list[tuple[date, int]]:
    """Communes whose maire has signed, day by day (cumulative), from the first signature (or
    a week ago; six months at most) to today."""
    rows = await conn.fetch(Q["catalyst_coverage_days"], campaign_id, [c.code for c in communes])
    per_day: dict[date, int] = {}
    for r in rows:
        per_day[r["day"]] = per_day.get(r["day"], 0) + 1
    start = max(min([*per_day, today - timedelta(days=7)]), today - timedelta(days=COVERAGE_DAYS))
    series: list[tuple[date, int]] = []
    total = sum(n for day, n in per_day.items() if day < start)
    day = start
    while day <= today:
        total += per_day.get(day, 0)
        series.append((day, total))
        day += timedelta(days=1)
    return series
