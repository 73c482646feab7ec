"""The public search through its own trigram index (migration 0017): the same answers as the
former query that folded and matched every row, a plan that uses the index, a text that holds
only what the public list shows and stays right when names change. On a database of its own
with 20,000 signatures."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from campaign.core.db import Q
from campaign.core.settings import load_settings
from campaign.runtime import prepare_database
from campaign.signing import signatures
from tests.support.app import migrated_database

SLUG = "jouer-collectif"
ROWS = 20_000

# The public list's query before migration 0017, word for word: the reference for the results.
OLD_QUERY = """
SELECT s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code, s.confirmed_at,
       s.featured, s.verified, s.proof, s.register_match, count(*) OVER () AS total
FROM signatures s
JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE s.campaign_id = $1 AND s.status = 'confirmed' AND s.public AND NOT s.suspect
  AND ($2::text IS NULL OR (s.territory_level = 'region' AND s.territory_code = $2)
                        OR t.region = $2)
  AND ($3::text IS NULL OR (s.territory_level = 'departement' AND s.territory_code = $3)
                        OR t.departement = $3)
  AND ($4::text IS NULL OR s.mandate = $4)
  AND ($5::text IS NULL OR unaccent(lower(s.given_name || ' ' || s.family_name || ' ' || t.name))
                           LIKE '%' || unaccent(lower($5)) || '%')
ORDER BY s.featured DESC, s.confirmed_at DESC, s.id DESC
LIMIT $6 OFFSET $7
"""

GIVEN = ["Élise", "Anne", "Jean-Pierre", "Zoé", "Loïc", "François", "Hélène", "Gaëlle", "Noël",
         "Ève", "Œdipe", "Maëlys", "Jérôme", "Benoît", "Cédric", "ÉLODIE"]  # fmt: skip
FAMILY = ["Martin", "D'Artagnan", "Lefèvre", "Bœuf", "Müller", "Straße", "Le Goff", "N\u2019Diaye",
          "Saint-Just", "Ødegaard", "Çelik", "García", "Nguyễn", "O'Neil", "Ångström",
          "Cent%Pour", "Sous_Trait", "Barre\\Oblique", "Ｗｉｄｅ", "Dupont-Moretti"]  # fmt: skip

SEARCHES = [
    "élise", "ELISE", "elise", "Élo", "jean-p", "n-pi", "d'art", "D'ART", "n\u2019di", "n'di",
    "lefe", "lefèvre", "LEFÈ", "bœu", "boeu", "oeuf", "œdi", "oed", "mul", "mül", "stra",
    "straß", "strass", "le g", "e go", "sai", "int-j", "ode", "øde", "cel", "çel", "garc",
    "gar", "ngu", "nguyễn", "o'n", "ang", "ång", "t%p", "t\uff05p", "s_t", "s\uff3ft", "e\\o",
    "%%%", "___", "\uff05\uff05\uff05", "wid", "ｗｉｄ", "e m", "dupont-mo", "-mo", "saint-é",
    "étienne", "etienne", "lyon", "LYO", "haÿ", "hay", "l'ha", "aix", "mar", "ann", "zoé",
]  # fmt: skip


@pytest.fixture(scope="module")
async def search_dsn(pg_server: str) -> AsyncIterator[str]:
    dsn = await migrated_database(pg_server, f"public_search_{uuid.uuid4().hex[:8]}")
    await prepare_database(load_settings({"DATABASE_URL": dsn}), dsn)  # the demo campaign
    conn = await asyncpg.connect(dsn)
    try:
        await seed(conn)
    finally:
        await conn.close()
    yield dsn


async def seed(conn: asyncpg.Connection) -> None:
    """ROWS signatures, names cycling through GIVEN x FAMILY, on 2,000 communes (Saint-Étienne,
    L'Haÿ-les-Roses, Lyon... among them) and a few départements and régions; some private,
    suspect, pending, withdrawn or featured."""
    campaign = await conn.fetchrow(
        "SELECT id, current_version FROM campaigns WHERE slug = $1", SLUG
    )
    assert campaign is not None
    communes = [
        r["code"]
        for r in await conn.fetch(
            "SELECT code FROM territories WHERE level = 'commune' ORDER BY code"
        )
    ]
    rng = random.Random(15)
    places = [("commune", c) for c in ["42218", "94038", "69123", "13001", "13055"]]
    places += [("commune", c) for c in rng.sample(communes, 2000)]
    places += [("departement", "69"), ("departement", "2A"), ("region", "84"), ("region", "11")]
    await conn.execute(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
               territory_level, territory_code, public, suspect, featured, status,
               letter_version, confirmed_at)
           SELECT $1, 'p' || i || '@mairie-test.fr', ($3::text[])[1 + i % cardinality($3)],
                  ($4::text[])[1 + (i / 7) % cardinality($4)],
                  (ARRAY['maire', 'adjoint', 'conseiller'])[1 + i % 3],
                  ($5::text[])[1 + (i * 7919) % cardinality($5)],
                  ($6::text[])[1 + (i * 7919) % cardinality($6)],
                  i % 10 <> 0, i % 17 = 0, i % 101 = 0,
                  CASE WHEN i % 13 = 0 THEN 'pending' WHEN i % 29 = 0 THEN 'withdrawn'
                       ELSE 'confirmed' END,
                  $2, now() - make_interval(secs => i)
           FROM generate_series(1, $7::integer) i""",
        campaign["id"],
        campaign["current_version"],
        GIVEN,
        FAMILY,
        [level for level, _ in places],
        [code for _, code in places],
        ROWS,
    )
    # As the service leaves them between rushes: the new index entries merged from the GIN
    # pending list (campaign/signing/batch.py, autovacuum), statistics fresh (autovacuum).
    await signatures.merge_search_pending(conn)
    await conn.execute("ANALYZE")


