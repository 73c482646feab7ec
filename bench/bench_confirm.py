"""Confirming under a rush: the POST of the confirmation page's button, against pgbench.

    .venv/bin/python bench/bench_confirm.py [--workers 2] [--connections 64] [--seconds 20]

What is measured is the browser's path: `POST /confirmer/{token}` with the form's CSRF field and
cookie (one pair, fetched once from a page, as a browser keeps it), answered by the result page.
Each request confirms a different pending signature (prepared in the database with real tokens:
HMAC of the secret key, only their hash stored), so every one takes the confirming path
(find, confirm, count: one transaction, whose counter change is NOTIFYed to every process).

In one run, on a throwaway PostgreSQL: pgbench on the confirming transaction (built from
sql/queries), then wrk on the page, then the check that every 200 confirmed its signature and
that the counters add up.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import urlopen

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    SECRET_KEY,
    CpuAccount,
    campaign_row,
    campaign_server,
    disturbed,
    dump,
    fetchval,
    log,
    log_errors,
    machine,
    ok_statuses,
    popular_communes,
    smtp_sink,
    start_profiler,
    stop_profiler,
    throwaway_postgres,
    wait_quiet,
    wrk,
)
from pgbench_scripts import confirm_script

from campaign.core import tokens


async def prepare_pending(
    dsn: str, prefix: str, n: int, codes: list[str], campaign_id: int, version: int
) -> tuple[list[str], list[bytes]]:
    """n pending signatures with their confirmation tokens; returns the tokens and their hashes."""
    rng = random.Random(prefix)
    emails = [f"{prefix}-{i}@bench-test.fr" for i in range(n)]
    territory = [rng.choice(codes) for _ in range(n)]
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                                      territory_level, territory_code, public, letter_version,
                                      emails_sent)
               SELECT $1, e, 'Anne', 'Martin', 'maire', 'commune', c, true, $2, 1
               FROM unnest($3::text[], $4::text[]) AS u(e, c)
               RETURNING id, email""",
            campaign_id,
            version,
            emails,
            territory,
        )
        ids = {r["email"]: r["id"] for r in rows}
        expires = datetime.now(UTC) + timedelta(days=7)
        toks, hashes, records = [], [], []
        for email in emails:
            salt = os.urandom(tokens.SALT_BYTES)
            token = tokens.derive(SECRET_KEY, salt)
            digest = hashlib.sha256(token.encode()).digest()
            toks.append(token)
            hashes.append(digest)
            records.append((ids[email], "confirm", salt, digest, expires))
        await conn.copy_records_to_table(
            "signature_tokens",
            records=records,
            columns=["signature_id", "purpose", "salt", "token_hash", "expires_at"],
        )
        await conn.execute("VACUUM ANALYZE signatures")
        await conn.execute("VACUUM ANALYZE signature_tokens")
    finally:
        await conn.close()
    return toks, hashes


