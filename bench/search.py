"""The public name search at scale (issue 15 §2): random 3-letter searches of the signatories,
the former query (folding and matching every public row) against the indexed one (migration
0017), in the same run, on the same database and the same searches.

    .venv/bin/python bench/search.py [--rows 100000] [--clients 8] [--seconds 10]

On a throwaway PostgreSQL with `--rows` signatures (bench/admin_signatories.py's seed: ~56 %
confirmed and public), `--clients` connections each run random 3-letter searches (a-z) for
`--seconds`, one page of 50 and the total as /signataires and the API ask for them, straight on
the database (no HTTP, no cache, no rate: the query's own cost). Prints searches/s, p50 and p99
per query, and checks on a few hundred searches that both give the same page and total.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import string
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from admin_signatories import SEED
from common import campaign_row, log, machine, throwaway_postgres

from campaign.core.db import Q
from campaign.signing import signatures

# The public list's search before migration 0017 (tests/signing/test_public_search.py compares
# the two on names with accents, hyphens, apostrophes and wildcards).
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
QUERIES = {"old": OLD_QUERY, "indexed": Q["public_signatories_search"]}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


async def run(dsn: str, campaign_id: int, query: str, clients: int, seconds: float) -> Any:
    conns = [await asyncpg.connect(dsn) for _ in range(clients)]
    latencies: list[float] = []
    rows = 0
    end = time.monotonic() + seconds

    async def one(conn: asyncpg.Connection, rng: random.Random) -> None:
        nonlocal rows
        while time.monotonic() < end:
            q = "".join(rng.choices(string.ascii_lowercase, k=3))
            started = time.perf_counter()
            found = await conn.fetch(
                query, campaign_id, None, None, None, signatures._like_escape(q), 50, 0
            )
            latencies.append(time.perf_counter() - started)
            rows += len(found)

    try:
        started = time.monotonic()
        await asyncio.gather(*(one(c, random.Random(n)) for n, c in enumerate(conns)))
        elapsed = time.monotonic() - started
    finally:
        for c in conns:
            await c.close()
    return {
        "searches": len(latencies),
        "searches_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(latencies, 0.50) * 1000, 2),
        "p99_ms": round(pct(latencies, 0.99) * 1000, 2),
        "rows_per_search": round(rows / max(1, len(latencies)), 1),
        "loadavg_after": os.getloadavg(),
    }


async def same_answers(dsn: str, campaign_id: int, searches: int) -> int:
    """Searches checked whose page and total were the same by both queries (all, or it fails)."""
    conn = await asyncpg.connect(dsn)
    rng = random.Random(99)
    try:
        for _ in range(searches):
            q = "".join(rng.choices(string.ascii_lowercase + "éè' -", k=3))
            args = (campaign_id, None, None, None, signatures._like_escape(q), 50, 0)
            old = [tuple(r) for r in await conn.fetch(OLD_QUERY, *args)]
            new = [tuple(r) for r in await conn.fetch(Q["public_signatories_search"], *args)]
            assert old == new, q
    finally:
        await conn.close()
    return searches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with throwaway_postgres() as pg:
        campaign_id, version = campaign_row(pg.dsn)

        async def seed() -> int:
            conn = await asyncpg.connect(pg.dsn)
            try:
                await conn.execute(SEED, campaign_id, version, args.rows)
                # As the service leaves them: the index's pending list merged (the signing
                # batcher, autovacuum), statistics fresh (autovacuum).
                await signatures.merge_search_pending(conn)
                await conn.execute("ANALYZE")
                listed: int = await conn.fetchval(
                    "SELECT count(*) FROM signatures "
                    "WHERE status = 'confirmed' AND public AND NOT suspect"
                )
                return listed
            finally:
                await conn.close()

        results["listed"] = asyncio.run(seed())
        log(f"seeded {args.rows:,} signatures, {results['listed']:,} publicly listed")
        results["same_answers"] = asyncio.run(same_answers(pg.dsn, campaign_id, 300))
        log(f"same page and total from both queries on {results['same_answers']} searches")
        for name, query in QUERIES.items():
            asyncio.run(run(pg.dsn, campaign_id, query, args.clients, 1))  # warm-up
            results[name] = asyncio.run(run(pg.dsn, campaign_id, query, args.clients, args.seconds))
            log(f"{name}: {results[name]}")
    old, new = results["old"], results["indexed"]
    results["speedup"] = round(new["searches_per_s"] / old["searches_per_s"], 1)
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
