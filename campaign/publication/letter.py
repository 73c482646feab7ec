"""The published letter: its signatories grouped by région and département, and its downloads,
built once per change and kept in memory by each process.

At the launch instant (campaign/launch.py) the letter page shows the list and links to the
downloads. A crowd arrives at that moment, so nothing here is rebuilt per request:

- **the list** is read again only when the campaign's counts moved (at most once a second) or
  every half minute (a name corrected, a signatory featured), like the newest signatories
  (campaign/public.py); its HTML is rendered once per content (a digest of the rows);
- **the PDF** (the letter and every listed name) is built in a thread, once per (letter version,
  total, list digest), and at most once every `pdf_interval` seconds: meanwhile readers get the
  last one built, so a stream of signatures on launch day does not keep a core busy;
- **the CSV, JSON, SVG and PNG** come from the counts in memory, keyed by their ETags (the PNG is
  rasterised in a thread).

One builder per file and campaign at a time: the others wait for its result.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

import asyncpg
import jinja2
import msgspec
from markupsafe import Markup

from campaign.core import frenchnumbers
from campaign.core.bodies import etag_of, gzipped
from campaign.core.clock import Clock
from campaign.core.db import DB_ERRORS, Q, convert_all
from campaign.core.frenchdates import long_date
from campaign.counts.cache import CountsBody, CountsCache
from campaign.counts.refresh import UNREAD, Refresh, Version
from campaign.letter.campaigns import Campaign
from campaign.publication import files
from campaign.publication.listing import ListedSignatory, Listing, RegionGroup, group
from campaign.register import levels
from campaign.territories.index import TerritoryIndex
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.territories.map import render_map

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
OPEN_ALL_UNDER = 60
"""A list this short shows every région open; a longer one shows them folded (<details>)."""


@dataclass(frozen=True)
class Artifact:
    body: bytes
    etag: str
    key: object = None
    built_at: float = 0.0
    compressed: bytes | None = None
    """The gzip of `body`, for the formats that gain from it (CSV, JSON, SVG)."""


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=False
)
_env.globals.update(frenchnumbers.TEMPLATE_GLOBALS)
_env.globals.update(levels.TEMPLATE_GLOBALS)


def render_listing(groups: list[RegionGroup], count: int) -> Markup:
    """The list's HTML, every value escaped by Jinja (autoescape)."""
    template = _env.get_template("_published_list.html")
    html = template.render(
        groups=groups, count=count, mandate_labels=MANDATE_LABELS, open_all=count <= OPEN_ALL_UNDER
    )
    return Markup(html)  # noqa: S704 (rendered with autoescape)


@dataclass
class _State:
    listing: Listing | None = None
    listing_version: Version = UNREAD
    listing_at: float = 0.0
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


