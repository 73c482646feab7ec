"""Dates as French readers write them: « 8 juillet 2027 à 9 h »."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def long_date(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{day} {_MONTHS[local.month - 1]} {local.year}"


def long_datetime(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    minutes = f"{local.minute:02d}" if local.minute else ""
    return f"{long_date(local)} à {local.hour} h {minutes}".rstrip()


def days_until(moment: datetime, now: datetime) -> int:
    """Whole calendar days in Paris between now and the moment (0 on the day itself)."""
    return max(0, (moment.astimezone(PARIS).date() - now.astimezone(PARIS).date()).days)
