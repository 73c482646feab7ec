"""The town hall's attestation in tests: the real register of a few communes (read from the
vendored extract, as `campaign load-officials` does), the attestation link of an email."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from campaign.register.officials import load_officials
from campaign.register.sources import VENDORED_FILE, read_vendored
from campaign.territories.index import TerritoryIndex, read_parts
from campaign.territories.index import read_vendored as read_territories

SAINT_ETIENNE = "42218"  # courriermairie@saint-etienne.fr; maire Régis Juanico (RNE, 2026)
SAINT_ETIENNE_MAIRIE = "courriermairie@saint-etienne.fr"
ABERGEMENT = "01001"  # a gmail address in the directory; adjointe Delphine Bouilloux
ABERGEMENT_MAIRIE = "mairieabergementclemenciat@gmail.com"
VAREY = "01002"  # mairie@abergement-de-varey.fr; maire François Courouble
VAREY_MAIRIE = "mairie@abergement-de-varey.fr"
ABOEN = "42001"  # mairie@aboen.fr; maire Christian Jouve
NO_ADDRESS = "42278"  # no address in the directory; maire Jean-Marc Dumas
COMMUNES = {SAINT_ETIENNE, ABERGEMENT, VAREY, ABOEN, NO_ADDRESS}

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/attestation/([A-Za-z0-9_-]{43}))")


async def load_register_of(conn: asyncpg.Connection, communes: set[str]) -> int:
    """The real register's mandates of these communes, loaded; how many."""
    index = TerritoryIndex(read_territories(), read_parts())
    records = [r for r in read_vendored(VENDORED_FILE, index) if r.territory_code in communes]
    report = await load_officials(conn, [records], "vendored extract (test communes)")
    return report.rows


def attestation_link(message: Any) -> tuple[str, str]:
    """The page's URL and token in an attestation email's text."""
    text = message.get_body(("plain",)).get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(1), match.group(2)
