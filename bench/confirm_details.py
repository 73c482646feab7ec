"""What confirming the details a link was sent for costs (issue 14, §4, migration 0016): the
batched confirming statement (`confirm_by_tokens`, as a rush runs it) of this code against the
same statement before the change, in one run, on one throwaway PostgreSQL.

    .venv/bin/python bench/confirm_details.py [--batches 200] [--batch 32] [--clients 8]
        [--before a495a65]

Pending signatures with their links are prepared (a fifth of them re-signed, so that their links
carry a copy of the details); then batches of links are confirmed by `--clients` connections at
once, before and after alternating batch by batch, each batch on links of its own. Printed: the
batches' mean and p99 time and the confirmations per second of each.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_confirm import prepare_pending
from common import campaign_row, log, popular_communes, throwaway_postgres

from campaign.core.db import Q

ROOT = Path(__file__).resolve().parents[1]
QUERIES = "campaign/sql/queries/signatures.sql"


def statement_at(commit: str, name: str) -> str:
    text = subprocess.run(
        ["git", "show", f"{commit}:{QUERIES}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    block = text.split(f"-- name: {name}\n", 1)[1]
    return block.split("\n-- name: ", 1)[0]


async def resign_some(dsn: str, fraction: float, version: int) -> None:
    """A fraction of the pending signatures re-signed with other names: their links keep the
    details they were sent for."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = [
            r["id"] for r in await conn.fetch("SELECT id FROM signatures WHERE status = 'pending'")
        ]
        chosen = random.Random(1).sample(ids, int(len(ids) * fraction))
        for signature_id in chosen:
            await conn.execute(
                Q["refresh_pending_signature"],
                signature_id,
                "Autre",
                "Nom",
                "adjoint",
                "commune",
                "69123",
                False,
                None,
                None,
                version,
                1,
                [],
            )
        await conn.execute("VACUUM ANALYZE signatures, signature_tokens")
    finally:
        await conn.close()


async def run(dsn: str, hashes: list[bytes], statements: dict[str, str], args: argparse.Namespace):
    pools = await asyncpg.create_pool(dsn, min_size=args.clients, max_size=args.clients)
    times: dict[str, list[float]] = {name: [] for name in statements}
    feed = iter(hashes)
    try:
        for n in range(args.batches):
            name = list(statements)[n % 2]
            batches = [[next(feed) for _ in range(args.batch)] for _ in range(args.clients)]

            async def one(batch: list[bytes], sql: str = statements[name]) -> float:
                async with pools.acquire() as conn:
                    started = time.perf_counter()
                    rows = await conn.fetch(sql, batch)
                    assert sum(r["confirmed_now"] for r in rows) == len(batch)
                    return time.perf_counter() - started

            times[name] += await asyncio.gather(*(one(b) for b in batches))
    finally:
        await pools.close()
    for name, values in times.items():
        values.sort()
        mean = sum(values) / len(values)
        p99 = values[int(len(values) * 0.99) - 1]
        rate = args.batch * args.clients / mean
        print(
            f"{name:>7}: {len(values)} batches of {args.batch}, mean {mean * 1000:.2f} ms, "
            f"p99 {p99 * 1000:.2f} ms, {rate:,.0f} confirmations/s at {args.clients} clients"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--before", default="a495a65")
    args = parser.parse_args()
    statements = {
        "before": statement_at(args.before, "confirm_by_tokens"),
        "after": Q["confirm_by_tokens"],
    }
    needed = args.batches * args.batch * args.clients
    with throwaway_postgres() as pg:
        campaign_id, version = campaign_row(pg.dsn)
        codes = popular_communes(pg.dsn)
        log(f"preparing {needed} pending signatures")
        _, hashes = asyncio.run(prepare_pending(pg.dsn, "d", needed, codes, campaign_id, version))
        asyncio.run(resign_some(pg.dsn, 0.2, version))
        random.Random(2).shuffle(hashes)
        asyncio.run(run(pg.dsn, hashes, statements, args))


if __name__ == "__main__":
    main()
