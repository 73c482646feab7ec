"""Pages vs counts, same run (issue 15 §1 and §4): `GET /`, `/carte`, `/signataires` against the
counts API (`…/counts?level=departement`), all with `Accept-Encoding: gzip`, at 64 connections.

    .venv/bin/python bench/pages.py [--workers 1] [--connections 64] [--seconds 8] [--rounds 3]
                                    [--before a495a65]

Two `campaign serve` processes on one throwaway database: this code, and — with `--before REV` —
the `campaign` package of that commit (exported with `git archive`, put first on PYTHONPATH;
a495a65 is main before this work, its pages rendered at each request), so the « before » figures
come from the same run. The rounds alternate (page, counts, page, counts…)
so that a disturbance of the machine (other people's work) hits both sides; each figure is the
mean of its rounds, the ratio the median of the rounds' ratios. Goal: `/` ≥ 0.5× the counts'
req/s, p99 < 20 ms, ≤ 35 KB transferred per answer.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    ROOT,
    SLUG,
    campaign_server,
    dump,
    fetch,
    log,
    machine,
    ok_statuses,
    smtp_sink,
    throwaway_postgres,
    wait_quiet,
    wrk,
)

COUNTS = f"/api/v1/campaigns/{SLUG}/counts?level=departement"
PAGES = ["/", "/carte", "/signataires"]
GZIP = ["Accept-Encoding: gzip"]


def measure(url: str, args: argparse.Namespace, etag: str | None = None) -> dict[str, Any]:
    """wrk on `url` with gzip accepted (`etag`: as browsers revalidating their copy, 304s)."""
    lua = BENCH / "wrk" / "get.lua"
    result = wrk(
        url,
        lua,
        connections=args.connections,
        threads=args.threads,
        seconds=args.seconds,
        headers=GZIP + ([f"If-None-Match: {etag}"] if etag else []),
    )
    good, bad = ok_statuses(result, 304 if etag else 200)
    result["good"], result["bad"] = good, bad
    result["bytes_per_answer"] = result["bytes"] / max(1, result["requests"])
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rps": statistics.mean(r["rps"] for r in runs),
        "p50_ms": statistics.mean(r["latency_us"]["p50"] for r in runs) / 1000,
        "p99_ms": statistics.mean(r["latency_us"]["p99"] for r in runs) / 1000,
        "bytes_per_answer": statistics.mean(r["bytes_per_answer"] for r in runs),
        "non_200": sum(r["bad"] for r in runs),
        "rounds_rps": [round(r["rps"]) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="a commit whose code is the « before »")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="max seconds to wait")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        # Counts in 2,000 communes and public names, so that the pages are real ones.
        fetch(
            pg.dsn,
            """INSERT INTO territory_counts (campaign_id, level, code, confirmed)
               SELECT c.id, 'commune', t.code, (abs(hashtext(t.code)) % 50) + 1
               FROM campaigns c, territories t
               WHERE t.level = 'commune' AND t.population > 20000""",
        )
        fetch(
            pg.dsn,
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                   territory_level, territory_code, public, letter_version, status,
                   confirmed_at)
               SELECT c.id, 'b' || g || '@mairie-bench.fr', 'Prénom' || g, 'Nom' || g, 'maire',
                   'commune', '69123', true, c.current_version, 'confirmed', now()
               FROM campaigns c, generate_series(1, 200) g""",
        )
        fetch(pg.dsn, "UPDATE campaigns SET embargo = false")  # the names are listed
        with contextlib.ExitStack() as stack:
            servers = {
                "after": stack.enter_context(campaign_server(pg, sink, workers=args.workers))
            }
            if args.before:
                before = pg.tmp / "before"
                before.mkdir()
                archive = subprocess.run(
                    ["git", "archive", args.before, "campaign"],
                    cwd=ROOT,
                    capture_output=True,
                    check=True,
                ).stdout
                subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
                servers["before"] = stack.enter_context(
                    campaign_server(
                        pg,
                        sink,
                        workers=args.workers,
                        extra_env={"PYTHONPATH": str(before)},
                        name="before",
                    )
                )
            for name, srv in servers.items():
                for path in PAGES:
                    request = Request(srv.url + path, headers={"Accept-Encoding": "gzip"})
                    with urlopen(request) as answer:
                        body = answer.read()
                        log(
                            f"{name} {path}: {len(body)} bytes sent, "
                            f"{answer.headers.get('Content-Encoding') or 'identity'}, "
                            f"Cache-Control {answer.headers.get('Cache-Control')!r}"
                        )
                for path in [COUNTS, *PAGES]:  # warm-up
                    wrk(srv.url + path, BENCH / "wrk" / "get.lua", connections=8, seconds=2)
            targets = [("after", COUNTS), *(("after", p) for p in PAGES), ("after", "/ (304)")]
            if args.before:
                targets += [("before", p) for p in PAGES]
            runs: dict[str, list[dict[str, Any]]] = {f"{n} {p}": [] for n, p in targets}
            for i in range(args.rounds):
                waited = wait_quiet(max_wait=args.quiet_wait)
                log(f"round {i + 1}/{args.rounds} (waited {waited:.0f} s for a quiet machine)")
                for name, path in targets:
                    if path.endswith("(304)"):  # the page's ETag (before the launch, by minute)
                        with urlopen(servers[name].url + "/") as answer:
                            etag = answer.headers["ETag"]
                        fig = measure(servers[name].url + path.split()[0], args, etag)
                    else:
                        fig = measure(servers[name].url + path, args)
                    runs[f"{name} {path}"].append(fig)
                    log(
                        f"  {name} {path}: {fig['rps']:.0f} req/s, p50 "
                        f"{fig['latency_us']['p50'] / 1000:.1f} ms, p99 "
                        f"{fig['latency_us']['p99'] / 1000:.1f} ms, "
                        f"{fig['bytes_per_answer'] / 1000:.1f} KB/answer, {fig['bad']} not 200"
                    )
            figures = {key: summary(r) for key, r in runs.items()}
            counts_runs = runs[f"after {COUNTS}"]
            ratios = {
                p: statistics.median(
                    page["rps"] / counts["rps"]
                    for page, counts in zip(runs[f"after {p}"], counts_runs, strict=True)
                )
                for p in PAGES
            }
            result |= {"figures": figures, "ratio_to_counts": ratios, "command": " ".join(sys.argv)}
    print(f"{'target':<60} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'KB/answer':>10}")
    for key, f in figures.items():
        print(
            f"{key:<60} {f['rps']:>8.0f} {f['p50_ms']:>7.1f} {f['p99_ms']:>7.1f} "
            f"{f['bytes_per_answer'] / 1000:>10.1f}"
        )
    for path, ratio in ratios.items():
        print(f"{path}: {ratio:.2f}× the counts API's req/s (median of the rounds)")
    home = figures["after /"]
    goal = ratios["/"] >= 0.5 and home["p99_ms"] < 20 and home["bytes_per_answer"] <= 35_000
    print(f"goal (/ ≥ 0.5× counts, p99 < 20 ms, ≤ 35 KB): {'met' if goal else 'NOT met'}")
    if args.out:
        dump(args.out, result)


if __name__ == "__main__":
    main()
