"""The whole path with the real register: `campaign load-officials` loads the vendored extract
offline (timed), then the real maire of a commune signs and confirms and the signature is marked
verified on the API and the public list, while an invented name is not; the counts give the
verified signatures, the officials of the register and the share of maires who signed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from campaign.core.frenchnumbers import percent
from campaign.register.officials import load_command
from tests.support.app import app_server, migrated_database, unique_email
from tests.support.mail import Mailbox
from tests.support.signing import confirm_link, csrf_token, read_events

SLUG = "jouer-collectif"
SAINT_ETIENNE = "42218"  # its maire in the register (RNE, March 2026): Régis Juanico


@pytest.fixture(scope="module")
async def loaded(pg_server: str) -> AsyncIterator[tuple[str, float]]:
    """A database with the whole register, loaded the way a newcomer does; the load's seconds."""
    dsn = await migrated_database(pg_server, "register_e2e")
    conn = await asyncpg.connect(dsn)
    seen: set[int] = set()
    done = asyncio.Event()

    async def watch() -> None:
        # Readers during the load see the old register or the new one, never a part of it.
        reader = await asyncpg.connect(dsn)
        try:
            while not done.is_set():
                seen.add(await reader.fetchval("SELECT count(*) FROM officials"))
                await asyncio.sleep(0.01)
        finally:
            await reader.close()

    try:
        await conn.execute(
            "INSERT INTO officials VALUES (1, 'maire', 'commune', '42218', 'ANCIEN', 'Maire',"
            " 'M', NULL, 'ancien', 'maire', 'test')"
        )
        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        summary = await load_command(dsn)
        seconds = time.monotonic() - started
        done.set()
        await watcher
        rows = await conn.fetchval("SELECT count(*) FROM officials")
        assert "Registre des élus chargé" in summary
        assert seen <= {1, rows}, seen
    finally:
        await conn.close()
    yield dsn, seconds


@pytest.fixture(scope="module")
async def site(loaded: tuple[str, float], mailbox: Mailbox) -> AsyncIterator[str]:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=loaded[0], SMTP_URL=smtp_url) as base:
        yield base


@pytest.fixture
async def web(site: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site, timeout=10) as client:
        yield client


async def test_the_whole_register_loads_offline_within_a_minute(
    loaded: tuple[str, float],
) -> None:
    dsn, seconds = loaded
    assert seconds < 60
    conn = await asyncpg.connect(dsn)
    try:
        counts = dict(
            await conn.fetch("SELECT mandate, count(*) FROM officials GROUP BY mandate")  # type: ignore[arg-type]
        )
    finally:
        await conn.close()
    assert sum(counts.values()) > 500_000
    assert counts["maire"] > 34_000
    assert counts["depute"] > 500 and counts["senateur"] > 300
    assert counts["conseiller_departemental"] > 3_000 and counts["conseiller_regional"] > 1_500
    assert {"adjoint", "president_intercommunalite", "president_departement"} <= set(counts)


async def sign_and_confirm(
    web: httpx.AsyncClient, mailbox: Mailbox, given: str, family: str, **more: Any
) -> None:
    address = unique_email("registre")
    body = {
        "given_name": given,
        "family_name": family,
        "email": address,
        "mandate": "maire",
        "territory_code": SAINT_ETIENNE,
        "public": True,
        **more,
    }
    response = await web.post(f"/api/v1/campaigns/{SLUG}/signatures", json=body)
    assert response.status_code == 202, response.text
    [message] = await mailbox.wait_for(address)
    link, _ = confirm_link(message)
    confirmed = await web.post(link, data={"_csrf_token": await csrf_token(web)})
    assert "votre signature est confirmée" in confirmed.text


async def listed(web: httpx.AsyncClient, family: str) -> dict[str, Any]:
    page = (
        await web.get(f"/api/v1/campaigns/{SLUG}/signatories", params={"q": family, "limit": 5})
    ).json()
    [item] = page["items"]
    return dict(item)