async def prepare_pgbench_queue(dsn: str, hashes: list[bytes]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_confirm (n bigint PRIMARY KEY, token_hash bytea NOT NULL);"
            "CREATE SEQUENCE bench_confirm_seq;"
        )
        await conn.copy_records_to_table(
            "bench_confirm", records=list(enumerate(hashes, start=1)), columns=["n", "token_hash"]
        )
        await conn.execute("VACUUM ANALYZE bench_confirm")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pgbench-pending", type=int, default=150_000)
    parser.add_argument("--app-pending", type=int, default=80_000)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, help="py-spy profile of one server process")
    args = parser.parse_args()
    extra_env = dict(e.split("=", 1) for e in args.env)
    result: dict[str, object] = {"machine": machine(), "args": vars(args)}
    run = uuid.uuid4().hex[:8]
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        campaign_id, version = campaign_row(pg.dsn)
        codes = popular_communes(pg.dsn)
        log("preparing pending signatures")
        _, pg_hashes = asyncio.run(
            prepare_pending(pg.dsn, f"pgc-{run}", args.pgbench_pending, codes, campaign_id, version)
        )
        asyncio.run(prepare_pgbench_queue(pg.dsn, pg_hashes))
        warm_tokens, _ = asyncio.run(
            prepare_pending(pg.dsn, f"wrkw-{run}", 20_000, codes, campaign_id, version)
        )
        app_tokens, _ = asyncio.run(
            prepare_pending(pg.dsn, f"wrk-{run}", args.app_pending, codes, campaign_id, version)
        )
        script = pg.tmp / "confirm.pgbench.sql"
        script.write_text(confirm_script())

        wait_quiet()
        log("baseline: pgbench on the confirming transaction")
        cpu = CpuAccount(postgres=[pg.pid], smtp_sink=[sink.proc.pid], bench=[os.getpid()])
        cpu.start()
        base = pg.pgbench(
            script, clients=args.connections, threads=args.threads, seconds=args.seconds
        )
        base["cpu_share"] = cpu.stop()
        used = fetchval(pg.dsn, "SELECT last_value FROM bench_confirm_seq")
        if used > args.pgbench_pending:
            raise SystemExit(f"pgbench ran out of tokens ({used}): raise --pgbench-pending")
        log(f"pgbench: {base['tps']:.0f} tps")
        counts_before = fetchval(pg.dsn, "SELECT coalesce(sum(confirmed), 0) FROM territory_counts")

        warm_file, tokens_file = pg.tmp / "warm-tokens.txt", pg.tmp / "tokens.txt"
        warm_file.write_text("\n".join(warm_tokens) + "\n")
        tokens_file.write_text("\n".join(app_tokens) + "\n")
        with campaign_server(pg, sink, workers=args.workers, extra_env=extra_env) as srv:
            # A browser's CSRF cookie: from the page, once.
            with urlopen(f"{srv.url}/confirmer/{warm_tokens[-1]}") as page:
                cookie = page.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
            lua = BENCH / "wrk" / "confirm.lua"
            log("warm-up")
            warm = wrk(
                srv.url,
                lua,
                connections=args.connections,
                threads=args.threads,
                seconds=args.warmup,
                args=[str(warm_file), cookie, str(args.threads)],
            )
            wait_quiet()
            log("figure: wrk on POST /confirmer/{token}")
            cpu = CpuAccount(
                server=srv.pids, postgres=[pg.pid], smtp_sink=[sink.proc.pid], bench=[os.getpid()]
            )
            cpu.start()
            profiler = start_profiler(srv, args.profile, args.seconds)
            fig = wrk(
                srv.url,
                lua,
                connections=args.connections,
                threads=args.threads,
                seconds=args.seconds,
                args=[str(tokens_file), cookie, str(args.threads)],
            )
            fig["cpu_share"] = cpu.stop()
            stop_profiler(profiler)
            log(f"wrk: {fig['rps']:.0f} req/s, p99 {fig['latency_us']['p99'] / 1000:.1f} ms")
            errors_in_log = log_errors(srv.log_text())
        if fig["exhausted"] or warm["exhausted"]:
            raise SystemExit("wrk ran out of tokens: raise --app-pending")
        confirmed = fetchval(
            pg.dsn,
            "SELECT count(*) FROM signatures WHERE email LIKE $1 AND status = 'confirmed'",
            f"wrk-{run}-%",
        )
        warm_confirmed = fetchval(
            pg.dsn,
            "SELECT count(*) FROM signatures WHERE email LIKE $1 AND status = 'confirmed'",
            f"wrkw-{run}-%",
        )
        counts_after = fetchval(pg.dsn, "SELECT coalesce(sum(confirmed), 0) FROM territory_counts")
        all_confirmed = fetchval(
            pg.dsn, "SELECT count(*) FROM signatures WHERE status = 'confirmed'"
        )
        accepted, bad = ok_statuses(fig, 200)
        checks = {
            "confirmed_200": accepted,
            "other_statuses_or_socket_errors": bad,
            "signatures_confirmed": confirmed,
            "counters_sum_equals_confirmed_signatures": counts_after == all_confirmed,
            "counted_during_app_runs": counts_after - counts_before,
            "confirmed_during_app_runs": confirmed + warm_confirmed,
            "server_log_errors": len(errors_in_log),
        }
        ok = (
            bad == 0
            and accepted <= confirmed <= accepted + args.connections
            and counts_after == all_confirmed
            and counts_after - counts_before == confirmed + warm_confirmed
            and not errors_in_log
        )
        ratio = fig["rps"] / base["tps"]
        p99_ms = fig["latency_us"]["p99"] / 1000
        result.update(
            baseline_pgbench={k: v for k, v in base.items() if k != "output"},
            figure_wrk={k: v for k, v in fig.items() if k != "output"},
            checks=checks,
            disturbed=disturbed(fig["cpu_share"]) or disturbed(base["cpu_share"]),
            no_error_no_loss=ok,
            ratio=round(ratio, 3),
            p99_ms=round(p99_ms, 1),
            target_met=bool(ratio >= 0.5 and ok),
            loadavg_at_end=os.getloadavg(),
        )
        print(base["output"], file=sys.stderr)
        print(fig["output"], file=sys.stderr)
        if errors_in_log:
            print("\n".join(errors_in_log[:20]), file=sys.stderr)
    summary = (
        f"confirming: {fig['rps']:.0f} req/s vs pgbench {base['tps']:.0f} tps -> ratio "
        f"{ratio:.2f} (target >= 0.5), p99 {p99_ms:.1f} ms, checks {'OK' if ok else 'FAILED'}"
    )
    result["summary"] = summary
    print(summary)
    if args.out:
        dump(args.out, result)


if __name__ == "__main__":
    main()
