"""Signing and confirming over real HTTP, as the tests do it: valid bodies and forms, the CSRF
token of a page, the confirmation link of an email, the counts' event stream, the outbox drained;
and a pending signature written directly with its link's token."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from campaign.core import tokens
from campaign.letter.campaigns import CampaignDefinition, save_campaign
from tests.support.app import unique_email

SLUG = "jouer-collectif"
SIGN = f"/api/v1/campaigns/{SLUG}/signatures"
CONFIRM_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/confirmer/([A-Za-z0-9_-]{43}))")
DRAIN_TIMEOUT = 3.0


def confirm_link(message: Any) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    match = CONFIRM_LINK.search(text)
    assert match, text
    return match.group(1), match.group(2)


async def csrf_token(client: httpx.AsyncClient, page: str = "/") -> str:
    """What a browser holds after showing `page`: the sign form's cookie (its 1-pixel image,
    `/signer/jeton`), and the CSRF token of the other forms (the page's field, or the cookie a
    page with forms sets: the public pages kept for everyone carry none)."""
    html = (await client.get(page)).text
    if 'src="/signer/jeton"' in html:
        assert (await client.get("/signer/jeton")).status_code == 200
    token = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    if token:
        return token.group(1)
    if client.cookies.get("csrftoken") is None:
        await client.get("/confidentialite")
    cookie = client.cookies.get("csrftoken")
    assert cookie, "no page gave the CSRF cookie"
    return cookie


async def read_events(
    client: httpx.AsyncClient, into: list[dict[str, object]], ready: asyncio.Event
) -> None:
    async with client.stream("GET", f"/api/v1/campaigns/{SLUG}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "counts":
                into.append(json.loads(line.split(":", 1)[1]))
                ready.set()


def valid_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name": "Anne",
        "family_name": "Martin",
        "email": unique_email("hostile"),
        "mandate": "maire",
        "territory_code": "69123",
        "public": True,
        "comment": "Pour un jeu collectif.",
        "ref": "relais-69",
    }
    body.update(overrides)
    return body


def valid_form(**overrides: str) -> dict[str, str]:
    form = {
        "given_name": "Anne",
        "family_name": "Martin",
        "email": unique_email("hostile-form"),
        "mandate": "maire",
        "territory_code": "69123",
        "public": "true",
        "comment": "Pour un jeu collectif.",
        "ref": "relais-69",
    }
    form.update(overrides)
    return form


async def outbox_drained(db: asyncpg.Connection) -> None:
    """Wait until the worker has sent the messages queued so far (a stray one would then be in the
    mailbox). Rows being retried after a failure are not waited for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_TIMEOUT
    while loop.time() < deadline:
        due = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE status = 'sending'"
            " OR (status = 'queued' AND attempts = 0)"
        )
        if not due:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.05)


async def pending_signature(
    db: asyncpg.Connection, *, expires_in: timedelta = timedelta(days=7), suspect: bool = False
) -> tuple[str, int, str]:
    """A pending signature in a commune of its own draw, and its link's token."""
    campaign_id = await save_campaign(
        db,
        CampaignDefinition(
            slug=f"once-{uuid.uuid4().hex[:8]}",
            title="Essai",
            launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC),
            body="Texte.",
        ),
    )
    version = await db.fetchval("SELECT current_version FROM campaigns WHERE id = $1", campaign_id)
    code = await db.fetchval(
        "SELECT code FROM territories WHERE level = 'commune' ORDER BY random() LIMIT 1"
    )
    signature_id = await db.fetchval(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                                  territory_level, territory_code, public, letter_version, suspect)
           VALUES ($1, $2, 'Anne', 'Martin', 'maire', 'commune', $3, true, $4, $5)
           RETURNING id""",
        campaign_id,
        f"once.{uuid.uuid4().hex[:10]}@mairie-test.fr",
        code,
        version,
        suspect,
    )
    salt = tokens.new_salt()
    token = tokens.derive(os.environ["SECRET_KEY"], salt)
    await db.execute(
        """INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
           VALUES ($1, 'confirm', $2, $3, $4)""",
        signature_id,
        salt,
        tokens.token_hash(token),
        datetime.now(UTC) + expires_in,
    )
    return token, campaign_id, code


async def confirmed_count(db: asyncpg.Connection, campaign_id: int, code: str) -> int:
    value = await db.fetchval(
        "SELECT confirmed FROM territory_counts "
        "WHERE campaign_id = $1 AND level = 'commune' AND code = $2",
        campaign_id,
        code,
    )
    return int(value or 0)
