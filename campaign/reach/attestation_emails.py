"""What the attestation email to a town hall says (template `attestation`): the commune, each
signer's name and mandate, the link to the page where the town hall answers, until when it works,
and how to receive no more of them (the suppression list). Registered with the mail worker by the
application (campaign/runtime.py: `email_contexts`)."""

from __future__ import annotations

from typing import Any

import asyncpg

from campaign.core import tokens
from campaign.core.db import Q
from campaign.core.frenchdates import long_date
from campaign.core.settings import Settings
from campaign.mail.contexts import EmailContexts, Undeliverable
from campaign.mail.message import unsubscribe_headers
from campaign.mail.outbox import ClaimedMail
from campaign.reach.attestation import TEMPLATE
from campaign.reach.emails import opt_out_url
from campaign.territories.index import territory_label
from campaign.territories.mandates import LABELS

GONE = "Demande d’attestation annulée ou renvoyée depuis"


def link(settings: Settings, salt: bytes) -> str:
    return f"{settings.base_url}/attestation/{tokens.derive(settings.secret_key, salt)}"


async def attestation(pool: asyncpg.Pool, settings: Settings, mail: ClaimedMail) -> dict[str, Any]:
    """The email of the attestation whose latest message `mail` is."""
    row = await pool.fetchrow(Q["attestation_for_mail"], mail.id)
    if row is None or row["status"] != "queued":
        raise Undeliverable(GONE, "attestation superseded or closed")
    signers = [
        {
            "name": f"{s['given_name']} {s['family_name']}",
            "mandate_label": LABELS.get(s["mandate"], s["mandate"]),
        }
        for s in await pool.fetch(Q["attestation_signers"], row["id"])
        if not s["erased"] and s["answer"] is None
    ]
    if not signers:
        raise Undeliverable(GONE, "no signer left to ask about")
    optout = opt_out_url(settings, mail.recipient)
    return {
        "campaign_title": row["campaign_title"],
        "commune_name": row["commune_name"],
        "commune_label": territory_label(
            "commune", row["commune"], row["commune_name"], row["commune_departement"]
        ),
        "signers": signers,
        "attestation_url": link(settings, row["salt"]),
        "expires_on": long_date(row["expires_at"]),
        "optout_url": optout,
        "headers": unsubscribe_headers(optout),
    }


def register(contexts: EmailContexts) -> None:
    contexts.register(TEMPLATE, attestation)
