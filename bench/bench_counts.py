"""Counts under a rush: `GET …/counts?level=departement` against a bare Litestar JSON handler.

    .venv/bin/python bench/bench_counts.py [--workers 2] [--connections 64] [--seconds 15]

Both servers run with the same settings (uvicorn, N worker processes, uvloop and httptools, no
access log) and answer the same bytes: the bare app (bench/bare_app.py) returns the document the
service answered, as a constant. The runs alternate (service, bare, service, bare, …) and each
side's figure is the mean of its rounds; the ratio is the median of the rounds' ratios, so a
disturbance of the machine (other people's work) hits both sides of a round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    ROOT,
    SECRET_KEY,
    SLUG,
    VENV_BIN,
    Postgres,
    SmtpSink,
    accounted_wrk,
    campaign_server,
    disturbed,
    dump,
    free_port,
    log,
    log_errors,
    machine,
    ok_statuses,
    run_server,
    smtp_sink,
    start_profiler,
    stop_profiler,
    throwaway_postgres,
    wait_quiet,
    wrk,
)

PATH = f"/api/v1/campaigns/{SLUG}/counts?level=departement"


def stack_server(
    pg: Postgres, sink: SmtpSink, workers: int, body_file: Path, extra_env: dict[str, str]
) -> Any:
    """The service's own app and settings, plus a do-nothing route (bench/stack_app.py)."""
    port = free_port()
    env = {
        "DATABASE_URL": pg.dsn,
        "SMTP_URL": sink.url,
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DATA_DIR": str(pg.tmp / "data"),
        "BENCH_BODY_FILE": str(body_file),
        **extra_env,
        "PYTHONPATH": ":".join(filter(None, [str(ROOT), extra_env.get("PYTHONPATH")])),
    }
    argv = [
        str(VENV_BIN / "uvicorn"),
        "bench.stack_app:app_factory",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--no-server-header",
        "--no-proxy-headers",
        "--log-level",
        "info",
    ]
    return run_server(argv, env=env, workers=workers, log_path=pg.tmp / "stack.log", port=port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", choices=["bytes", "data"], default="bytes")
    parser.add_argument(
        "--stack",
        action="store_true",
        help="also the service's app with a do-nothing route (bench/stack_app.py)",
    )
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the service (and --stack)"
    )
    parser.add_argument("--variants", action="store_true", help="with --stack: handler variants")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, help="py-spy profile of one service process")
    args = parser.parse_args()
    result: dict[str, object] = {"machine": machine(), "args": vars(args)}
    lua = BENCH / "wrk" / "get.lua"
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        # Some confirmed signatures, so the document is a real one.
        from common import fetch

        fetch(
            pg.dsn,
            """INSERT INTO territory_counts (campaign_id, level, code, confirmed)
               SELECT c.id, 'commune', t.code, (abs(hashtext(t.code)) % 50) + 1
               FROM campaigns c, territories t
               WHERE t.level = 'commune' AND t.population > 20000""",
        )
        extra_env = dict(e.split("=", 1) for e in args.env)
        with campaign_server(pg, sink, workers=args.workers, extra_env=extra_env) as srv:
            with urlopen(srv.url + PATH) as answer:
                body = answer.read()
            body_file = pg.tmp / "counts.json"
            body_file.write_bytes(body)
            log(f"the document: {len(body)} bytes")
            port = free_port()
            bare_argv = [
                str(VENV_BIN / "uvicorn"),
                "bench.bare_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--no-server-header",  # as `campaign serve`
                "--no-proxy-headers",
                "--log-level",
                "info",
            ]
            with run_server(
                bare_argv,
                env={"BENCH_BODY_FILE": str(body_file), "PYTHONPATH": str(ROOT)},
                workers=args.workers,
                log_path=pg.tmp / "bare.log",
                port=port,
            ) as bare:
                bare_url = f"{bare.url}/{args.baseline}"
                with urlopen(bare_url) as answer:
                    assert answer.read() == body or args.baseline == "data"
                for url in (srv.url + PATH, bare_url):  # warm-up
                    wrk(url, lua, connections=args.connections, threads=args.threads, seconds=3)
                stack = None
                if args.stack:
                    stack = stack_server(pg, sink, args.workers, body_file, extra_env)
                    stack_srv = stack.__enter__()
                    stack_url = stack_srv.url + "/api/v1/bench/bytes"
                    wrk(
                        stack_url,
                        lua,
                        connections=args.connections,
                        threads=args.threads,
                        seconds=3,
                    )
                stacks = []
                if args.profile:  # a round of its own: py-spy slows what it samples
                    profiler = start_profiler(srv, args.profile, args.seconds)
                    wrk(
                        srv.url + PATH,
                        lua,
                        connections=args.connections,
                        threads=args.threads,
                        seconds=args.seconds,
                    )
                    stop_profiler(profiler)
                figures, baselines, through_app = [], [], []
                for i in range(args.rounds):
                    wait_quiet()
                    fig = accounted_wrk(
                        srv.url + PATH,
                        lua,
                        {"server": srv.pids, "postgres": [pg.pid], "bench": [os.getpid()]},
                        connections=args.connections,
                        threads=args.threads,
                        seconds=args.seconds,
                    )
                    figures.append(fig)
                    # A stale ETag: the app answers (200, whole body) instead of the kept answer.
                    app_path = wrk(
                        srv.url + PATH,
                        lua,
                        connections=args.connections,
                        threads=args.threads,
                        seconds=args.seconds,
                        headers=['If-None-Match: "stale"'],
                    )
                    through_app.append(app_path)
                    base = accounted_wrk(
                        bare_url,
                        lua,
                        {"server": bare.pids, "bench": [os.getpid()]},
                        connections=args.connections,
                        threads=args.threads,
                        seconds=args.seconds,
                    )
                    baselines.append(base)
                    if stack is not None:
                        st = accounted_wrk(
                            stack_url,
                            lua,
                            {"server": stack_srv.pids, "bench": [os.getpid()]},
                            connections=args.connections,
                            threads=args.threads,
                            seconds=args.seconds,
                        )
                        stacks.append(st)
                        log(f"round {i + 1}: stack with a do-nothing handler {st['rps']:.0f} req/s")
                    log(f"round {i + 1}: service through the app {app_path['rps']:.0f} req/s")
                    log(
                        f"round {i + 1}: service {fig['rps']:.0f} req/s, bare {base['rps']:.0f} "
                        f"req/s, ratio {fig['rps'] / base['rps']:.2f}"
                    )
                variants = {}
                if stack is not None and args.variants:
                    for name in ("di", "state", "raw", "asgi"):
                        url = f"{stack_srv.url}/api/v1/bench/counts/{name}/{SLUG}?level=departement"
                        wrk(url, lua, connections=args.connections, threads=args.threads, seconds=2)
                        wait_quiet()
                        v = wrk(
                            url,
                            lua,
                            connections=args.connections,
                            threads=args.threads,
                            seconds=args.seconds,
                        )
                        variants[name] = round(v["rps"])
                        log(f"handler variant {name}: {v['rps']:.0f} req/s")
                errors_in_log = log_errors(srv.log_text()) + log_errors(bare.log_text())
                if stack is not None:
                    stack.__exit__(None, None, None)
    bad = sum(ok_statuses(r, 200)[1] for r in figures + baselines + through_app)
    fig_rps = statistics.mean(r["rps"] for r in figures)
    base_rps = statistics.mean(r["rps"] for r in baselines)
    # Each round's ratio compares runs a few seconds apart: their median resists a disturbance.
    ratios = [f["rps"] / b["rps"] for f, b in zip(figures, baselines, strict=True)]
    ratio = statistics.median(ratios)
    ok = bad == 0 and not errors_in_log
    strip = lambda r: {k: v for k, v in r.items() if k != "output"}  # noqa: E731
    if variants:
        result["handler_variants_rps"] = variants
    if stacks:
        result["stack_rounds"] = [strip(r) for r in stacks]
        result["stack_rps"] = round(statistics.mean(r["rps"] for r in stacks))
    app_ratios = [a["rps"] / b["rps"] for a, b in zip(through_app, baselines, strict=True)]
    result.update(
        through_app_rounds=[strip(r) for r in through_app],
        through_app_rps=round(statistics.mean(r["rps"] for r in through_app)),
        through_app_median_ratio=round(statistics.median(app_ratios), 3),
        body_bytes=len(body),
        figure_rounds=[strip(r) for r in figures],
        baseline_rounds=[strip(r) for r in baselines],
        figure_rps=round(fig_rps),
        baseline_rps=round(base_rps),
        ratio=round(ratio, 3),
        round_ratios=[round(r, 3) for r in ratios],
        disturbed_rounds=sum(
            disturbed(f["cpu_share"]) or disturbed(b["cpu_share"])
            for f, b in zip(figures, baselines, strict=True)
        ),
        errors=bad,
        server_log_errors=len(errors_in_log),
        target_met=bool(ratio >= 0.7 and ok),
        loadavg_at_end=os.getloadavg(),
    )
    summary = (
        f"counts: {fig_rps:.0f} req/s vs bare Litestar ({args.baseline}) {base_rps:.0f} req/s -> "
        f"median ratio {ratio:.2f} (target >= 0.7), rounds "
        f"{[round(r['rps']) for r in figures]} / {[round(r['rps']) for r in baselines]}, "
        f"errors {bad}; through the app (stale ETag): "
        f"{statistics.mean(r['rps'] for r in through_app):.0f} req/s, median ratio "
        f"{statistics.median(app_ratios):.2f}"
    )
    result["summary"] = summary
    print(summary)
    if args.out:
        dump(args.out, result)


if __name__ == "__main__":
    main()