@pytest.fixture
async def conn(search_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(search_dsn)
    yield c
    await c.close()


async def campaign_id(conn: asyncpg.Connection) -> int:
    found: int = await conn.fetchval("SELECT id FROM campaigns WHERE slug = $1", SLUG)
    return found


async def old_results(
    conn: asyncpg.Connection, cid: int, q: str, region: str | None = None, limit: int = 5000
) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        OLD_QUERY, cid, region, None, None, signatures._like_escape(q), limit, 0
    )
    return [tuple(r) for r in rows]


async def new_results(
    conn: asyncpg.Connection, cid: int, q: str, region: str | None = None, limit: int = 5000
) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        Q["public_signatories_search"],
        cid,
        region,
        None,
        None,
        signatures._like_escape(q),
        limit,
        0,
    )
    return [tuple(r) for r in rows]


async def test_the_results_are_those_of_the_former_query(conn: asyncpg.Connection) -> None:
    cid = await campaign_id(conn)
    rng = random.Random(3)
    folded = [f"{g} {f}" for g in GIVEN for f in FAMILY]
    randoms = []
    for _ in range(60):
        text = rng.choice(folded)
        start = rng.randrange(len(text) - 3)
        randoms.append(text[start : start + 3])
    matched = 0
    for q in SEARCHES + randoms:
        old = await old_results(conn, cid, q)
        assert await new_results(conn, cid, q) == old, q
        matched += bool(old)
    assert matched > len(SEARCHES) // 2, "most searches find someone: the comparison means much"
    for q, region in [("mar", "84"), ("élise", "11"), ("lyo", "84"), ("ève", "84")]:
        assert await new_results(conn, cid, q, region) == await old_results(conn, cid, q, region)
    # Through the service's function, which the site and the API call: same total, same page.
    for q in ("d'art", "t\uff05p", "haÿ"):
        total, page = await signatures.public_signatories(conn, cid, q=q, limit=20)
        old = await old_results(conn, cid, q, limit=20)
        assert total == (old[0][-1] if old else 0)
        assert [(s.given_name, s.family_name, s.territory_code) for s in page] == [
            (r[0], r[1], r[4]) for r in old
        ]


