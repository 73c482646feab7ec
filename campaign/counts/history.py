"""Hourly history of the counts (total and per région), kept in PostgreSQL and published.

**Kept.** Every `serve` process runs a `HistoryRecorder`: once per hour (of its clock, in UTC) it
runs one statement that writes, for every campaign, the total, the verified total and the count
of each région with signatures, read from the per-territory counters (`territory_counts`, a few
thousand rows: no signature is counted). The first process to get to an hour writes it; for the
others the hour exists (`INSERT … ON CONFLICT DO NOTHING` on the hour, the régions written in the
same statement only for the hours it inserted), so any number of processes is safe and a snapshot
is never half one process's and half another's. An hour when no process ran has no row; the row
of an hour records when it was taken (`taken_at`: the first minute of the hour, unless the
service started later in it).

**Published.** `GET /api/v1/campaigns/{slug}/history.json` and `history.csv` (see `history_json`,
`history_csv`), and a small SVG chart on the home page (`chart`). Each process keeps the history
in memory for a minute (`HistoryCache`), so the page and the files cost no query per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import random
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from markupsafe import Markup, escape

from campaign.core.bodies import etag_of, gzipped
from campaign.core.clock import Clock, loop_time
from campaign.core.db import DB_ERRORS, Q
from campaign.core.frenchdates import PARIS
from campaign.core.frenchnumbers import count_of, number
from campaign.letter.campaigns import Campaign
from campaign.territories.index import TerritoryIndex

log = logging.getLogger(__name__)

_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin",
           "juil.", "août", "sept.", "oct.", "nov.", "déc.")  # fmt: skip


def hour_of(moment: datetime) -> datetime:
    """The start of the hour (UTC) that `moment` is in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def record_hour(conn: asyncpg.Connection, hour: datetime) -> int:
    """Write the counts of every campaign for `hour` unless that hour is already written;
    returns the number of campaigns written (0 when another process was first)."""
    row = await conn.fetchrow(Q["record_history_hour"], hour_of(hour))
    assert row is not None
    return int(row["campaigns"])


@dataclass(eq=False)
class HistoryRecorder:
    """The periodic task: tries each new hour once, soon after it starts (a few seconds of
    random delay spread the processes), and again a minute later if the database was away."""

    pool: asyncpg.Pool
    clock: Clock
    _: KW_ONLY
    check_every: float = 60.0
    jitter: float = 10.0
    last_hour: datetime | None = field(default=None, init=False)

    async def record_now(self) -> int:
        hour = hour_of(self.clock.now())
        async with self.pool.acquire(timeout=5) as conn:
            written = await record_hour(conn, hour)
        self.last_hour = hour
        if written:
            log.info("history: hour %s recorded for %d campaign(s)", hour.isoformat(), written)
        return written

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = self.clock.now()
            if hour_of(now) != self.last_hour:
                try:
                    await self.record_now()
                except DB_ERRORS as exc:
                    log.warning("history: hour not recorded yet: %s", type(exc).__name__)
            next_hour = hour_of(now) + timedelta(hours=1)
            jitter = random.uniform(0, self.jitter)  # noqa: S311 - spreads processes, no secret
            wait = (next_hour - now).total_seconds() + jitter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(self.check_every, wait))


# -- reading and publishing -------------------------------------------------------------------


class HistoryPoint(msgspec.Struct, frozen=True, kw_only=True):
    """The counts at one hour."""

    hour: datetime
    """Start of the hour (UTC)."""
    taken_at: datetime
    """When the counts were read."""
    total: int
    verified: int
    """Proven officials (before issue 14's migration: matching the register)."""
    register_match: int = 0
    """Confirmed signatures whose mandate is found in the register (recorded since then)."""
    regions: dict[str, int]
    """Confirmed signatures per région code; a région without signatures is absent (zero)."""


