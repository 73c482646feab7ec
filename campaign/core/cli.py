"""`campaign migrate`."""

from __future__ import annotations

import argparse

from campaign.core import db, migrations
from campaign.core.commands import Command
from campaign.core.settings import Settings


async def migrate(settings: Settings, _args: argparse.Namespace) -> None:
    applied = await migrations.migrate(db.database_url(settings))
    print("Migrations appliquées : " + (", ".join(applied) if applied else "aucune (à jour)"))


COMMANDS = (Command("migrate", "appliquer les migrations de la base", migrate),)
