"""Numbered SQL migrations: applied in order, each in its own transaction, under an advisory
lock so that processes starting together never both migrate."""

from __future__ import annotations

import logging
import re
from importlib.resources.abc import Traversable

import asyncpg

from campaign.core import resources

log = logging.getLogger(__name__)

MIGRATIONS_DIR = resources.SQL / "migrations"
# Any constant shared by every process of the service; two processes starting together queue here.
_LOCK_KEY = 0x63616D70  # "camp"
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(directory: Traversable = MIGRATIONS_DIR) -> list[tuple[int, str, Traversable]]:
    found = []
    for path in resources.by_name(directory, ".sql"):
        match = _FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path.name.removesuffix(".sql"), path))
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number in {directory}")
    return found


async def applied_migrations(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending_migrations(conn: asyncpg.Connection) -> list[str]:
    done = await applied_migrations(conn)
    return [name for number, name, _ in migration_files() if number not in done]


async def migrate(dsn: str) -> list[str]:
    """Apply what is missing; returns the names applied by this call (empty if another did it)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = await applied_migrations(conn)
            applied = []
            for number, name, path in migration_files():
                if number in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        number,
                        name,
                    )
                log.info("applied migration %s", name)
                applied.append(name)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