async def test_wildcards_are_literal_and_names_cross_their_boundaries(
    conn: asyncpg.Connection,
) -> None:
    cid = await campaign_id(conn)
    percent = {r[1] for r in await new_results(conn, cid, "t\uff05p")}
    assert percent == {"Cent%Pour"}
    assert {r[1] for r in await new_results(conn, cid, "s\uff3ft")} == {"Sous_Trait"}
    assert {r[1] for r in await new_results(conn, cid, "e\\o")} == {"Barre\\Oblique"}
    assert await new_results(conn, cid, "%%%") == []
    assert "Bœuf" in {r[1] for r in await new_results(conn, cid, "oeuf")}  # œ folds to oe
    # given name + family name + territory name, one text: « élodie martin saint-étienne »
    row = await conn.fetchrow(
        "SELECT s.given_name, s.family_name, t.name FROM signatures s JOIN territories t "
        "ON t.level = s.territory_level AND t.code = s.territory_code WHERE s.given_name = "
        "'ÉLODIE' AND t.code = '42218' AND status = 'confirmed' AND public AND NOT suspect LIMIT 1"
    )
    whole = " ".join(row).upper()
    assert (row["family_name"], "42218") in {
        (r[1], r[4]) for r in await new_results(conn, cid, whole)
    }


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


async def explain(conn: asyncpg.Connection, q: str) -> list[dict[str, Any]]:
    cid = await campaign_id(conn)
    text = await conn.fetchval(
        f"EXPLAIN (FORMAT JSON) {Q['public_signatories_search']}",
        *(cid, None, None, None, signatures._like_escape(q), 50, 0),
    )
    return plan_nodes(json.loads(text)[0]["Plan"])


def scans(nodes: list[dict[str, Any]]) -> set[str]:
    """How the plan reads signatures: its scans' kinds and the indexes they use."""
    read = [n for n in nodes if n.get("Relation Name") == "signatures" or "Index Name" in n]
    return {n["Node Type"] for n in read if n.get("Relation Name") == "signatures"} | {
        n["Index Name"] for n in read if "Index Name" in n
    }


async def test_the_planner_picks_the_trigram_index_by_itself(conn: asyncpg.Connection) -> None:
    """20,000 signatures, ANALYZEd, the planner's costs untouched (no enable_seqscan = off)."""
    assert await conn.fetchval("SHOW enable_seqscan") == "on"
    assert await conn.fetchval("SELECT count(*) FROM signatures") >= ROWS
    for q in ("gof", "ngu", "xyz", "art", "ean", "saint-é", "élise"):
        read = scans(await explain(conn, q))
        assert "signatures_public_search" in read and "Seq Scan" not in read, (q, read)
    # The plan a prepared statement (asyncpg prepares them all) may settle on after five runs,
    # made without the values: it must not fall back to reading every row either.
    cid = await campaign_id(conn)
    await conn.execute(f"PREPARE generic AS {Q['public_signatories_search']}")
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    text = await conn.fetchval(
        f"EXPLAIN (FORMAT JSON) EXECUTE generic({cid}, NULL, NULL, NULL, 'gof', 50, 0)"
    )
    read = scans(plan_nodes(json.loads(text)[0]["Plan"]))
    assert "signatures_public_search" in read and "Seq Scan" not in read, read


async def test_the_text_holds_what_the_list_shows_and_follows_names(
    conn: asyncpg.Connection,
) -> None:
    cid = await campaign_id(conn)
    assert (
        await conn.fetchval("SELECT count(*) FROM signatures WHERE public_search LIKE '%@%'") == 0
    )
    assert await new_results(conn, cid, "mairie-test") == []
    row = await conn.fetchrow(
        "SELECT id, public_search FROM signatures WHERE territory_code = '94038' "
        "AND status = 'confirmed' AND public AND NOT suspect LIMIT 1"
    )
    assert row["public_search"].endswith(" l'hay-les-roses")
    await conn.execute("UPDATE signatures SET family_name = 'Zyxwvu' WHERE id = $1", row["id"])
    assert {r[1] for r in await new_results(conn, cid, "zyxw")} == {"Zyxwvu"}
    # A territory renamed (a newer territories file): its signatures are found by the new name.
    await conn.execute("UPDATE territories SET name = 'Qwertyville' WHERE code = '94038'")
    try:
        assert {r[4] for r in await new_results(conn, cid, "qwerty")} == {"94038"}
        assert await new_results(conn, cid, "l'haÿ") == await old_results(conn, cid, "l'haÿ") == []
    finally:
        await conn.execute("UPDATE territories SET name = 'L''Haÿ-les-Roses' WHERE code = '94038'")
    assert await new_results(conn, cid, "qwerty") == []
    assert len(await new_results(conn, cid, "l'haÿ")) > 0
