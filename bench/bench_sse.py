"""Live counts to many browsers: 10,000 SSE subscribers on ONE server process.

    .venv/bin/python bench/bench_sse.py [--subscribers 10000] [--client-procs 2]

On a throwaway PostgreSQL, `campaign serve` (one process) serves `GET …/events`; client processes
(bench/sse_clients.py, raw asyncio sockets) hold the subscriptions. The driver then commits counter
changes the way a confirmation does (`increment_count`, whose trigger NOTIFYs), in two phases:
a steady one (one change every 0.5 s) and a rush (25 changes a second, the rate at which the UK
Parliament petitions site fell, coalesced by the server into at most 4 events a second).

Latency of an update = receipt of the first event whose `total` includes it, minus the moment the
driver sent the committing statement (so it includes the commit). Every subscriber must receive
every update; the figure is the p99 over all (subscriber, update) pairs; the target is p99 < 1 s.
Memory per subscriber = (server RSS with everyone subscribed - RSS before) / subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    PYTHON,
    SLUG,
    CpuAccount,
    campaign_row,
    campaign_server,
    disturbed,
    dump,
    fetch,
    log,
    log_errors,
    machine,
    popular_communes,
    raise_nofile,
    smtp_sink,
    start_profiler,
    stop_profiler,
    throwaway_postgres,
    wait_quiet,
)

from campaign.core.db import Q

PATH = f"/api/v1/campaigns/{SLUG}/events"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def drive(
    dsn: str, campaign_id: int, codes: list[str], phases: list[tuple[int, float]]
) -> list[tuple[float, int]]:
    """Commits the counter changes; returns (time the statement was sent, total it makes)."""
    conn = await asyncpg.connect(dsn)
    try:
        total = await conn.fetchval(
            "SELECT coalesce(sum(confirmed), 0) FROM territory_counts WHERE campaign_id = $1",
            campaign_id,
        )
        commits = []
        rng = random.Random(7)
        for count, interval in phases:
            next_at = time.monotonic()
            for _ in range(count):
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.monotonic()
                await conn.execute(Q["increment_count"], campaign_id, "commune", rng.choice(codes))
                total += 1
                commits.append((sent, total))
                next_at += interval
    finally:
        await conn.close()
    return commits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--steady", type=int, default=40, help="changes, one every 0.5 s")
    parser.add_argument("--rush", type=int, default=250, help="changes, 25 a second")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, help="py-spy profile of the server during updates")
    args = parser.parse_args()
    raise_nofile()
    extra_env = dict(e.split("=", 1) for e in args.env)
    result: dict[str, object] = {"machine": machine(), "args": vars(args)}
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        campaign_id, _ = campaign_row(pg.dsn)
        codes = popular_communes(pg.dsn)
        # A campaign under way: a few thousand communes with signatures.
        fetch(
            pg.dsn,
            """INSERT INTO territory_counts (campaign_id, level, code, confirmed)
               SELECT $1, 'commune', code, (abs(hashtext(code)) % 20) + 1
               FROM territories WHERE level = 'commune' AND population > 3000""",
            campaign_id,
        )
        with campaign_server(pg, sink, workers=1, extra_env=extra_env, name="sse") as srv:
            server = psutil.Process(srv.pids[0])
            host, port = srv.url.removeprefix("http://").split(":")
            # Warm the code paths with a few subscribers that then leave.
            warm = subprocess.Popen(
                [
                    str(PYTHON),
                    str(BENCH / "sse_clients.py"),
                    host,
                    port,
                    PATH,
                    "50",
                    str(pg.tmp / "warm.json"),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert warm.stdout is not None and warm.stdin is not None
            warm.stdout.readline()
            warm.stdin.close()
            warm.wait(30)
            time.sleep(1)
            rss_before = server.memory_info().rss
            log(f"server RSS before: {rss_before / 2**20:.1f} MiB; connecting {args.subscribers}")
            per_proc = [args.subscribers // args.client_procs] * args.client_procs
            per_proc[0] += args.subscribers - sum(per_proc)
            outs = [pg.tmp / f"clients-{i}.json" for i in range(args.client_procs)]
            clients = [
                subprocess.Popen(
                    [
                        str(PYTHON),
                        str(BENCH / "sse_clients.py"),
                        host,
                        port,
                        PATH,
                        str(n),
                        str(out),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for n, out in zip(per_proc, outs, strict=True)
            ]
            ready = []
            for c in clients:
                assert c.stdout is not None
                ready.append(c.stdout.readline().split())
            connected = sum(int(r[1]) for r in ready)
            connect_time = max(float(r[3]) for r in ready)
            time.sleep(2)
            rss_subscribed = server.memory_info().rss
            per_sub = (rss_subscribed - rss_before) / max(connected, 1)
            log(
                f"{connected} subscribed in {connect_time:.1f} s; RSS {rss_subscribed / 2**20:.1f}"
                f" MiB: {per_sub / 1024:.1f} KiB per subscriber"
            )
            phases = [(args.steady, 0.5), (args.rush, 1 / 25)]
            wait_quiet(threshold=0.15)  # the idle subscribers cost a little
            cpu = CpuAccount(
                server=srv.pids,
                postgres=[pg.pid],
                clients=[c.pid for c in clients],
                bench=[os.getpid()],
            )
            cpu.start()
            profiler = start_profiler(
                srv, args.profile, int(args.steady * 0.5 + args.rush / 25) + 2
            )
            commits = asyncio.run(drive(pg.dsn, campaign_id, codes, phases))
            time.sleep(3)  # the last events
            cpu_share = cpu.stop()
            stop_profiler(profiler)
            rss_after = server.memory_info().rss
            for c in clients:
                assert c.stdin is not None
                c.stdin.close()
            for c in clients:
                c.wait(120)
            errors_in_log = log_errors(srv.log_text())
        reports = [json.loads(out.read_text()) for out in outs]
    latencies: list[float] = []
    missed = 0
    worst_per_update = [0.0] * len(commits)
    steady_lat: list[float] = []
    rush_lat: list[float] = []
    for report in reports:
        for events in report["events"]:
            i = 0
            for k, (sent, total) in enumerate(commits):
                while i < len(events) and (events[i][1] < total or events[i][0] < sent):
                    i += 1
                if i == len(events):
                    missed += len(commits) - k
                    break
                lat = events[i][0] - sent
                latencies.append(lat)
                (steady_lat if k < args.steady else rush_lat).append(lat)
                worst_per_update[k] = max(worst_per_update[k], lat)
    lost = sum(r["lost"] for r in reports)
    bad_status = sum(r["bad_status"] for r in reports)
    connect_errors = sum(r["connect_errors"] for r in reports)
    p99 = percentile(latencies, 99)
    ok = (
        connected == args.subscribers
        and missed == 0
        and lost == 0
        and bad_status == 0
        and connect_errors == 0
        and not errors_in_log
    )

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p90_ms": round(percentile(values, 90) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "max_ms": round(max(values, default=float("nan")) * 1000, 1),
            "pairs": len(values),
        }

    result.update(
        subscribers=connected,
        connect_seconds=connect_time,
        rss_before_mib=round(rss_before / 2**20, 1),
        rss_subscribed_mib=round(rss_subscribed / 2**20, 1),
        rss_after_updates_mib=round(rss_after / 2**20, 1),
        kib_per_subscriber=round(per_sub / 1024, 1),
        updates=len(commits),
        latency_all=stats(latencies),
        latency_steady=stats(steady_lat),
        latency_rush=stats(rush_lat),
        worst_subscriber_per_update=stats(worst_per_update),
        missed_updates=missed,
        lost_connections=lost,
        bad_status=bad_status,
        connect_errors=connect_errors,
        server_log_errors=len(errors_in_log),
        cpu_share_during_updates=cpu_share,
        disturbed=disturbed(cpu_share),
        target_met=bool(ok and p99 < 1.0),
        loadavg_at_end=os.getloadavg(),
    )
    summary = (
        f"SSE: {connected} subscribers on one process, {len(commits)} updates; delivery p99 "
        f"{p99 * 1000:.0f} ms (target < 1000; steady {result['latency_steady']['p99_ms']} ms, "
        f"rush {result['latency_rush']['p99_ms']} ms), {per_sub / 1024:.1f} KiB per subscriber, "
        f"missed {missed}, lost {lost}, checks {'OK' if ok else 'FAILED'}"
    )
    result["summary"] = summary
    print(summary)
    if errors_in_log:
        print("\n".join(errors_in_log[:20]), file=sys.stderr)
    if args.out:
        dump(args.out, result)


if __name__ == "__main__":
    main()
