"""The back office's commands: `campaign create-organiser` and `campaign export`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

import asyncpg

from campaign.core import audit, db, migrations
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.moderation import exports
from campaign.moderation.filters import STATUSES, SignatoryFilter
from campaign.organisers import accounts
from campaign.organisers.roles import ROLES


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    co = sub.add_parser(
        "create-organiser", help="créer un compte d’organisateur (ou le réinitialiser)"
    )
    co.add_argument("email")
    co.add_argument("--role", choices=ROLES, required=True)
    co.add_argument(
        "--password-stdin",
        action="store_true",
        help="lire le mot de passe sur l’entrée standard (scripts) au lieu de le demander",
    )
    co.add_argument(
        "--reset",
        action="store_true",
        help="si le compte existe : lui donner ce mot de passe et ce rôle, et le réactiver",
    )
    ex = sub.add_parser("export", help="exporter les signataires en CSV")
    ex.add_argument(
        "--output", "-o", type=Path, help="fichier de sortie (par défaut : la sortie standard)"
    )
    ex.add_argument("--status", choices=STATUSES, help="seulement ce statut")
    ex.add_argument("--campaign", default="jouer-collectif", help="slug de la campagne")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mot de passe : ")
    if getpass.getpass("Mot de passe (à nouveau) : ") != first:
        raise SystemExit("Les deux mots de passe diffèrent.")
    return first


async def _connect(settings: Settings) -> asyncpg.Connection:
    dsn = db.database_url(settings)
    await migrations.migrate(dsn)
    return await asyncpg.connect(dsn)


async def create_organiser(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_password(args.password_stdin)
    conn = await _connect(settings)
    try:
        saved, organiser_id = await accounts.create_organiser(
            conn, audit.CLI_ACTOR, args.email, args.role, password, replace=args.reset
        )
    except accounts.AccountError as exc:
        raise SystemExit(f"campaign create-organiser : {exc}") from None
    finally:
        await conn.close()
    what = "créé" if saved is accounts.Saved.CREATED else "réinitialisé"
    print(
        f"Compte {what} : {accounts.normalise_email(args.email)} ({args.role}), n° {organiser_id}."
    )


async def export(settings: Settings, args: argparse.Namespace) -> None:
    conn = await _connect(settings)
    try:
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
    finally:
        await conn.close()


async def _write(
    conn: asyncpg.Connection, campaign_id: int, f: SignatoryFilter, out: TextIO
) -> None:
    # Without the in-memory territory index, a search text would not match commune names; the
    # command line has no search option anyway.
    async for chunk in exports.csv_chunks(exports.rows(conn, campaign_id, f, None)):
        out.write(chunk.decode())
    out.flush()
