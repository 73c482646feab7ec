"""Campaigns: defined in a Markdown file with front matter, stored with a version per letter text,
kept in memory by every process (reloaded when PostgreSQL says they changed)."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime
from importlib.resources.abc import Traversable

import asyncpg
import msgspec
from markdown_it import MarkdownIt

from campaign.core import resources
from campaign.core.db import Q, convert_all

log = logging.getLogger(__name__)

# Letters are written by organisers, but raw HTML is still refused: the page has no inline script.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": True})


def render_letter(text: str) -> str:
    """A letter's Markdown in HTML (no raw HTML let through)."""
    html: str = _markdown.render(text)
    return html


class CampaignFileError(ValueError):
    pass


class CampaignDefinition(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    addressees: str = ""
    summary: str = ""
    launch_at: datetime
    goal: int = 0
    body: str


# What anyone may know of a campaign (the JSON API shows these fields as they are).
class PublicCampaign(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    addressees: str
    summary: str
    launch_at: datetime
    goal: int
    status: str


class Campaign(PublicCampaign, frozen=True, kw_only=True, dict=True):
    id: int
    embargo: bool
    current_version: int
    body: str
    closing_at: datetime | None = None
    """When signing closes by itself (campaign/launch.py); None: open until the status says."""

    @functools.cached_property
    def body_html(self) -> str:
        """The letter in HTML, rendered once per campaign as this process read it."""
        return render_letter(self.body)


def parse_campaign_file(path: Traversable) -> CampaignDefinition:
    """`---` front matter of `key: value` lines, then the letter in Markdown."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise CampaignFileError(f"{path}: le fichier doit commencer par « --- »")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise CampaignFileError(f"{path}: l’en-tête n’est pas fermé par « --- »") from None
    fields: dict[str, object] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise CampaignFileError(f"{path}, ligne {number}: « clé: valeur » attendu")
        fields[key.strip()] = value.strip()
    fields["body"] = "\n".join(lines[end + 1 :]).strip() + "\n"
    try:
        return msgspec.convert(fields, CampaignDefinition, strict=False)
    except msgspec.ValidationError as exc:
        raise CampaignFileError(f"{path}: {exc}") from None


async def save_campaign(conn: asyncpg.Connection, definition: CampaignDefinition) -> int:
    """Create the campaign, or update it; a changed letter text becomes a new version."""
    if definition.launch_at.tzinfo is None:
        raise CampaignFileError("launch_at doit indiquer un fuseau horaire (ex. +02:00)")
    d = definition
    async with conn.transaction():
        campaign_id = await conn.fetchval(Q["campaign_id_by_slug"], d.slug)
        if campaign_id is None:
            campaign_id = await conn.fetchval(
                Q["insert_campaign"], d.slug, d.title, d.addressees, d.summary, d.launch_at, d.goal
            )
        else:
            await conn.execute(
                Q["update_campaign_fields"],
                campaign_id,
                d.title,
                d.addressees,
                d.summary,
                d.launch_at,
                d.goal,
            )
        latest = await conn.fetchrow(Q["latest_letter"], campaign_id)
        if latest is None or latest["body"] != d.body:
            version = 1 if latest is None else latest["version"] + 1
            await conn.execute(Q["insert_letter_version"], campaign_id, version, d.body)
            await conn.execute(Q["set_current_version"], campaign_id, version)
    return int(campaign_id)


def read_campaign_files(directory: Traversable) -> list[CampaignDefinition]:
    return [parse_campaign_file(path) for path in resources.by_name(directory, ".md")]


async def seed_campaigns(conn: asyncpg.Connection, directory: Traversable) -> list[str]:
    """Create the campaigns of `directory` that the database does not have yet (first start).

    An existing campaign is left alone: once created, the database is the truth (organisers
    edit it).
    """
    created = []
    for definition in await asyncio.to_thread(read_campaign_files, directory):
        if await conn.fetchval(Q["campaign_id_by_slug"], definition.slug) is None:
            await save_campaign(conn, definition)
            created.append(definition.slug)
    return created


async def list_campaigns(conn: asyncpg.Connection) -> list[Campaign]:
    return convert_all(await conn.fetch(Q["list_campaigns"]), Campaign)


DEFAULT_SLUG = "jouer-collectif"
"""The campaign the site shows when a page names none (the demo campaign's slug)."""


class CampaignRegistry:
    """The campaigns as this process knows them; replaced whole on reload."""

    def __init__(self, campaigns: list[Campaign] | None = None) -> None:
        self._by_slug: dict[str, Campaign] = {}
        self.replace(campaigns or [])

    def replace(self, campaigns: list[Campaign]) -> None:
        self._by_slug = {c.slug: c for c in campaigns}

    async def reload(self, conn: asyncpg.Connection) -> None:
        self.replace(await list_campaigns(conn))

    def get(self, slug: str) -> Campaign | None:
        return self._by_slug.get(slug)

    def by_id(self, campaign_id: int) -> Campaign | None:
        return next((c for c in self._by_slug.values() if c.id == campaign_id), None)

    def all(self) -> list[Campaign]:
        return list(self._by_slug.values())

    def current(self, campaign_id: int | None = None) -> Campaign | None:
        """The campaign `campaign_id` names; else the one the site shows (DEFAULT_SLUG, or the
        only one there is); None before any campaign exists."""
        found = self.by_id(campaign_id) if campaign_id is not None else None
        return found or self.get(DEFAULT_SLUG) or next(iter(self._by_slug.values()), None)
