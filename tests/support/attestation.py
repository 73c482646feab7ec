"""The town hall's attestation in tests: the real register of a few communes (read from the
vendored extract, as `campaign load-officials` does), the attestation link of an email."""

from __future__ import annotations

import asyncio
import email.message
import re
import uuid
from typing import Any

import asyncpg
import httpx

from campaign.register.officials import load_officials
from campaign.register.sources import VENDORED_FILE, read_vendored
from campaign.territories.index import TerritoryIndex, read_parts
from campaign.territories.index import read_vendored as read_territories
from tests.support.mail import Mailbox
from tests.support.signing import SIGN, confirm_link, csrf_token

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


def text_of(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def attestation_link(message: Any) -> tuple[str, str]:
    """The page's URL and token in an attestation email's text."""
    text = text_of(message)
    match = LINK.search(text)
    assert match, text
    return match.group(1), match.group(2)


async def sign_and_confirm(
    web: httpx.AsyncClient, mailbox: Mailbox, given: str, family: str, mandate: str, code: str
) -> str:
    """Signs from a fresh gmail address (nothing official about it) and confirms; the address."""
    address = f"elu.{uuid.uuid4().hex[:10]}@gmail.com"
    body = {
        "given_name": given,
        "family_name": family,
        "email": address,
        "mandate": mandate,
        "territory_code": code,
        "public": True,
    }
    response = await web.post(SIGN, json=body)
    assert response.status_code == 202, response.text
    [message] = await mailbox.wait_for(address)
    link, _ = confirm_link(message)
    confirmed = await web.post(link, data={"_csrf_token": await csrf_token(web)})
    assert "votre signature est confirmée" in confirmed.text
    return address


async def attestations_to(
    mailbox: Mailbox, site: str, town_hall: str, count: int = 1, timeout: float = 15
) -> list[email.message.EmailMessage]:
    """The attestation emails of this module's site received at `town_hall` (the session's
    SMTP server also receives other modules' mail)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = [m for m in mailbox.to(town_hall) if f"{site}/attestation/" in text_of(m)]
        if len(found) >= count:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"{len(found)} attestation(s) at {town_hall}, expected {count}")
        await asyncio.sleep(0.1)
