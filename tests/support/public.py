"""Helpers for the tests of the public face: an app of its own (its database, its clock), and
signatures written directly."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from campaign.runtime import Runtime
from tests.support.admin import SLUG, make_signature
from tests.support.app import free_port, migrated_database, serve_app

__all__ = ["SLUG", "PublicApp", "eventually", "make_signature", "public_app", "set_embargo"]


@dataclass
class PublicApp:
    base: str
    dsn: str
    runtime: Runtime

    @property
    def clock(self) -> Any:
        return self.runtime.clock


@contextlib.asynccontextmanager
async def public_app(pg_server: str, name: str, smtp_port: int) -> AsyncIterator[PublicApp]:
    """The app on a database of its own, served by uvicorn; the test holds its runtime (the
    clock to move)."""
    from campaign.app import create_app
    from campaign.core.settings import load_settings

    dsn = await migrated_database(pg_server, name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        {
            "BASE_URL": base,
            "DATABASE_URL": dsn,
            "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "DATA_DIR": os.environ["DATA_DIR"],
            "MAIL_POLL_SECONDS": "0.2",
            "SSE_KEEPALIVE_SECONDS": "0.5",
        }
    )
    app = create_app(settings)
    async with serve_app(app, port):
        yield PublicApp(base, dsn, app.state.runtime)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Wait until `check()` holds (NOTIFY reaches the app a few milliseconds later)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def set_embargo(
    db: asyncpg.Connection, client: httpx.AsyncClient, *, embargo: bool, launch_at: datetime
) -> None:
    """Change the campaign's embargo and launch date as the back office does, then wait until
    the app has reloaded it (NOTIFY campaigns)."""
    await db.execute(
        "UPDATE campaigns SET embargo = $2, launch_at = $3 WHERE slug = $1",
        SLUG,
        embargo,
        launch_at,
    )

    async def reloaded() -> bool:
        info = (await client.get(f"/api/v1/campaigns/{SLUG}")).json()
        return bool(datetime.fromisoformat(info["launch_at"]) == launch_at)

    await eventually(reloaded, what="the campaign to be reloaded")
