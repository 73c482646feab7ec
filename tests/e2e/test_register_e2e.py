"""The whole path with the real register: `campaign load-officials` loads the vendored extract
offline (timed); then the levels of proof (issue 14): the real maire's name from any mailbox is
only a register match (« mandat trouvé au RNE »), verified once the organisers attest it; an
official domain proves a sénateur and a maire; a maire not listed changes no commune figure. The
counts give the declared and verified signatures, the officials of the register and the shares of
maires who signed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from campaign.core.frenchnumbers import percent
from campaign.register.officials import load_command
from tests.support.admin import logged_in, post_form
from tests.support.app import app_server, migrated_database, unique_email
from tests.support.mail import Mailbox
from tests.support.signing import confirm_link, csrf_token, read_events

SLUG = "jouer-collectif"
SAINT_ETIENNE = "42218"  # its maire in the register (RNE, March 2026): Régis Juanico
AMBERIEU = "01004"  # Ambérieu-en-Bugey: its maire, Daniel Fabre; its town hall's own domain
HIDDEN_COMMUNE, SHOWN_COMMUNE = "01053", "01002"  # Bourg-en-Bresse, L’Abergement-de-Varey


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
    web: httpx.AsyncClient,
    mailbox: Mailbox,
    given: str,
    family: str,
    *,
    address: str | None = None,
    **more: Any,
) -> None:
    address = address or unique_email("registre")
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


async def checked(web: httpx.AsyncClient, family: str) -> dict[str, Any]:
    """The signatory once the worker has compared them with the register (after confirming)."""
    item: dict[str, Any] = {}
    for _ in range(100):
        item = await listed(web, family)
        if item["register_match"] or item["verified"]:
            return item
        await asyncio.sleep(0.05)
    return item


async def territory_count(web: httpx.AsyncClient, level: str, code: str) -> dict[str, Any]:
    body = (await web.get(f"/api/v1/campaigns/{SLUG}/counts", params={"level": level})).json()
    return next((dict(c) for c in body["counts"] if c["code"] == code), {})


async def departement_42(web: httpx.AsyncClient) -> dict[str, Any]:
    return await territory_count(web, "departement", "42")


async def until(check: Any, what: str) -> None:
    for _ in range(100):  # counts and verification arrive outside the request
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_an_impersonator_matches_the_register_but_is_not_verified(
    web: httpx.AsyncClient, mailbox: Mailbox, loaded: tuple[str, float], site: str
) -> None:
    """Issue 14's attack: the real maire's name from a gmail address is a register match only;
    the organisers' attestation, with its reason in the journal, makes it verified."""
    before = await departement_42(web)
    assert before["officials"] > 5_000 and before["maires"] > 300
    assert before["verified"] == before["maires_signed"] == 0 and before["coverage"] == 0

    events: list[dict[str, Any]] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(read_events(web, events, ready))
    await asyncio.wait_for(ready.wait(), 5)

    address = f"regis.juanico.{uuid.uuid4().hex[:6]}@gmail.com"
    await sign_and_confirm(web, mailbox, "RÉGIS", "Juanico", address=address)
    await sign_and_confirm(web, mailbox, "Zorglub", "Imaginaire")

    juanico = await checked(web, "Juanico")
    assert (juanico["register_match"], juanico["verified"], juanico["proof"]) == (
        True,
        False,
        None,
    )
    invented = await listed(web, "Imaginaire")
    assert (invented["register_match"], invented["verified"]) == (False, False)
    page = (await web.get("/signataires", params={"q": "Juanico"})).text
    assert "mandat trouvé au RNE" in page and "élu·e vérifié·e" not in page

    async def counted() -> bool:
        after = await departement_42(web)
        return bool(after["register_match"] == 1 and after["count"] == before["count"] + 2)

    await until(counted, "the register match is counted")
    after = await departement_42(web)
    assert (after["verified"], after["maires_signed"], after["coverage"]) == (0, 0, 0)
    assert (after["maires_declared"], after["communes_signed"]) == (1, 1)
    assert after["coverage_declared"] == round(1 / after["maires"], 4)
    commune = await territory_count(web, "commune", SAINT_ETIENNE)
    assert (commune["maires_declared"], commune["maires_signed"]) == (1, 0)
    territory = (await web.get("/territoires/departement/42")).text
    assert "oui (déclaré)" in territory and "oui, élu·e vérifié·e" not in territory

    # The organisers attest it, with a reason: verified by them, in the journal.
    conn = await asyncpg.connect(loaded[0])
    try:
        signature_id = await conn.fetchval(
            "SELECT id FROM signatures WHERE family_name = 'Juanico'"
        )
        page_url = f"/admin/signataires/{signature_id}"
        async with logged_in(site, conn, "organiser") as organiser:
            refused = await post_form(
                organiser, page_url, f"{page_url}/attestation", {"decision": "attester"}
            )
            assert refused.status_code == 422 and "demande un motif" in refused.text
            attested = await post_form(
                organiser,
                page_url,
                f"{page_url}/attestation",
                {"decision": "attester", "motif": "Appel au cabinet du maire le 3 décembre"},
            )
            assert attested.status_code == 303
            assert "Attesté par les organisateurs" in (await organiser.get(page_url)).text
        entry = await conn.fetchrow(
            "SELECT detail->>'motif' AS motif FROM audit_log "
            "WHERE action = 'signature.attest' AND target_id = $1",
            signature_id,
        )
        assert entry is not None and entry["motif"] == "Appel au cabinet du maire le 3 décembre"
    finally:
        await conn.close()
    juanico = await listed(web, "Juanico")
    assert (juanico["verified"], juanico["proof"], juanico["register_match"]) == (
        True,
        "organisers",
        True,
    )

    async def verified() -> bool:
        return bool((await departement_42(web))["verified"] == 1)

    await until(verified, "the attestation is counted")
    after = await departement_42(web)
    assert (after["maires_signed"], after["coverage"]) == (1, round(1 / after["maires"], 4))
    # The live stream carried the verified signature and the new coverage of the département.
    for _ in range(100):
        live = [t for e in events for t in e["changed"] if t["level"] == "departement"]
        if any(t["code"] == "42" and t["verified"] == 1 for t in live):
            break
        await asyncio.sleep(0.05)
    reader.cancel()
    last = [t for t in live if t["code"] == "42"][-1]
    assert (last["verified"], last["coverage"]) == (1, after["coverage"])
    assert last["register_match"] == 1
    # The letter's page follows the counts within a second (campaign/site/cached_pages.py).
    shown = f'data-coverage="departement:42">{percent(1 / after["maires"])}<'
    for _ in range(60):
        home = (await web.get("/")).text
        if shown in home:
            break
        await asyncio.sleep(0.05)
    assert shown in home
    page = (await web.get("/signataires", params={"q": "Juanico"})).text
    assert "élu·e vérifié·e" in page


