"""`campaign create-organiser`: an account for the back office, from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys

from campaign.core import audit
from campaign.core.commands import Command, migrated_connection
from campaign.core.settings import Settings
from campaign.organisers import accounts
from campaign.organisers.roles import ROLES


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("email")
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="lire le mot de passe sur l’entrée standard (scripts) au lieu de le demander",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="si le compte existe : lui donner ce mot de passe et ce rôle, et le réactiver",
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mot de passe : ")
    if getpass.getpass("Mot de passe (à nouveau) : ") != first:
        raise SystemExit("Les deux mots de passe diffèrent.")
    return first


async def create_organiser(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_password(args.password_stdin)
    async with migrated_connection(settings) as conn:
        try:
            saved, organiser_id = await accounts.create_organiser(
                conn, audit.CLI_ACTOR, args.email, args.role, password, replace=args.reset
            )
        except accounts.AccountError as exc:
            raise SystemExit(f"campaign create-organiser : {exc}") from None
    what = "créé" if saved is accounts.Saved.CREATED else "réinitialisé"
    print(
        f"Compte {what} : {accounts.normalise_email(args.email)} ({args.role}), n° {organiser_id}."
    )


COMMANDS = (
    Command(
        "create-organiser",
        "créer un compte d’organisateur (ou le réinitialiser)",
        create_organiser,
        _arguments,
    ),
)
