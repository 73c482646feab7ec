"""Signing under a rush: `POST /api/v1/campaigns/jouer-collectif/signatures` against pgbench.

    .venv/bin/python bench/bench_sign.py [--workers 2] [--connections 64] [--seconds 20]

In one run, on a throwaway PostgreSQL: pgbench on the signing transaction (built from
sql/queries), then wrk on the API (server `campaign serve --workers N`, mail worker on, sending to
an SMTP sink), then the check: every 202 has its signature, token and outbox row, and every
queued email is sent. Prints a JSON summary; `--out FILE` keeps it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    SLUG,
    CpuAccount,
    Postgres,
    SmtpSink,
    TableReads,
    WaitSampler,
    campaign_server,
    checkpoint,
    disturbed,
    dump,
    fetch,
    fetchval,
    log,
    machine,
    mail_worker,
    ok_statuses,
    smtp_sink,
    start_profiler,
    stop_profiler,
    throwaway_postgres,
    wait_quiet,
    wrk,
)
from pgbench_scripts import has_limits, sign_script

PATH = f"/api/v1/campaigns/{SLUG}/signatures"


def check_rows(pg: Postgres, prefix: str) -> dict[str, int]:
    row = fetch(
        pg.dsn,
        """SELECT count(DISTINCT s.id) AS signatures, count(DISTINCT t.id) AS tokens,
                  count(DISTINCT o.id) AS outbox,
                  count(DISTINCT o.id) FILTER (WHERE o.status = 'sent') AS sent
           FROM signatures s
           LEFT JOIN signature_tokens t ON t.signature_id = s.id
           LEFT JOIN outbox o ON o.signature_id = s.id
           WHERE s.email LIKE $1""",
        prefix + "%",
    )[0]
    return dict(row)


def wait_mail(pg: Postgres, sink: SmtpSink, timeout: float = 300) -> float:
    """Seconds until the outbox is empty of queued or sending messages."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        left = fetchval(pg.dsn, "SELECT count(*) FROM outbox WHERE status IN ('queued','sending')")
        if left == 0:
            return time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError("the outbox did not drain")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument(
        "--rate", type=int, default=500, help="also measure latency at about this rate (0: no)"
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="serve without the mail worker (to see what sending costs; mail is then not checked)",
    )
    parser.add_argument(
        "--mail-process",
        action="store_true",
        help="the production layout (docker-compose): `serve --no-worker` and the mail sent by "
        "`campaign worker` in a process of its own, during the run",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, help="py-spy flame graph of one server process")
    args = parser.parse_args()
    # Behind a load balancer, as in production: the client is read from X-Forwarded-For.
    extra_env = {"TRUSTED_PROXIES": "127.0.0.1"} | dict(e.split("=", 1) for e in args.env)
    result: dict[str, object] = {"machine": machine(), "args": vars(args)}
    with throwaway_postgres() as pg, smtp_sink(pg.tmp) as sink:
        campaign_id, version = fetch(
            pg.dsn, "SELECT id, current_version FROM campaigns WHERE slug = $1", SLUG
        )[0]
        codes = [
            r["code"]
            for r in fetch(
                pg.dsn,
                "SELECT code FROM territories WHERE level = 'commune' "
                "ORDER BY population DESC NULLS LAST LIMIT 2000",
            )
        ]
        codes_file = pg.tmp / "codes.txt"
        codes_file.write_text("\n".join(codes) + "\n")
        variants = {"sign_new": sign_script(campaign_id, version)}
        if has_limits():  # the service also counts each signing against the anti-abuse limits
            variants["limits+sign_new"] = sign_script(campaign_id, version, limits=True)
        baselines = {}
        for name, text in variants.items():
            script = pg.tmp / f"{name}.pgbench.sql"
            script.write_text(text)
            checkpoint(pg.dsn)
            wait_quiet()
            log(f"baseline: pgbench on {name}")
            cpu = CpuAccount(postgres=[pg.pid], smtp_sink=[sink.proc.pid], bench=[os.getpid()])
            cpu.start()
            base = pg.pgbench(
                script, clients=args.connections, threads=args.threads, seconds=args.seconds
            )
            base["cpu_share"] = cpu.stop()
            base["script"] = text
            baselines[name] = base
            log(f"pgbench {name}: {base['tps']:.0f} tps")
            # Its rows must not keep the mail worker busy during the figure.
            fetch(pg.dsn, "DELETE FROM signatures WHERE email LIKE 'pgb-%'")
            if name != "sign_new":
                fetch(pg.dsn, "DELETE FROM abuse_counters")
            fetch(pg.dsn, "VACUUM ANALYZE")
        # Like for like: the SQL the service runs per signing (the last variant).
        base = baselines[list(variants)[-1]]

        run = uuid.uuid4().hex[:8]
        no_worker = args.no_worker or args.mail_process
        with (
            campaign_server(
                pg, sink, workers=args.workers, extra_env=extra_env, no_worker=no_worker
            ) as srv,
            contextlib.ExitStack() as stack,
        ):
            mailer = (
                [stack.enter_context(mail_worker(pg, sink, srv.url)).pid]
                if (args.mail_process)
                else []
            )
            url = srv.url + PATH
            lua = BENCH / "wrk" / "sign.lua"
            log("warm-up")
            wrk(
                url,
                lua,
                connections=args.connections,
                threads=args.threads,
                seconds=args.warmup,
                args=[run + "w", str(codes_file)],
            )
            checkpoint(pg.dsn)
            wait_quiet()
            log("figure: wrk on the API")
            cpu = CpuAccount(
                server=srv.pids,
                postgres=[pg.pid],
                smtp_sink=[sink.proc.pid],
                bench=[os.getpid()],
                **({"mail_worker": mailer} if mailer else {}),
            )
            cpu.start()
            reads = TableReads(pg.dsn)
            reads.start()
            waits = WaitSampler(pg.dsn)
            waits.start()
            profiler = start_profiler(srv, args.profile, args.seconds)
            fig = wrk(
                url,
                lua,
                connections=args.connections,
                threads=args.threads,
                seconds=args.seconds,
                args=[run, str(codes_file)],
            )
            fig["cpu_share"] = cpu.stop()
            fig["postgres_waits"] = waits.stop()
            fig["postgres_reads"] = reads.stop()
            fig["checkpoints_started"] = reads.checkpoints()
            stop_profiler(profiler)
            log(f"wrk: {fig['rps']:.0f} req/s, p99 {fig['latency_us']['p99'] / 1000:.1f} ms")
            # The backlog of the peak must not weigh on what follows.
            drain = 0.0 if args.no_worker else wait_mail(pg, sink)
            paced = None
            if args.rate:
                # The latency a signer sees at a given rate (not the saturation point).
                checkpoint(pg.dsn)
                wait_quiet()
                pause_ms = max(0, int(args.connections / args.rate * 1000) - 5)
                log(f"paced: about {args.rate} signatures/s")
                paced = wrk(
                    url,
                    BENCH / "wrk" / "sign_paced.lua",
                    connections=args.connections,
                    threads=args.threads,
                    seconds=args.seconds,
                    args=[run + "p", str(codes_file), str(pause_ms)],
                )
                p99 = paced["latency_us"]["p99"] / 1000
                log(f"paced: {paced['rps']:.0f} req/s, p99 {p99:.1f} ms")
                if not args.no_worker:
                    wait_mail(pg, sink)
            server_log = srv.log_text()
        time.sleep(0.5)
        rows = check_rows(pg, f"wrk-{run}-")
        paced_rows = check_rows(pg, f"wrk-{run}p-") if paced else None
        accepted, bad = ok_statuses(fig, 202)
        errors_in_log = [
            line for line in server_log.splitlines() if " ERROR " in line or "Traceback" in line
        ]
        checks = {
            "accepted_202": accepted,
            "other_statuses_or_socket_errors": bad,
            **rows,
            "mail_drain_s_after_run": round(drain, 1),
            "smtp_sink_received_total": sink.received(),
            "outbox_sent_total": fetchval(
                pg.dsn, "SELECT count(*) FROM outbox WHERE status='sent'"
            ),
            "server_log_errors": len(errors_in_log),
        }
        # Every 202 has its rows; requests cut by the end of the run may add at most one per
        # connection (committed, answer not counted).
        ok = (
            bad == 0
            and accepted <= rows["signatures"] <= accepted + args.connections
            and rows["tokens"] == rows["signatures"] == rows["outbox"]
            and (args.no_worker or rows["outbox"] == rows["sent"])
            and checks["smtp_sink_received_total"] >= checks["outbox_sent_total"]
            and not errors_in_log
        )
        if paced is not None and paced_rows is not None:
            paced_ok, paced_bad = ok_statuses(paced, 202)
            checks["paced_202"] = paced_ok
            checks["paced_rows"] = paced_rows
            ok = ok and (
                paced_bad == 0
                and paced_ok <= paced_rows["signatures"] <= paced_ok + args.connections
                and paced_rows["tokens"] == paced_rows["signatures"] == paced_rows["outbox"]
                and (args.no_worker or paced_rows["outbox"] == paced_rows["sent"])
            )
        ratio = fig["rps"] / base["tps"]
        ratios = {name: round(fig["rps"] / b["tps"], 3) for name, b in baselines.items()}
        p99_ms = fig["latency_us"]["p99"] / 1000
        result.update(
            baseline_pgbench={
                name: {k: v for k, v in b.items() if k != "output"} for name, b in baselines.items()
            },
            ratios=ratios,
            paced_wrk=None if paced is None else {k: v for k, v in paced.items() if k != "output"},
            disturbed=any(disturbed(r["cpu_share"]) for r in [fig, *baselines.values()]),
            figure_wrk={k: v for k, v in fig.items() if k != "output"},
            checks=checks,
            no_error_no_loss=ok,
            ratio=round(ratio, 3),
            p99_ms=round(p99_ms, 1),
            target_met=bool(ratio >= 0.5 and p99_ms < 50 and ok),
            loadavg_at_end=__import__("os").getloadavg(),
        )
        for b in baselines.values():
            print(b["output"], file=sys.stderr)
        print(fig["output"], file=sys.stderr)
        if errors_in_log:
            print("\n".join(errors_in_log[:20]), file=sys.stderr)
    summary = (
        f"signing: {fig['rps']:.0f} req/s vs pgbench "
        + ", ".join(f"{n} {b['tps']:.0f} tps (ratio {ratios[n]:.2f})" for n, b in baselines.items())
        + f" (target >= 0.5), p99 {p99_ms:.1f} ms (target < 50), "
        f"checks {'OK' if ok else 'FAILED'}"
    )
    result["summary"] = summary
    print(summary)
    if args.out:
        dump(args.out, result)


if __name__ == "__main__":
    main()