@dataclass(eq=False)
class Publication:
    """One process's published lists and files, per campaign."""

    pool: asyncpg.Pool
    counts: CountsCache
    index: TerritoryIndex
    clock: Clock
    _: KW_ONLY
    refresh: Refresh = field(default_factory=Refresh)
    pdf_interval: float = 30.0

    def __post_init__(self) -> None:
        self._states: dict[int, _State] = {}
        self.builds: dict[str, int] = {}
        """How many times each file was built (to watch the cache work)."""

    def _state(self, campaign_id: int) -> _State:
        return self._states.setdefault(campaign_id, _State())

    def _lock(self, state: _State, name: str) -> asyncio.Lock:
        return state.locks.setdefault(name, asyncio.Lock())

    def _fresh(self, state: _State, campaign_id: int) -> bool:
        age = time.monotonic() - state.listing_at
        version = self.counts.version(campaign_id)
        return state.listing is not None and self.refresh.fresh(state.listing_version, age, version)

    def listing_version(self, campaign_id: int) -> Version:
        """The counts' version the kept list was read at (UNREAD: never, or the database was
        away)."""
        return self._state(campaign_id).listing_version

    async def listing(self, campaign: Campaign) -> Listing:
        """The listed signatories, grouped, with their HTML."""
        state = self._state(campaign.id)
        if self._fresh(state, campaign.id):
            assert state.listing is not None
            return state.listing
        async with self._lock(state, "listing"):
            if self._fresh(state, campaign.id):
                assert state.listing is not None
                return state.listing
            version = self.counts.version(campaign.id)
            try:
                async with self.pool.acquire() as conn:
                    records = await conn.fetch(Q["published_signatories"], campaign.id)
            except DB_ERRORS as exc:
                if state.listing is None:
                    raise
                # The last list read, while the database is away; tried again a second later.
                log.warning("published list not refreshed: %s", type(exc).__name__)
                state.listing_version, state.listing_at = UNREAD, time.monotonic()
                return state.listing
            rows = convert_all(records, ListedSignatory)
            digest = hashlib.blake2b(
                msgspec.msgpack.encode([msgspec.structs.astuple(r) for r in rows]),
                digest_size=12,
            ).hexdigest()
            if state.listing is None or state.listing.digest != digest:
                groups = group(rows, self.index)
                html = await asyncio.to_thread(render_listing, groups, len(rows))
                state.listing = Listing(groups, len(rows), digest, html)
                self._count("listing")
            state.listing_version = version
            state.listing_at = time.monotonic()
            return state.listing

    def _count(self, name: str) -> None:
        self.builds[name] = self.builds.get(name, 0) + 1

    async def _artifact(
        self,
        campaign: Campaign,
        name: str,
        key: object,
        build: Callable[[], Awaitable[bytes]],
        *,
        interval: float = 0.0,
        gzip: bool = False,
    ) -> Artifact:
        state = self._state(campaign.id)
        current = state.artifacts.get(name)
        if current is not None and (
            current.key == key or time.monotonic() - current.built_at < interval
        ):
            return current
        async with self._lock(state, name):
            current = state.artifacts.get(name)
            if current is not None and (
                current.key == key or time.monotonic() - current.built_at < interval
            ):
                return current
            started = time.perf_counter()
            body = await build()
            compressed = gzipped(body) if gzip else None
            artifact = Artifact(body, etag_of(body), key, time.monotonic(), compressed)
            state.artifacts[name] = artifact
            self._count(name)
            log.info(
                "publication %s of campaign %s built: %d bytes in %.2f s",
                name,
                campaign.id,
                len(body),
                time.perf_counter() - started,
            )
            return artifact

    async def pdf(self, campaign: Campaign) -> Artifact:
        listing = await self.listing(campaign)
        total = self.counts.campaign(campaign.id).total
        key = (campaign.current_version, campaign.title, total, listing.digest)

        async def build() -> bytes:
            return await asyncio.to_thread(
                files.letter_pdf,
                title=campaign.title,
                addressees=campaign.addressees,
                letter_html=campaign.body_html,
                published_on=long_date(campaign.launch_at),
                total=total,
                listing=listing,
            )

        return await self._artifact(campaign, "pdf", key, build, interval=self.pdf_interval)

    async def fragment(self, campaign: Campaign, context: dict[str, object]) -> Artifact:
        """What live.js fetches at the launch instant (every open page at once): the published
        parts rendered once per content, and gzipped once (the list weighs about 100 bytes a
        name, a tenth of that gzipped)."""
        listing = await self.listing(campaign)
        context = {**context, "campaign": campaign, "published_list": listing.html}
        key = (listing.digest, *sorted((k, str(v)) for k, v in context.items() if k != "campaign"))

        async def build() -> bytes:
            template = _env.get_template("_published_fragment.html")
            return template.render(context).encode()

        return await self._artifact(campaign, "fragment", key, build, gzip=True)

    def _levels(self, campaign_id: int) -> tuple[dict[str, CountsBody], tuple[str, ...]]:
        bodies = {lvl: self.counts.body(campaign_id, lvl) for lvl in files.LEVEL_NAMES}
        levels = {lvl: msgspec.json.decode(b, type=CountsBody) for lvl, (b, _) in bodies.items()}
        return levels, tuple(etag for _, etag in bodies.values())

    async def counts_csv(self, campaign: Campaign) -> Artifact:
        _, key = self._levels(campaign.id)

        async def build() -> bytes:
            return files.counts_csv(self._levels(campaign.id)[0])

        return await self._artifact(campaign, "csv", key, build, gzip=True)

    async def counts_json(self, campaign: Campaign) -> Artifact:
        _, key = self._levels(campaign.id)

        async def build() -> bytes:
            levels = self._levels(campaign.id)[0]
            now = self.clock.now()
            return files.counts_json(campaign.slug, campaign.title, campaign.launch_at, now, levels)

        return await self._artifact(campaign, "json", key, build, gzip=True)

    def _map(self, campaign: Campaign) -> str:
        labels = {t.code: t.name for t in self.index.all("departement")}
        total = self.counts.campaign(campaign.id).total
        noun = "signataire" if total < 2 else "signataires"
        return str(
            render_map(
                "departement",
                self.counts.map_values(campaign.id, "departement", "signatures"),
                labels,
                title=f"{campaign.title} : {total} {noun} par département",
                legend_title="Signatures confirmées",
                unit=("signature", "signatures"),
            )
        )

    async def map_svg(self, campaign: Campaign) -> Artifact:
        key = (campaign.title, self.counts.body(campaign.id, "departement")[1])

        async def build() -> bytes:
            return files.map_svg(self._map(campaign))

        return await self._artifact(campaign, "svg", key, build, gzip=True)

    async def map_png(self, campaign: Campaign) -> Artifact:
        key = (campaign.title, self.counts.body(campaign.id, "departement")[1])

        async def build() -> bytes:
            return await asyncio.to_thread(files.map_png, self._map(campaign))

        return await self._artifact(campaign, "png", key, build)
