"""`campaign load-territories`."""

from __future__ import annotations

import argparse
from pathlib import Path

from campaign.core.commands import Command, migrated_connection
from campaign.core.settings import Settings
from campaign.territories import index


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=Path, help="fichier CSV gzip (par défaut : données livrées)")


async def load(settings: Settings, args: argparse.Namespace) -> None:
    async with migrated_connection(settings) as conn:
        n = await index.load_territories(conn, args.file or index.DATA_FILE)
    print(f"{n} territoires chargés.")


COMMANDS = (
    Command("load-territories", "charger régions, départements et communes", load, _arguments),
)
