"""`campaign mailing …`: the mailing to signatories from the command line (the workers of
`campaign serve` / `campaign worker` send it, at its rate, each recipient at most once)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

from campaign.core.audit import CLI_ACTOR
from campaign.core.commands import Command, migrated_connection
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.letter.campaigns import DEFAULT_SLUG
from campaign.reach import mailings
from campaign.territories.mandates import MANDATES


def _arguments(m: argparse.ArgumentParser) -> None:
    actions = m.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="créer un brouillon (affiche son numéro)")
    create.add_argument("--subject", required=True, help="objet du message")
    create.add_argument(
        "--body-file", type=Path, required=True, help="fichier Markdown du message ('-' : stdin)"
    )
    create.add_argument("--mandate", choices=MANDATES, help="seulement ce mandat")
    create.add_argument("--region", help="seulement cette région (code INSEE)")
    create.add_argument("--departement", help="seulement ce département (code)")
    create.add_argument("--rate", default=str(mailings.DEFAULT_RATE), help="messages par seconde")
    create.add_argument("--campaign", default=DEFAULT_SLUG, help="slug de la campagne")
    create.add_argument("--start", action="store_true", help="l’envoyer aussitôt")
    for name, text in (
        ("start", "envoyer (ou ajouter les nouveaux signataires : jamais deux fois)"),
        ("pause", "mettre en pause"),
        ("resume", "reprendre"),
        ("cancel", "annuler ce qui n’est pas parti"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int)
    status = actions.add_parser("status", help="où en est l’envoi")
    status.add_argument("id", type=int)
    status.add_argument("--follow", action="store_true", help="suivre jusqu’à la fin")
    listing = actions.add_parser("list", help="les envois de la campagne")
    listing.add_argument("--campaign", default=DEFAULT_SLUG)


def _fail(message: str) -> SystemExit:
    return SystemExit(f"campaign mailing : {message}")


async def run(settings: Settings, args: argparse.Namespace) -> None:
    async with migrated_connection(settings) as conn:
        await _run(conn, args)


async def _run(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    if args.action == "create":
        await _create(conn, args)
    elif args.action == "list":
        campaign_id = await _campaign_id(conn, args.campaign)
        for m in await mailings.recent(conn, campaign_id):
            print(f"{m.id}\t{m.status_label}\t{m.recipients}\t{m.subject or 'Invitations'}")
    elif args.action == "status":
        await _status(conn, args.id, follow=args.follow)
    elif args.action == "start":
        try:
            added = await mailings.start(conn, args.id, CLI_ACTOR)
        except mailings.MailingError as exc:
            raise _fail(str(exc)) from None
        print(f"Envoi n° {args.id} : {added} destinataire(s) ajouté(s) à la file d’envoi.")
    else:
        action = {"pause": "pause", "resume": "resume", "cancel": "cancel"}[args.action]
        if not await mailings.set_status(conn, args.id, action, CLI_ACTOR):
            raise _fail(f"impossible dans l’état actuel de l’envoi n° {args.id}.")
        mailing = await mailings.get(conn, args.id)
        print(f"Envoi n° {args.id} : {mailing.status_label if mailing else '?'}.")


async def _campaign_id(conn: asyncpg.Connection, slug: str) -> int:
    campaign_id = await conn.fetchval(Q["campaign_id_by_slug"], slug)
    if campaign_id is None:
        raise _fail(f"campagne inconnue « {slug} ».")
    result: int = campaign_id
    return result


async def _create(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    campaign_id = await _campaign_id(conn, args.campaign)
    body = sys.stdin.read() if str(args.body_file) == "-" else args.body_file.read_text("utf-8")
    form = {
        "subject": args.subject,
        "body": body,
        "rate": args.rate,
        "mandat": args.mandate or "",
        "region": args.region or "",
        "departement": args.departement or "",
    }
    draft, errors = mailings.check_draft(form)
    if draft is None:
        raise _fail(" ".join(f"{k} : {v}" for k, v in errors.items()))
    mailing_id = await mailings.create(conn, campaign_id, draft, CLI_ACTOR)
    print(f"Envoi n° {mailing_id} créé (brouillon).")
    if args.start:
        added = await mailings.start(conn, mailing_id, CLI_ACTOR)
        print(f"Envoi n° {mailing_id} : {added} destinataire(s) dans la file d’envoi.")


async def _status(conn: asyncpg.Connection, mailing_id: int, *, follow: bool) -> None:
    while True:
        mailing = await mailings.get(conn, mailing_id)
        if mailing is None:
            raise _fail(f"envoi n° {mailing_id} introuvable.")
        p = await mailings.progress(conn, mailing)
        print(
            f"Envoi n° {p.id} — {p.status_label} : {p.sent} envoyé(s), "
            f"{p.queued + p.sending} en file, {p.failed} en échec, {p.cancelled} écarté(s) ; "
            f"{p.last_minute} dans la dernière minute (débit {p.rate:g}/s)",
            flush=True,
        )
        if not follow or p.status not in ("sending", "paused"):
            return
        await asyncio.sleep(5)


COMMANDS = (
    Command(
        "mailing",
        "écrire aux signataires confirmés (créer, envoyer, suivre un envoi)",
        run,
        _arguments,
        description="Un envoi part aux signataires confirmés, au débit choisi, une seule fois "
        "par destinataire (même lancé deux fois) ; les processus d’envoi (serve, worker) le "
        "poursuivent après un redémarrage.",
    ),
)
