"""What the webhooks' trigger costs the confirmations (issue 17 §2).

    .venv/bin/python bench/hooks_confirm.py [--per-run 6000] [--rounds 3] [--connections 8]

On a throwaway PostgreSQL: pending signatures with real link tokens, confirmed by the service's
own statement (`confirm_by_tokens` through `signatures.confirm_many`, batches of 64 as the group
commit writes them in a rush) from `--connections` connections at once, in three variants, each
run `--rounds` times in turn (the baseline measured in the same run):

- `no trigger`: the trigger disabled (the confirming path before migration 0020);
- `trigger, no endpoint`: what every campaign without webhooks pays;
- `trigger, 3 endpoints`: three endpoints subscribed to `signature.confirmed` (three deliveries
  written per confirmation, one NOTIFY per transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import SECRET_KEY, log, throwaway_postgres

from campaign.core import tokens
from campaign.signing import signatures

BATCH = 64
VARIANTS = ("no trigger", "trigger, no endpoint", "trigger, 3 endpoints")


async def pending(dsn: str, n: int) -> list[str]:
    """`n` pending signatures of the demo campaign, each with its link's token."""
    conn = await asyncpg.connect(dsn)
    try:
        campaign_id, version = await conn.fetchrow(
            "SELECT id, current_version FROM campaigns ORDER BY id LIMIT 1"
        )
        communes = [
            r["code"]
            for r in await conn.fetch(
                "SELECT code FROM territories WHERE level = 'commune' ORDER BY code LIMIT 2000"
            )
        ]
        run = uuid.uuid4().hex[:8]
        ids = await conn.fetch(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                   territory_level, territory_code, public, letter_version)
               SELECT $1, 'b' || $3 || '.' || g || '@mairie-bench.fr', 'Anne', 'Martin',
                      'conseiller_municipal', 'commune', ($4::text[])[1 + g % 2000], true, $2
               FROM generate_series(1, $5) AS g
               RETURNING id""",
            campaign_id,
            version,
            run,
            communes,
            n,
        )
        made = [tokens.issue(SECRET_KEY) for _ in ids]
        expires = datetime.now(UTC) + timedelta(days=1)
        await conn.copy_records_to_table(
            "signature_tokens",
            records=[
                (r["id"], "confirm", salt, token_hash, expires)
                for r, (salt, token_hash) in zip(ids, made, strict=True)
            ],
            columns=["signature_id", "purpose", "salt", "token_hash", "expires_at"],
        )
        await conn.execute("ANALYZE signatures; ANALYZE signature_tokens")
        return [tokens.derive(SECRET_KEY, salt) for salt, _ in made]
    finally:
        await conn.close()


async def set_variant(dsn: str, variant: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM webhook_endpoints")
        enable = "DISABLE" if variant == "no trigger" else "ENABLE"
        await conn.execute(f"ALTER TABLE signatures {enable} TRIGGER signatures_webhook_event")
        if variant == "trigger, 3 endpoints":
            campaign_id = await conn.fetchval("SELECT id FROM campaigns ORDER BY id LIMIT 1")
            for n in range(3):
                await conn.execute(
                    """INSERT INTO webhook_endpoints (campaign_id, url, events, secret_salt)
                       VALUES ($1, $2, '{signature.confirmed}', '\\x00')""",
                    campaign_id,
                    f"https://crm{n}.example.org/hooks",
                )
    finally:
        await conn.close()


async def confirm_all(dsn: str, tokens_: list[str], connections: int) -> float:
    """Seconds to confirm every token, in batches, from `connections` connections."""
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    batches = [tokens_[i : i + BATCH] for i in range(0, len(tokens_), BATCH)]
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    async def work() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                batch = queue.get_nowait()
                outcomes = await signatures.confirm_many(conn, batch)
                assert all(r.name == "CONFIRMED" for r, _ in outcomes), outcomes[:2]

    try:
        started = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(connections)))
        return time.perf_counter() - started
    finally:
        await pool.close()


async def bench(dsn: str, per_run: int, rounds: int, connections: int) -> None:
    figures: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_ in range(rounds):
        order = VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]
        for variant in order:
            batch_tokens = await pending(dsn, per_run)
            await set_variant(dsn, variant)
            before = await _deliveries(dsn)
            seconds = await confirm_all(dsn, batch_tokens, connections)
            queued = await _deliveries(dsn) - before
            rate = per_run / seconds
            figures[variant].append(rate)
            log(f"round {round_ + 1} {variant}: {rate:,.0f} confirmations/s, {queued} deliveries")
    base = statistics.median(figures["no trigger"])
    print(f"\n{per_run} confirmations per run, {rounds} rounds, {connections} connections")
    print("| variant | confirmations/s (median) | runs | vs no trigger |")
    print("|---|---|---|---|")
    for variant, rates in figures.items():
        median = statistics.median(rates)
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"| {variant} | {median:,.0f} | {runs} | {100 * (median / base - 1):+.1f} % |")


async def _deliveries(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM webhook_deliveries")
        return n
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-run", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with throwaway_postgres() as pg:
        asyncio.run(bench(pg.dsn, args.per_run, args.rounds, args.connections))


if __name__ == "__main__":
    main()
