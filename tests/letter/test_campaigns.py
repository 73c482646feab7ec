"""Campaign files: front matter + Markdown, stored with a version per letter text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from campaign.core.settings import PROJECT_ROOT
from campaign.letter.campaigns import (
    CampaignFileError,
    list_campaigns,
    parse_campaign_file,
    save_campaign,
)


def test_the_demo_campaign_file() -> None:
    d = parse_campaign_file(PROJECT_ROOT / "campaigns" / "jouer-collectif.md")
    assert d.slug == "jouer-collectif"
    assert d.title == "Jouer collectif"
    assert d.launch_at == datetime(2027, 7, 8, 7, 0, tzinfo=UTC)  # 9:00 in Paris, summer time
    assert d.goal > 0
    for fact in ("76", "46", "81", "84", "21", "PHARE", "Accélérer les alliances"):
        assert fact in d.body, fact


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slug: x\n", "commencer par"),
        ("---\nslug: x\n", "pas fermé"),
        ("---\nslug x\n---\nTexte", "ligne 2"),
        ("---\nslug: x\ntitle: T\n---\nTexte", "launch_at"),
        ("---\nslug: x\ntitle: T\nlaunch_at: demain\n---\nTexte", "launch_at"),
    ],
)
def test_malformed_files_are_refused_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(CampaignFileError, match=message):
        parse_campaign_file(write(tmp_path, text))


async def test_a_changed_text_becomes_a_new_version(tmp_path: Path, db: asyncpg.Connection) -> None:
    slug = f"essai-{uuid.uuid4().hex[:8]}"
    head = f"---\nslug: {slug}\ntitle: Essai\nlaunch_at: 2027-07-08T09:00:00+02:00\ngoal: 5\n---\n"
    first = parse_campaign_file(write(tmp_path, head + "Premier texte."))
    campaign_id = await save_campaign(db, first)
    assert await save_campaign(db, first) == campaign_id  # unchanged: same version
    second = parse_campaign_file(
        write(tmp_path, head.replace("goal: 5", "goal: 9") + "Texte revu.")
    )
    await save_campaign(db, second)
    versions = await db.fetch(
        "SELECT version, body FROM letter_versions WHERE campaign_id = $1 ORDER BY version",
        campaign_id,
    )
    assert [(v["version"], v["body"].strip()) for v in versions] == [
        (1, "Premier texte."),
        (2, "Texte revu."),
    ]
    [stored] = [c for c in await list_campaigns(db) if c.slug == slug]
    assert stored.current_version == 2
    assert stored.goal == 9
    assert "<p>Texte revu.</p>" in stored.body_html


async def test_raw_html_in_a_letter_is_not_rendered(tmp_path: Path, db: asyncpg.Connection) -> None:
    slug = f"essai-{uuid.uuid4().hex[:8]}"
    text = (
        f"---\nslug: {slug}\ntitle: E\nlaunch_at: 2027-07-08T09:00:00+02:00\n---\n"
        "<script>x()</script>\n"
    )
    await save_campaign(db, parse_campaign_file(write(tmp_path, text)))
    [stored] = [c for c in await list_campaigns(db) if c.slug == slug]
    assert "<script>" not in stored.body_html
    assert "&lt;script&gt;" in stored.body_html
