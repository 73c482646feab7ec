"""Territories: the vendored file, its loading into PostgreSQL, resolving and searching them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from campaign.territories.index import (
    DATA_FILE,
    Territory,
    TerritoryIndex,
    load_territories,
    normalize,
    read_vendored,
    territories_count,
)


@pytest.fixture(scope="module")
async def index(dsn: str) -> AsyncIterator[TerritoryIndex]:
    conn = await asyncpg.connect(dsn)
    try:
        yield await TerritoryIndex.load(conn)
    finally:
        await conn.close()


def commune(code: str, name: str, departement: str, population: int) -> Territory:
    return Territory(
        level="commune",
        code=code,
        name=name,
        departement=departement,
        region="84",
        population=population,
        postal_codes=(),
    )


# Loading

Q_LEVEL = "SELECT code FROM territories WHERE level = $1"


async def test_levels_counts(db: asyncpg.Connection) -> None:
    rows = await db.fetch("SELECT level, count(*) AS n FROM territories GROUP BY level")
    counts = {r["level"]: r["n"] for r in rows}
    assert counts["region"] == 18
    assert counts["departement"] == 101
    assert counts["commune"] > 34_000
    assert await territories_count(db) == sum(counts.values()) == len(read_vendored())


async def test_overseas_departements_and_regions(db: asyncpg.Connection) -> None:
    departements = {r["code"] for r in await db.fetch(Q_LEVEL, "departement")}
    assert {"971", "972", "973", "974", "976", "2A", "2B", "01", "95"} <= departements
    assert not departements & {"975", "977", "978", "984", "986", "987", "988", "989", "20"}
    regions = {r["code"] for r in await db.fetch(Q_LEVEL, "region")}
    assert {"01", "02", "03", "04", "06", "11", "84", "94"} <= regions


async def test_known_rows(db: asyncpg.Connection) -> None:
    query = (
        "SELECT name, departement, region, postal_codes FROM territories"
        " WHERE level = $1 AND code = $2"
    )
    lyon = await db.fetchrow(query, "commune", "69123")
    assert (lyon["name"], lyon["departement"], lyon["region"]) == ("Lyon", "69", "84")
    assert "69001" in lyon["postal_codes"]
    ajaccio = await db.fetchrow(query, "commune", "2A004")
    assert (ajaccio["name"], ajaccio["departement"], ajaccio["region"]) == ("Ajaccio", "2A", "94")
    saint_denis = await db.fetchrow(query, "commune", "97411")
    assert (saint_denis["name"], saint_denis["departement"], saint_denis["region"]) == (
        "Saint-Denis",
        "974",
        "04",
    )
    paris = await db.fetchrow(query, "commune", "75056")
    assert paris["name"] == "Paris"
    rhone = await db.fetchrow(query, "departement", "69")
    assert (rhone["name"], rhone["departement"], rhone["region"]) == ("Rhône", None, "84")


async def test_no_commune_parts_loaded(db: asyncpg.Connection) -> None:
    """Arrondissements (Lyon 1er: 69381) and communes déléguées are not communes."""
    found = await db.fetchval(
        "SELECT count(*) FROM territories WHERE code IN ('69381', '75101', '13201')"
    )
    assert found == 0


async def test_reload_is_idempotent(db: asyncpg.Connection) -> None:
    query = "SELECT *, xmin::text AS version FROM territories ORDER BY level, code"
    before = await db.fetch(query)
    assert await load_territories(db) == len(before)
    assert await load_territories(db) == len(before)
    after = await db.fetch(query)
    # Same rows, and not even rewritten (xmin is the transaction that last wrote a row).
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


async def test_reload_restores_changed_and_deletes_stale_but_referenced(
    db: asyncpg.Connection,
) -> None:
    """Everything happens in a transaction rolled back at the end: other tests share the base."""
    tx = db.transaction()
    await tx.start()
    try:
        await db.execute("UPDATE territories SET name = 'Lugdunum' WHERE code = '69123'")
        await db.execute(
            "INSERT INTO territories (level, code, name) VALUES"
            " ('commune', '99998', 'Gone but signed'), ('commune', '99999', 'Gone')"
        )
        campaign_id = await db.fetchval(
            "INSERT INTO campaigns (slug, title, launch_at) VALUES ('t-territories', 'T', now())"
            " RETURNING id"
        )
        await db.execute(
            "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'x')",
            campaign_id,
        )
        await db.execute(
            "INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,"
            " territory_level, territory_code, letter_version)"
            " VALUES ($1, 'a@example.org', 'A', 'B', 'maire', 'commune', '99998', 1)",
            campaign_id,
        )

        count = await load_territories(db)

        left = {
            r["code"]
            for r in await db.fetch("SELECT code FROM territories WHERE code IN ('99998', '99999')")
        }
        assert left == {"99998"}
        assert await db.fetchval("SELECT name FROM territories WHERE code = '69123'") == "Lyon"
        assert await territories_count(db) == count + 1
    finally:
        await tx.rollback()


async def test_index_matches_file(db: asyncpg.Connection, index: TerritoryIndex) -> None:
    vendored = read_vendored(DATA_FILE)
    loaded = await TerritoryIndex.load(db)
    for level in ("region", "departement", "commune"):
        expected = sorted((t for t in vendored if t.level == level), key=lambda t: t.code)
        assert loaded.all(level) == expected
    assert index.get("commune", "69123") == loaded.get("commune", "69123")


# Territory and the index


def test_labels(index: TerritoryIndex) -> None:
    assert index.get("commune", "65392").label == "Saint-Martin (65)"  # type: ignore[union-attr]
    assert index.get("departement", "69").label == "Rhône (69)"  # type: ignore[union-attr]
    assert index.get("region", "84").label == "Auvergne-Rhône-Alpes"  # type: ignore[union-attr]


def test_get_and_all(index: TerritoryIndex) -> None:
    assert index.get("commune", "69") is None
    assert index.get("departement", "69123") is None
    assert index.get("nowhere", "69") is None
    regions = index.all("region")
    assert [t.code for t in regions] == sorted(t.code for t in regions)
    assert len(regions) == 18
    codes = [t.code for t in index.all("departement")]
    assert codes.index("2A") == codes.index("29") + 1
    assert index.all("nowhere") == []


def test_ancestors(index: TerritoryIndex) -> None:
    lyon = index.get("commune", "69123")
    assert lyon is not None
    assert index.ancestors(lyon) == [("departement", "69"), ("region", "84")]
    assert index.ancestors(index.get("departement", "974")) == [("region", "04")]  # type: ignore[arg-type]
    assert index.ancestors(index.get("region", "84")) == []  # type: ignore[arg-type]
    papeete = index.get("commune", "98735")
    assert papeete is not None and papeete.departement == "987"
    assert index.ancestors(papeete) == []  # Polynésie française is no département


@pytest.mark.parametrize(
    ("level", "text", "code"),
    [
        ("commune", "69123", "69123"),
        ("commune", "2A004", "2A004"),
        ("commune", "2a004", "2A004"),
        ("commune", " 75056 ", "75056"),
        ("departement", "69", "69"),
        ("departement", "2A", "2A"),
        ("departement", "974", "974"),
        ("departement", "1", "01"),
        ("region", "84", "84"),
        ("region", "4", "04"),
        ("commune", "Lyon", "69123"),
        ("commune", "lyon", "69123"),
        ("commune", "saint etienne", "42218"),
        ("commune", "Saint-Étienne", "42218"),
        ("commune", "ST-ETIENNE", "42218"),
        ("commune", "St Étienne", "42218"),
        ("commune", "42000", "42218"),
        ("commune", "75011", "75056"),
        ("commune", "Saint-Martin (65)", "65392"),
        ("commune", "Bors (Canton de Charente-Sud) (16)", "16053"),
        ("commune", "Château-Chinon (Ville)", "58062"),
        ("departement", "Rhône", "69"),
        ("departement", "rhone", "69"),
        ("departement", "Rhône (69)", "69"),
        ("departement", "Corse-du-Sud", "2A"),
        ("region", "Auvergne-Rhône-Alpes", "84"),
        ("region", "la reunion", "04"),
    ],
)
def test_resolve_found(index: TerritoryIndex, level: str, text: str, code: str) -> None:
    result = index.resolve(level, text)
    assert result.territory is not None, result
    assert (result.territory.level, result.territory.code) == (level, code)
    assert result.candidates == [result.territory]
    assert not result.ambiguous


def test_resolve_label_round_trip(index: TerritoryIndex) -> None:
    for level in ("region", "departement"):
        for t in index.all(level):
            assert index.resolve(level, t.label).territory == t
    communes = index.all("commune")
    for t in communes[::97]:
        assert index.resolve("commune", t.label).territory == t


def test_resolve_ambiguous_name(index: TerritoryIndex) -> None:
    result = index.resolve("commune", "Saint-Martin")
    assert result.territory is None and result.ambiguous
    assert len(result.candidates) >= 4
    labels = [t.label for t in result.candidates]
    assert "Saint-Martin (65)" in labels and "Saint-Martin (32)" in labels
    populations = [t.population or 0 for t in result.candidates]
    assert populations == sorted(populations, reverse=True)


def test_resolve_ambiguous_postal_code(index: TerritoryIndex) -> None:
    result = index.resolve("commune", "01400")  # Châtillon-sur-Chalaronne and its neighbours
    assert result.ambiguous
    assert 1 < len(result.candidates) <= 10
    assert all("01400" in t.postal_codes for t in result.candidates)


def test_resolve_code_that_is_also_a_postal_code(index: TerritoryIndex) -> None:
    """97411 is Saint-Denis's INSEE code and one of Saint-Paul's postal codes: both are offered."""
    result = index.resolve("commune", "97411")
    assert result.ambiguous
    assert {t.code for t in result.candidates} == {"97411", "97415"}
    assert index.get("commune", "97411").name == "Saint-Denis"  # type: ignore[union-attr]
    # Saint-Étienne's 42100, La Gimond's INSEE code.
    assert {t.code for t in index.resolve("commune", "42100").candidates} == {"42218", "42100"}


@pytest.mark.parametrize(
    ("level", "text"),
    [
        ("commune", "Nowhere-sur-Mer"),
        ("commune", ""),
        ("commune", "   "),
        ("commune", "99999"),
        ("commune", "Saint-Martin (99)"),
        ("commune", "Lyon (42)"),
        ("departement", "69123"),  # a commune's code, asked as a département
        ("departement", "Lyon"),
        ("region", "69"),
        ("commune", "84"),
        ("nowhere", "69"),
    ],
)
def test_resolve_not_found(index: TerritoryIndex, level: str, text: str) -> None:
    result = index.resolve(level, text)
    assert result.territory is None
    assert result.candidates == []
    assert not result.ambiguous


def test_resolve_from_a_plain_list() -> None:
    index = TerritoryIndex(
        [commune("01001", "Saint-Martin", "01", 10), commune("02001", "Saint-Martin", "02", 20)]
    )
    result = index.resolve("commune", "st martin")
    assert [t.code for t in result.candidates] == ["02001", "01001"]
    assert index.resolve("commune", "Saint-Martin (01)").territory == index.get("commune", "01001")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saint-Étienne", "saint etienne"),
        ("ST-ETIENNE", "saint etienne"),
        ("st. etienne", "saint etienne"),
        ("Ste-Marie", "sainte marie"),
        ("Sainte Marie", "sainte marie"),
        ("Stella-Plage", "stella plage"),
        ("L'Haÿ-les-Roses", "l hay les roses"),
        ("L’Haÿ-les-Roses", "l hay les roses"),
        ("Œuf-en-Ternois", "oeuf en ternois"),
        ("Jœuf", "joeuf"),
        ("Læti", "laeti"),
        ("  Bors  (Canton de Tude-et-Lavalette) ", "bors canton de tude et lavalette"),
        ("ÎLE-DE-FRANCE", "ile de france"),
        ("Provence-Alpes-Côte d'Azur", "provence alpes cote d azur"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_search_names(index: TerritoryIndex) -> None:
    assert index.search("lyon", "commune")[0].code == "69123"
    assert index.search("Saint-Ét", "commune")[0].code == "42218"
    assert index.search("marseille", "commune", 1)[0].code == "13055"
    rhone = index.search("rhone", None)
    assert (rhone[0].level, rhone[0].code) == ("departement", "69")
    assert ("region", "84") in [(t.level, t.code) for t in rhone]
    # "st" could be "saint" or the start of Strasbourg.
    st = {t.code for t in index.search("st", "commune")}
    assert {"67482", "42218"} <= st


def test_search_ranks_exact_then_prefix_then_population(index: TerritoryIndex) -> None:
    result = index.search("paris", "commune")
    assert result[0].code == "75056"
    normalized = [normalize(t.name) for t in result]
    prefix = [n.startswith("paris") for n in normalized]
    assert prefix == sorted(prefix, reverse=True)  # all prefixes before any substring match
    prefixed = [t.population or 0 for t, p in zip(result, prefix, strict=True) if p][1:]
    assert prefixed == sorted(prefixed, reverse=True)


def test_search_postal_and_codes(index: TerritoryIndex) -> None:
    assert index.search("42000", "commune")[0].code == "42218"
    assert "42218" in {t.code for t in index.search("420", "commune")}
    result = index.search("750", "commune")
    assert result and all(any(p.startswith("750") for p in t.postal_codes) for t in result)
    assert [(t.level, t.code) for t in index.search("2A", "departement")] == [("departement", "2A")]


def test_search_limits_and_empty(index: TerritoryIndex) -> None:
    assert index.search("", None) == []
    assert index.search("  -' ", None) == []
    assert index.search("lyon", "commune", 0) == []
    assert index.search("lyon", "nowhere") == []
    assert index.search("zzzzzz", None) == []
    for q in ("a", "e", "saint", "sur", "la", "st", "69", "1", "é"):
        for level in (None, "commune", "departement", "region"):
            result = index.search(q, level, 7)
            assert len(result) <= 7
            assert len(set(result)) == len(result)
            assert all(level is None or t.level == level for t in result)
    assert len(index.search("saint", "commune", 25)) == 25


def test_search_finds_every_commune_by_its_name(index: TerritoryIndex) -> None:
    """A sanity sweep (and a rough speed check: a few thousand searches must stay quick)."""
    for t in index.all("commune")[::11]:
        assert t in index.search(t.name, "commune", 50), t