async def departement_42(web: httpx.AsyncClient) -> dict[str, Any]:
    body = (
        await web.get(f"/api/v1/campaigns/{SLUG}/counts", params={"level": "departement"})
    ).json()
    return next(dict(c) for c in body["counts"] if c["code"] == "42")


async def test_the_real_maire_is_verified_and_an_invented_name_is_not(
    web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    before = await departement_42(web)
    assert before["officials"] > 5_000 and before["maires"] > 300
    assert before["verified"] == before["maires_signed"] == 0 and before["coverage"] == 0

    events: list[dict[str, Any]] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(read_events(web, events, ready))
    await asyncio.wait_for(ready.wait(), 5)

    await sign_and_confirm(web, mailbox, "RÉGIS", "Juanico")
    await sign_and_confirm(web, mailbox, "Zorglub", "Imaginaire")

    for _ in range(100):  # the worker verifies after confirmation, outside the request
        if (await listed(web, "Juanico"))["verified"]:
            break
        await asyncio.sleep(0.05)
    assert (await listed(web, "Juanico"))["verified"] is True
    assert (await listed(web, "Imaginaire"))["verified"] is False

    page = (await web.get("/signataires", params={"q": "Juanico"})).text
    assert "élu·e vérifié·e" in page
    page = (await web.get("/signataires", params={"q": "Imaginaire"})).text
    assert "élu·e vérifié·e" not in page

    for _ in range(100):  # counts arrive through NOTIFY
        after = await departement_42(web)
        if after["verified"]:
            break
        await asyncio.sleep(0.05)
    assert (after["count"], after["verified"]) == (before["count"] + 2, 1)
    assert (after["maires_signed"], after["communes_signed"]) == (1, 1)
    assert after["coverage"] == round(1 / after["maires"], 4)
    # The live stream carried the verified signature and the new coverage of the département.
    for _ in range(100):
        live = [t for e in events for t in e["changed"] if t["level"] == "departement"]
        if any(t["code"] == "42" and t["verified"] == 1 for t in live):
            break
        await asyncio.sleep(0.05)
    reader.cancel()
    last = [t for t in live if t["code"] == "42"][-1]
    assert (last["verified"], last["coverage"]) == (1, after["coverage"])
    # The letter's page follows the counts within a second (campaign/site/cached_pages.py).
    shown = f'data-coverage="departement:42">{percent(1 / after["maires"])}<'
    for _ in range(60):
        home = (await web.get("/")).text
        if shown in home:
            break
        await asyncio.sleep(0.05)
    assert shown in home


async def test_the_counts_schema_documents_the_new_fields(web: httpx.AsyncClient) -> None:
    schema = (await web.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/campaigns/{slug}/counts"]["get"]
    content = operation["responses"]["200"]["content"]["application/json"]["schema"]
    ref = content["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][ref]
    item_ref = body["properties"]["counts"]["items"]["$ref"].rsplit("/", 1)[1]
    item = schema["components"]["schemas"][item_ref]["properties"]
    for field in ("count", "verified", "officials", "coverage", "communes_signed", "maires"):
        assert field in item, field
    assert "maire" in str(item["coverage"]).lower()


async def test_a_new_register_changes_the_coverage_everywhere(
    loaded: tuple[str, float], web: httpx.AsyncClient
) -> None:
    """Runs last: it replaces this module's register with a tiny one."""
    from campaign.register.officials import load_officials
    from campaign.register.sources import OfficialRecord

    before = await departement_42(web)
    conn = await asyncpg.connect(loaded[0])
    try:
        tiny = [
            OfficialRecord("maire", "commune", SAINT_ETIENNE, "JUANICO", "Régis", "M", None),
            OfficialRecord("maire", "commune", "42005", "AUTRE", "Maire", "F", None),
        ]
        await load_officials(conn, [tiny], "test")
    finally:
        await conn.close()
    for _ in range(100):  # every process reloads its summary on NOTIFY officials
        after = await departement_42(web)
        if after["maires"] == 2:
            break
        await asyncio.sleep(0.05)
    assert before["maires"] > 300
    assert (after["maires"], after["officials"], after["coverage"]) == (2, 2, 0.5)
