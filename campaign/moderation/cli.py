"""`campaign export`: the signatories as CSV, from the command line (audited)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import asyncpg

from campaign.core import audit
from campaign.core.commands import Command, migrated_connection
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.letter.campaigns import DEFAULT_SLUG
from campaign.moderation import exports
from campaign.moderation.filters import STATUSES, SignatoryFilter


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", type=Path, help="fichier de sortie (par défaut : la sortie standard)"
    )
    parser.add_argument("--status", choices=STATUSES, help="seulement ce statut")
    parser.add_argument("--campaign", default=DEFAULT_SLUG, help="slug de la campagne")


async def export(settings: Settings, args: argparse.Namespace) -> None:
    async with migrated_connection(settings) as conn:
        campaign_id = await conn.fetchval(Q["campaign_id_by_slug"], args.campaign)
        if campaign_id is None:
            raise SystemExit(f"campaign export : campagne inconnue « {args.campaign} ».")
        f = SignatoryFilter(status=args.status)
        await audit.record(
            conn, audit.CLI_ACTOR, "export", detail={"format": "csv", "filtre": f.params()}
        )
        if args.output is None:
            await _write(conn, campaign_id, f, sys.stdout)
        else:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                await _write(conn, campaign_id, f, out)


async def _write(
    conn: asyncpg.Connection, campaign_id: int, f: SignatoryFilter, out: TextIO
) -> None:
    # Without the in-memory territory index, a search text would not match commune names; the
    # command line has no search option anyway.
    async for chunk in exports.csv_chunks(exports.rows(conn, campaign_id, f, None)):
        out.write(chunk.decode())
    out.flush()


COMMANDS = (Command("export", "exporter les signataires en CSV", export, _arguments),)