async def test_official_domains_prove_a_senateur_and_a_maire(
    web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    """An @senat.fr sénateur, and a maire from their town hall's own domain (its published
    address's), are verified by `official_domain`; a look-alike domain proves nothing."""
    await sign_and_confirm(
        web,
        mailbox,
        "Véronique",
        "Baude",
        address=f"v.baude.{uuid.uuid4().hex[:6]}@senat.fr",
        mandate="senateur",
        territory_code="01",
    )
    # Ambérieu-en-Bugey's town hall writes from accueil@ville-amberieu.fr; its maire: FABRE.
    await sign_and_confirm(
        web,
        mailbox,
        "Daniel",
        "Fabre",
        address=f"d.fabre.{uuid.uuid4().hex[:6]}@ville-amberieu.fr",
        territory_code=AMBERIEU,
    )
    # A sénatrice's name from a look-alike domain: a register match, no proof.
    await sign_and_confirm(
        web,
        mailbox,
        "Sylvie",
        "Goy-Chavent",
        address=f"s.goy.{uuid.uuid4().hex[:6]}@senat.fr.example.com",
        mandate="senateur",
        territory_code="01",
    )
    baude = await checked(web, "Baude")
    assert (baude["verified"], baude["proof"], baude["register_match"]) == (
        True,
        "official_domain",
        True,
    )
    fabre = await checked(web, "Fabre")
    assert (fabre["verified"], fabre["proof"]) == (True, "official_domain")
    other = await checked(web, "Goy-Chavent")
    assert (other["register_match"], other["verified"], other["proof"]) == (True, False, None)


async def test_a_maire_not_listed_changes_no_commune_figure(
    web: httpx.AsyncClient, mailbox: Mailbox, loaded: tuple[str, float]
) -> None:
    """Issue 14, part 3: a maire who chose not to be listed is not told by their commune's
    figures (API and territory page); their département counts them. A listed one is shown."""
    conn = await asyncpg.connect(loaded[0])
    try:
        maire = await conn.fetchrow(
            "SELECT given_name, family_name FROM officials "
            "WHERE mandate = 'maire' AND territory_code = $1",
            HIDDEN_COMMUNE,
        )
    finally:
        await conn.close()
    assert maire is not None
    before = await territory_count(web, "departement", "01")
    await sign_and_confirm(
        web,
        mailbox,
        maire["given_name"],
        maire["family_name"],
        address=unique_email("discret"),
        territory_code=HIDDEN_COMMUNE,
        public=False,
    )

    async def counted() -> bool:
        now = await territory_count(web, "departement", "01")
        return bool(now.get("maires_declared", 0) == before.get("maires_declared", 0) + 1)

    await until(counted, "the département counts the maire not listed")
    commune = await territory_count(web, "commune", HIDDEN_COMMUNE)
    assert commune["count"] == 1  # a signature from the commune: whose, the figures don't say
    assert (commune["maires_declared"], commune["maires_signed"]) == (0, 0)
    assert (commune["coverage_declared"], commune["coverage"]) == (0, 0)
    page = (await web.get("/territoires/departement/01")).text
    row = page[page.index(f'data-code="{HIDDEN_COMMUNE}"') :]
    assert 'data-colonne="Le maire a signé"' in row
    assert row[row.index(f'data-maire="{HIDDEN_COMMUNE}">') :].startswith(
        f'data-maire="{HIDDEN_COMMUNE}">—<'
    )

    # A listed maire (another commune) is shown as such.
    conn = await asyncpg.connect(loaded[0])
    try:
        shown = await conn.fetchrow(
            "SELECT given_name, family_name FROM officials "
            "WHERE mandate = 'maire' AND territory_code = $1",
            SHOWN_COMMUNE,
        )
    finally:
        await conn.close()
    assert shown is not None
    await sign_and_confirm(
        web,
        mailbox,
        shown["given_name"],
        shown["family_name"],
        address=unique_email("public"),
        territory_code=SHOWN_COMMUNE,
    )

    async def shown_counted() -> bool:
        now = await territory_count(web, "commune", SHOWN_COMMUNE)
        return bool(now.get("maires_declared") == 1)

    await until(shown_counted, "the commune of a listed maire says so")

    async def page_follows() -> bool:  # pages follow the counts at most once a second
        page = (await web.get("/territoires/departement/01")).text
        return f'data-maire="{SHOWN_COMMUNE}">oui (déclaré)<' in page

    await until(page_follows, "the territory page to follow the counts")
    page = (await web.get("/territoires/departement/01")).text
    assert f'data-maire="{HIDDEN_COMMUNE}">—<' in page


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
    # Issue 14: declared and verified figures, side by side; the items' levels of proof.
    for field in ("register_match", "maires_declared", "coverage_declared"):
        assert field in item, field
        assert field in schema["components"]["schemas"][ref]["properties"], field
    assert "liste publique" in str(item["maires_signed"])
    items = schema["paths"]["/api/v1/campaigns/{slug}/signatories"]["get"]["responses"]["200"]
    page_ref = items["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    page = schema["components"]["schemas"][page_ref]["properties"]
    signatory_ref = page["items"]["items"]["$ref"].rsplit("/", 1)[1]
    signatory = schema["components"]["schemas"][signatory_ref]["properties"]
    assert "official_domain" in str(signatory["proof"]) and "register_match" in signatory


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
