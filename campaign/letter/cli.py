"""`campaign load-campaign`."""

from __future__ import annotations

import argparse
from pathlib import Path

from campaign.core.commands import Command, migrated_connection
from campaign.core.settings import Settings
from campaign.letter.campaigns import parse_campaign_file, save_campaign


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)


async def load(settings: Settings, args: argparse.Namespace) -> None:
    definition = parse_campaign_file(args.file)
    async with migrated_connection(settings) as conn:
        await save_campaign(conn, definition)
    print(f"Campagne « {definition.slug} » enregistrée.")


COMMANDS = (
    Command(
        "load-campaign", "créer ou mettre à jour une campagne depuis son fichier", load, _arguments
    ),
)