class HistoryBody(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/v1/campaigns/{slug}/history.json`."""

    campaign: str
    regions: dict[str, str]
    """Région codes and names, in code order."""
    hours: list[HistoryPoint]


_encoder = msgspec.json.Encoder()


class History:
    """One campaign's history as read at one time, and its published forms (built once)."""

    def __init__(self, campaign: Campaign, index: TerritoryIndex, points: list[HistoryPoint]):
        self.campaign = campaign
        self.points = points
        self.regions = {t.code: t.name for t in index.all("region")}
        self._forms: dict[str, tuple[bytes, str, bytes]] = {}

    def _form(self, kind: str, build: Callable[[], bytes]) -> tuple[bytes, str, bytes]:
        form = self._forms.get(kind)
        if form is None:
            body = build()
            form = self._forms[kind] = (body, etag_of(body), gzipped(body))
        return form

    def json(self) -> tuple[bytes, str, bytes]:
        """The JSON body, its ETag and its gzip. The register matches last."""
        return self._form(
            "json",
            lambda: _encoder.encode(
                HistoryBody(campaign=self.campaign.slug, regions=self.regions, hours=self.points)
            ),
        )

    def csv(self) -> tuple[bytes, str, bytes]:
        """The CSV body (UTF-8, comma, one line per hour, one column per région), its ETag and
        its gzip."""
        return self._form("csv", self._csv)

    def _csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        codes = list(self.regions)
        # Issue 14: the register matches come last, so that the columns consumers already
        # read keep their place (the régions' columns are as many as the régions).
        writer.writerow(
            [
                "heure",
                "releve",
                "total",
                "verifiees",
                *(self.regions[c] for c in codes),
                "mandat_trouve_au_rne",
            ]
        )
        for p in self.points:
            writer.writerow(
                [
                    p.hour.astimezone(PARIS).isoformat(),
                    p.taken_at.astimezone(PARIS).isoformat(timespec="seconds"),
                    p.total,
                    p.verified,
                    *(p.regions.get(c, 0) for c in codes),
                    p.register_match,
                ]
            )
        return out.getvalue().encode()


async def read_history(
    conn: asyncpg.Connection, campaign: Campaign, index: TerritoryIndex
) -> History:
    hours = await conn.fetch(Q["history_hours"], campaign.id)
    regions: dict[datetime, dict[str, int]] = {}
    for row in await conn.fetch(Q["history_regions"], campaign.id):
        regions.setdefault(row["hour"], {})[row["region"]] = row["confirmed"]
    points = [
        HistoryPoint(
            hour=row["hour"].astimezone(UTC),
            taken_at=row["taken_at"].astimezone(UTC),
            total=row["total"],
            verified=row["verified"],
            register_match=row["register_match"],
            regions=regions.get(row["hour"], {}),
        )
        for row in hours
    ]
    return History(campaign, index, points)


@dataclass(eq=False)
class HistoryCache:
    """Each campaign's history as this process last read it (at most a minute old)."""

    pool: asyncpg.Pool
    index: TerritoryIndex
    _: KW_ONLY
    max_age: float = 60.0
    monotonic: Callable[[], float] = loop_time

    def __post_init__(self) -> None:
        self._entries: dict[int, tuple[float, History]] = {}
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        self._entries.clear()

    def kept(self, campaign_id: int) -> History | None:
        """The history in memory (None: to be read), as it stands: a page that charts it is
        built again when it changes."""
        entry = self._entries.get(campaign_id)
        return None if entry is None else entry[1]

    async def get(self, campaign: Campaign) -> History:
        """Raises the database's error when there is no history in memory to fall back on."""
        entry = self._entries.get(campaign.id)
        if entry and self.monotonic() - entry[0] < self.max_age:
            return entry[1]
        async with self._lock:
            entry = self._entries.get(campaign.id)
            if entry and self.monotonic() - entry[0] < self.max_age:
                return entry[1]
            try:
                async with self.pool.acquire(timeout=2) as conn:
                    history = await read_history(conn, campaign, self.index)
            except DB_ERRORS as exc:
                if entry is None:
                    raise
                log.warning("history not refreshed: %s", type(exc).__name__)
                self._entries[campaign.id] = (self.monotonic(), entry[1])
                return entry[1]
            self._entries[campaign.id] = (self.monotonic(), history)
            return history


# -- the chart --------------------------------------------------------------------------------


def _short(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{local.day} {_MONTHS[local.month - 1]}"


def _short_hour(moment: datetime) -> str:
    return f"{_short(moment)} {moment.astimezone(PARIS).hour}\u00a0h"


def _nice_max(value: int) -> int:
    step = 1
    while True:
        for m in (1, 2, 5):
            if value <= m * step:
                return m * step
        step *= 10


_thousands = number


def chart(
    points: list[HistoryPoint],
    *,
    width: int = 640,
    height: int = 200,
    max_points: int = 240,
    element_id: str = "historique",
) -> Markup:
    """The total over time as a small SVG area chart (one point per recorded hour, thinned to
    `max_points`), with its title and a description that says the same in words."""
    title = "Évolution du nombre de signatures (relevés horaires)"
    if len(points) < 2:
        start = (
            f"Premier relevé le {_short_hour(points[0].hour)} : {_thousands(points[0].total)}."
            if points
            else "Aucun relevé pour l’instant."
        )
        return Markup('<p class="historique-vide">{} {}</p>').format(
            "L’historique se construit heure par heure.", start
        )
    if len(points) > max_points:
        step = -(-len(points) // max_points)
        points = [*points[:-1:step], points[-1]]
    left, right, top, bottom = 48, 10, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = points[0].hour.timestamp(), points[-1].hour.timestamp()
    peak = _nice_max(max(p.total for p in points) or 1)

    def x(p: HistoryPoint) -> float:
        return left + plot_w * (p.hour.timestamp() - t0) / ((t1 - t0) or 1)

    def y(value: int) -> float:
        return top + plot_h * (1 - value / peak)

    line = " ".join(f"{x(p):.1f},{y(p.total):.1f}" for p in points)
    area = f"{left},{top + plot_h} {line} {x(points[-1]):.1f},{top + plot_h}"
    first, last = points[0], points[-1]
    when = _short if t1 - t0 >= 2 * 86400 else _short_hour
    desc = (
        f"De {count_of(first.total, 'signature')} le "
        f"{when(first.hour)} à {_thousands(last.total)} le {when(last.hour)}."
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="historique" role="img" aria-labelledby="{element_id}-titre {element_id}-desc">',
        f'<title id="{element_id}-titre">{escape(title)}</title>',
        f'<desc id="{element_id}-desc">{escape(desc)}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        gy = top + plot_h * (1 - fraction)
        out.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" '
            'stroke="#d9d9d9" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#595959">{escape(_thousands(round(peak * fraction)))}</text>'
        )
    out += [
        f'<polygon points="{area}" fill="#c7e9b4" fill-opacity="0.6"/>',
        f'<polyline points="{line}" fill="none" stroke="#225ea8" stroke-width="2" '
        'stroke-linejoin="round"/>',
        f'<text x="{left}" y="{height - 6}" font-size="12" fill="#595959">'
        f"{escape(when(first.hour))}</text>",
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" font-size="12" '
        f'fill="#595959">{escape(when(last.hour))}</text>',
        "</svg>",
    ]
    return Markup("".join(out))  # noqa: S704 - every text above went through escape
