"""Helpers for the back-office tests: accounts, logged-in clients, signatures made directly."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from campaign.core import audit
from campaign.core.db import Q
from campaign.organisers import accounts

SLUG = "jouer-collectif"
PASSWORD = "un mot de passe assez long"
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def make_organiser(db: asyncpg.Connection, role: str, password: str = PASSWORD) -> str:
    email = f"{role}.{uuid.uuid4().hex[:8]}@collectif-test.fr"
    await accounts.create_organiser(db, audit.CLI_ACTOR, email, role, password)
    return email


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/admin/connexion")
    return await client.post(
        "/admin/connexion",
        data={"email": email, "password": password, "_csrf_token": csrf_of(page.text)},
    )


@asynccontextmanager
async def logged_in(
    server: str, db: asyncpg.Connection, role: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookies, logged in as a new account of `role`."""
    email = await make_organiser(db, role)
    async with httpx.AsyncClient(base_url=server, timeout=20) as client:
        response = await login(client, email)
        assert response.status_code == 303, response.text
        client.email = email  # type: ignore[attr-defined]
        yield client


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    html = (await client.get(page)).text
    return await client.post(action, data={**data, "_csrf_token": csrf_of(html)})


async def campaign_row(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow("SELECT id, current_version FROM campaigns WHERE slug = $1", SLUG)
    assert row is not None
    return row


async def make_signature(
    db: asyncpg.Connection,
    *,
    status: str = "confirmed",
    given_name: str = "Anne",
    family_name: str = "Martin",
    mandate: str = "maire",
    level: str = "commune",
    code: str = "69123",
    public: bool = True,
    ref: str | None = None,
    email: str | None = None,
) -> int:
    """A signature written as the signing path would leave it (confirmed ones counted)."""
    c = await campaign_row(db)
    email = email or f"s.{uuid.uuid4().hex[:12]}@mairie-test.fr"
    async with db.transaction():
        signature_id: int = await db.fetchval(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                   territory_level, territory_code, public, ref, letter_version, status,
                   confirmed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                       CASE WHEN $11 = 'confirmed' THEN now() END)
               RETURNING id""",
            c["id"],
            email,
            given_name,
            family_name,
            mandate,
            level,
            code,
            public,
            ref,
            c["current_version"],
            status,
        )
        if status == "confirmed":
            await db.execute(Q["increment_count"], c["id"], level, code)
    return signature_id


async def stored_count(db: asyncpg.Connection, level: str, code: str) -> int:
    c = await campaign_row(db)
    value = await db.fetchval(
        "SELECT confirmed FROM territory_counts "
        "WHERE campaign_id = $1 AND level = $2 AND code = $3",
        c["id"],
        level,
        code,
    )
    return int(value or 0)
