"""What a signer reads on confirming is true: a suspect signature is not said to be counted nor
listed (and is never told why), a name under embargo appears at the launch (said in French), a
signer who refused the list is counted without a name; the thank-you page does not push people
into submitting again and again."""

from __future__ import annotations

import asyncio
import html
import re

import asyncpg
import httpx

from tests.support.admin import csrf_of
from tests.support.signing import pending_signature

LAUNCH = "8 juillet 2027 à 9 h"  # pending_signature's campaign: 2027-07-08 07:00 UTC


def text_of(page: str) -> str:
    body = re.sub(r"<[^>]+>", " ", page.split("<main", 1)[-1])
    return " ".join(html.unescape(body).split())


async def confirm(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    *,
    suspect: bool = False,
    public: bool = True,
    embargo: bool = False,
) -> str:
    """Confirm a new pending signature over HTTP as its signer does; the result page's text."""
    token, campaign_id, _code = await pending_signature(db, suspect=suspect)
    await db.execute(
        "UPDATE signatures SET public = $2 WHERE campaign_id = $1", campaign_id, public
    )
    slug = await db.fetchval(
        "UPDATE campaigns SET embargo = $2 WHERE id = $1 RETURNING slug", campaign_id, embargo
    )
    for _ in range(100):  # the app reads campaigns again on their NOTIFY
        info = await client.get(f"/api/v1/campaigns/{slug}")
        if info.status_code == 200 and info.json()["names_hidden"] == embargo:
            break
        await asyncio.sleep(0.05)
    page = await client.get(f"/confirmer/{token}")
    assert page.status_code == 200
    done = await client.post(f"/confirmer/{token}", data={"_csrf_token": csrf_of(page.text)})
    assert done.status_code == 200
    assert "Merci, votre signature est confirmée" in done.text
    again = await client.get(f"/confirmer/{token}")  # the link opened again later
    assert "Votre signature est déjà confirmée" in again.text
    return text_of(done.text) + " || " + text_of(again.text)


async def test_a_normal_signature_is_counted_and_listed(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    text = await confirm(client, db)
    assert "Elle compte désormais dans les signatures de" in text
    assert "Votre nom apparaît dans la liste des signataires" in text
    assert "elle est bien comptée" in text
    assert "vérification" not in text


async def test_a_suspect_signature_is_not_told_it_counts(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    text = await confirm(client, db, suspect=True)
    assert "Elle sera comptée après vérification par l’équipe." in text
    assert "une fois la vérification faite" in text
    for false in ("compte désormais", "apparaît dans la liste", "bien comptée"):
        assert false not in text
    for flag in ("suspect", "trop vite", "robot"):  # never why
        assert flag not in text.lower()


async def test_under_embargo_the_name_appears_at_the_launch(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    text = await confirm(client, db, embargo=True)
    assert f"Votre nom apparaîtra dans la liste publique le {LAUNCH}." in text
    assert "apparaît dans la liste" not in text

    suspect = await confirm(client, db, embargo=True, suspect=True)
    assert f"à partir du {LAUNCH}, une fois la vérification faite" in suspect
    assert "compte désormais" not in suspect


async def test_a_signer_who_refused_the_list_is_counted_without_a_name(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    for embargo in (False, True):
        text = await confirm(client, db, public=False, embargo=embargo)
        assert "Elle compte désormais" in text
        assert "votre nom ne sera pas publié : votre signature est comptée sans votre nom" in text
        assert "apparaît" not in text and "apparaîtra" not in text

    suspect = await confirm(client, db, public=False, suspect=True)
    assert "votre nom ne sera pas publié." in suspect
    assert "comptée sans votre nom" not in suspect


async def test_the_thank_you_page_asks_to_wait_before_signing_again(
    server: str, client: httpx.AsyncClient
) -> None:
    text = text_of((await client.get("/merci")).text)
    assert "quelques minutes" in text and "indésirables" in text
    assert "signez une seconde fois" in text
    assert "signez à nouveau" not in text


async def test_figures_agree_with_their_nouns(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    from campaign.core.frenchnumbers import plural

    for page in ("/", "/widget"):
        text = (await client.get(page)).text
        found = re.search(
            r'id="total"[^>]*>([^<]+)</strong>\s*<span data-noun="[^"]+">([^<]+)<', text
        )
        assert found, page
        total = int(re.sub(r"\D", "", found.group(1)))
        assert found.group(2) == plural(total, "élu signataire"), page
    # The territory pages write the share of maires next to its raw numbers (checked with a
    # register in tests/core/test_frenchnumbers.py): never « 0 % » for a share above zero.
    territory = await client.get("/territoires/departement/69")
    assert territory.status_code == 200
    assert "0\u00a0% (" not in territory.text
