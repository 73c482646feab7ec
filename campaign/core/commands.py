"""The `campaign` commands as a table: each package lists the commands it owns (`COMMANDS` in
its `cli` module), `campaign/cli.py` gathers them into one parser and runs the one asked for."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple

import asyncpg

from campaign.core import db, migrations
from campaign.core.settings import Settings


def _no_arguments(_parser: argparse.ArgumentParser) -> None:
    """A command that takes no argument."""


class Command(NamedTuple):
    name: str
    help: str
    """One line, in French, shown by `campaign --help`."""
    run: Callable[[Settings, argparse.Namespace], Awaitable[None] | int | None]
    """Run with the settings and the parsed arguments: a coroutine is run to its end; an int is
    the exit status."""
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    description: str | None = None


@contextlib.asynccontextmanager
async def migrated_connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database, migrated first (a command may be the first thing run)."""
    dsn = db.database_url(settings)
    await migrations.migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()
