"""Dates as French readers write them: « 8 juillet 2027 à 9 h »."""

from __future__ import annotations

from datetime import date, datetime
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


# -- dates typed by organisers (filters, settings) -------------------------------------------

EARLIEST = datetime(2000, 1, 1, tzinfo=PARIS)
LATEST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=PARIS)
BOUNDS_TEXT = "entre 2000 et 2100"


def parse_day(text: str) -> date:
    """A day written `AAAA-MM-JJ` between 2000 and 2100; ValueError otherwise (a year 1 or 9999
    overflows once turned into a moment in Paris or given to PostgreSQL)."""
    day = date.fromisoformat(text.strip())
    if not EARLIEST.date() <= day <= LATEST.date():
        raise ValueError("out of bounds")
    return day


def parse_moment(text: str) -> datetime:
    """A date and time (ISO), in Paris unless it says its offset, between 2000 and 2100;
    ValueError otherwise."""
    moment = datetime.fromisoformat(text.strip())
    if (
        not EARLIEST.replace(tzinfo=None)
        <= moment.replace(tzinfo=None)
        <= LATEST.replace(tzinfo=None)
    ):
        raise ValueError("out of bounds")
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)
