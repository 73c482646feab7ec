"""The launch instant and the closing date: when the letter is published, when signing stops.

Both are decided on each request from the runtime's clock (`campaign/clock.py`), in every process,
with no restart and no manual step: from `launch_at` the letter page shows its published state
(campaign/publication.py), and from `closing_at` (a setting of the back office) the form gives
way to a polite French message and the API answers 409. The back office's status « Close »
closes signing too, whatever the dates.
"""

from __future__ import annotations

from datetime import datetime

from campaign.core.frenchdates import long_datetime
from campaign.letter.campaigns import Campaign

THANKS = "Merci à toutes celles et ceux qui l’ont signée."


def published(campaign: Campaign, now: datetime) -> bool:
    """The letter is published: its launch instant has come (a draft is never published)."""
    return campaign.status != "draft" and now >= campaign.launch_at


def seconds_until_launch(campaign: Campaign, now: datetime) -> float:
    return max(0.0, (campaign.launch_at - now).total_seconds())


def closed_message(campaign: Campaign, now: datetime) -> str | None:
    """Why signing is closed, in French for the page and the API; None while it is open."""
    if campaign.status == "closed":
        return f"La signature de cette lettre est close. {THANKS}"
    if campaign.status != "open":
        return "La signature de cette lettre n’est pas ouverte."
    if campaign.closing_at is not None and now >= campaign.closing_at:
        when = long_datetime(campaign.closing_at)
        return f"La signature de cette lettre est close depuis le {when}. {THANKS}"
    return None


def closing_notice(campaign: Campaign, now: datetime) -> str | None:
    """While signing is open and a closing date is set: until when (shown above the form)."""
    if campaign.closing_at is None or closed_message(campaign, now) is not None:
        return None
    return f"Signatures ouvertes jusqu’au {long_datetime(campaign.closing_at)}."
