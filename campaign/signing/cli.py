"""`campaign purge`: what the privacy notice promises about time, done (also daily by the
workers, campaign/signing/purge.py)."""

from __future__ import annotations

import argparse

from campaign.core.commands import Command, migrated_connection
from campaign.core.settings import Settings
from campaign.signing.purge import describe, purge


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="dire ce qui serait fait, sans rien modifier"
    )


async def run(settings: Settings, args: argparse.Namespace) -> None:
    async with migrated_connection(settings) as conn:
        report = await purge(conn, settings, dry_run=args.dry_run)
    print(describe(report, settings, dry_run=args.dry_run))


COMMANDS = (
    Command(
        "purge",
        "supprimer les signatures non confirmées, anonymiser après la campagne "
        "(aussi fait chaque jour par le travailleur de courriels)",
        run,
        _arguments,
    ),
)
