"""Helpers for the catalysts' tests: an account of a territory, logged in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from campaign.core import audit
from campaign.core.settings import load_settings
from campaign.organisers import catalysts
from campaign.territories.index import Territory
from tests.support.admin import PASSWORD, campaign_row, login


async def make_catalyst(db: asyncpg.Connection, territories: list[Territory]) -> str:
    """A catalyst of the demo campaign owning `territories`; returns its address."""
    email = f"catalyst.{uuid.uuid4().hex[:8]}@collectif-test.fr"
    settings = load_settings({"DATABASE_URL": "postgresql://unused/x", "SMTP_URL": "smtp://x:1"})
    await catalysts.create(
        db,
        settings,
        (await campaign_row(db))["id"],
        audit.CLI_ACTOR,
        name=f"Catalyseur {uuid.uuid4().hex[:4]}",
        email=email,
        territories=territories,
        password=PASSWORD,
    )
    return email


def territory(level: str, code: str, departement: str | None = None) -> Territory:
    """Enough of a territory for `make_catalyst` (it stores level and code)."""
    return Territory(level=level, code=code, name=code, departement=departement, region=None,
                     population=None)  # fmt: skip


@asynccontextmanager
async def catalyst_client(
    server: str, db: asyncpg.Connection, territories: list[Territory]
) -> AsyncIterator[httpx.AsyncClient]:
    email = await make_catalyst(db, territories)
    async with httpx.AsyncClient(base_url=server, timeout=20) as client:
        response = await login(client, email)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/console"
        yield client
