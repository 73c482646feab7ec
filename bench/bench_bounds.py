"""Hostile clients against one `campaign serve` process (issue 15, §2): do `/` and signing keep
answering?

    .venv/bin/python bench/bench_bounds.py [--streams 20000] [--networks 4] [--slow 2000]
                                           [--rows 100000] [--seconds 10]

On a throwaway PostgreSQL with `--rows` public signatures (names public), one server process
(TRUSTED_PROXIES=127.0.0.1, so the clients pick their networks with X-Forwarded-For). Each phase
measures the p99 of `GET /` and of signing (`POST …/signatures`) from a few polite clients, first
alone (the same run's baseline), then during the attack:

- sse: `--streams` SSE connections from `--networks` /24 networks, held by two client processes
  (each within its own open-files limit); counts 200 vs 503; RSS before, held, and after they left.
- slow: `--slow` connections each sending half a request head, directly to uvicorn, then through
  nginx with deploy/nginx.conf (when nginx is installed): how many the server closed in 20 s.
- search: 24 clients from 24 networks running random 3-letter name searches.
- login: 40 concurrent logins from rotating addresses on one account, for `--seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from admin_signatories import SEED
from common import (
    PYTHON,
    ROOT,
    SLUG,
    campaign_row,
    campaign_server,
    free_port,
    log,
    machine,
    throwaway_postgres,
)

API = f"/api/v1/campaigns/{SLUG}"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def polite(base: str, seconds: float) -> dict[str, Any]:
    """Two clients loading `/` and one signing, for `seconds`: p50/p99 in ms and failures."""
    pages: list[float] = []
    signs: list[float] = []
    failed = {"page": 0, "sign": 0}
    end = time.monotonic() + seconds

    async def page_loop() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            while time.monotonic() < end:
                t = time.monotonic()
                try:
                    ok = (await c.get("/")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                pages.append(time.monotonic() - t) if ok else None
                failed["page"] += not ok
                await asyncio.sleep(0.02)

    async def sign_loop() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            n = 0
            while time.monotonic() < end:
                n += 1
                body = {
                    "given_name": "Anne",
                    "family_name": "Polie",
                    "email": f"polie-{os.getpid()}-{time.time_ns()}-{n}@mairie-x.bench-test.fr",
                    "mandate": "maire",
                    "territory_code": "69123",
                    "public": True,
                }
                t = time.monotonic()
                try:
                    r = await c.post(
                        f"{API}/signatures",
                        json=body,
                        headers={"X-Forwarded-For": f"10.200.{n % 250}.{n % 200 + 1}"},
                    )
                    ok = r.status_code == 202
                except httpx.HTTPError:
                    ok = False
                signs.append(time.monotonic() - t) if ok else None
                failed["sign"] += not ok
                await asyncio.sleep(0.05)

    await asyncio.gather(page_loop(), page_loop(), sign_loop())
    return {
        "page_p50_ms": round(pct(pages, 50), 1),
        "page_p99_ms": round(pct(pages, 99), 1),
        "pages": len(pages),
        "sign_p50_ms": round(pct(signs, 50), 1),
        "sign_p99_ms": round(pct(signs, 99), 1),
        "signs": len(signs),
        "failed": failed,
    }


# -- SSE holders (a child process each: its own open-files limit) ------------------------------
async def hold(port: int, count: int, networks: int, first_net: int) -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    statuses: dict[str, int] = {}
    writers = []

    async def one(i: int) -> None:
        net = first_net + i % networks
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            statuses["connect_error"] = statuses.get("connect_error", 0) + 1
            return
        writer.write(
            f"GET {API}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Forwarded-For: 100.64.{net}.{i % 250 + 1}\r\n\r\n".encode()
        )
        try:
            line = await asyncio.wait_for(reader.readline(), 30)
            status = line[9:12].decode() or "closed"
        except (TimeoutError, OSError):
            status = "timeout"
        statuses[status] = statuses.get(status, 0) + 1
        if status == "200":
            writers.append(writer)
        else:
            writer.close()

    for start in range(0, count, 200):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 200))))
    print("READY " + json.dumps(statuses), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in writers:
        w.close()


def sse_phase(server: Any, port: int, args: argparse.Namespace) -> dict[str, Any]:
    rss_before = server.rss()
    holders = []
    half = args.streams // 2
    for k in range(2):
        holders.append(
            subprocess.Popen(
                [
                    str(PYTHON),
                    __file__,
                    "--hold",
                    str(port),
                    str(half),
                    str(args.networks // 2 or 1),
                    str(k * 100),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    statuses: dict[str, int] = {}
    for h in holders:
        assert h.stdout is not None
        line = h.stdout.readline()
        for status, n in json.loads(line.split(" ", 1)[1]).items():
            statuses[status] = statuses.get(status, 0) + n
    rss_held = server.rss()
    during = asyncio.run(polite(server.url, args.seconds))
    for h in holders:
        assert h.stdin is not None
        h.stdin.close()
        h.wait(60)
    time.sleep(3)
    return {
        "attempted": args.streams,
        "networks": args.networks,
        "statuses": statuses,
        "rss_mb": {
            "before": rss_before >> 20,
            "held": rss_held >> 20,
            "after_leaving": server.rss() >> 20,
        },
        "during": during,
    }


# -- slow clients ------------------------------------------------------------------------------
async def half_sent(port: int, count: int, wait: float) -> dict[str, int]:
    conns = []
    for start in range(0, count, 200):
        for _ in range(start, min(count, start + 200)):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
            conns.append((reader, writer))
        await asyncio.sleep(0)
    await asyncio.sleep(wait)
    closed = 0
    for reader, writer in conns:
        try:
            data = await asyncio.wait_for(reader.read(1), 0.01)
            closed += data == b"" or data.startswith(b"H")
        except TimeoutError:
            pass
        except OSError:
            closed += 1
        writer.close()
    return {"opened": len(conns), "closed_by_server": closed}


async def slow_phase(base: str, port: int, count: int, seconds: float) -> dict[str, Any]:
    flood = asyncio.create_task(half_sent(port, count, 20))
    await asyncio.sleep(2)
    during = await polite(base, seconds)
    return {**(await flood), "waited_s": 20, "during": during}


def nginx_front(app_port: int, tmp: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    nginx = shutil.which("nginx")
    if nginx is None:
        return None
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("server app:8000;", f"server 127.0.0.1:{app_port};")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("worker_processes auto;", f"worker_processes 1;\npid {tmp}/nginx.pid;")
    conf = conf.replace("http {", f"error_log {tmp}/nginx-error.log;\nhttp {{", 1)
    (tmp / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"]
    )
    time.sleep(1)
    return proc, port


# -- search and login floods -------------------------------------------------------------------
async def search_flood(base: str, clients: int, seconds: float) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    end = time.monotonic() + seconds

    async def one(net: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            while time.monotonic() < end:
                q = "".join(random.choices(string.ascii_lowercase, k=3))
                try:
                    r = await c.get(
                        "/signataires",
                        params={"q": q},
                        headers={"X-Forwarded-For": f"100.70.{net}.9"},
                    )
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                except httpx.HTTPError:
                    statuses[0] = statuses.get(0, 0) + 1

    results = await asyncio.gather(polite(base, seconds), *(one(n) for n in range(clients)))
    return {"clients": clients, "statuses": statuses, "during": results[0]}


async def login_flood(base: str, concurrent: int, seconds: float) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    end = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def one() -> None:
        # One client per attacker, reused (a new httpx client costs the driver an SSL context);
        # each attempt comes from another address.
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            while time.monotonic() < end:
                n = next(counter)
                headers = {"X-Forwarded-For": f"100.80.{n % 250}.{n // 250 % 250 + 1}"}
                try:
                    page = await c.get("/admin/connexion", headers=headers)
                    token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
                    r = await c.post(
                        "/admin/connexion",
                        headers=headers,
                        data={
                            "email": "cible@collectif-bench.fr",
                            "password": f"essai-{n}",
                            "_csrf_token": token,
                        },
                    )
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                except (httpx.HTTPError, IndexError):
                    statuses[0] = statuses.get(0, 0) + 1

    results = await asyncio.gather(polite(base, seconds), *(one() for _ in range(concurrent)))
    return {"concurrent": concurrent, "statuses": statuses, "during": results[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=20_000)
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--phases", default="sse,slow,search,login")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    phases = args.phases.split(",")
    results: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with throwaway_postgres() as pg:
        campaign_id, version = campaign_row(pg.dsn)

        async def seed() -> None:
            import asyncpg

            conn = await asyncpg.connect(pg.dsn)
            try:
                await conn.execute(SEED, campaign_id, version, args.rows)
                await conn.execute(
                    "UPDATE campaigns SET embargo = false, launch_at = now() - interval '1 day'"
                )
                await conn.execute("ANALYZE")
            finally:
                await conn.close()

        asyncio.run(seed())
        log(f"seeded {args.rows:,} signatures")
        env = {"TRUSTED_PROXIES": "127.0.0.1", "SIGN_LIMIT_NETWORK": "0", "FORM_MIN_SECONDS": "0"}
        with campaign_server(pg, None, workers=1, extra_env=env) as server:
            port = int(server.url.rsplit(":", 1)[1])
            asyncio.run(polite(server.url, 2))  # warm-up
            results["baseline"] = asyncio.run(polite(server.url, args.seconds))
            log(f"baseline {results['baseline']}")
            if "sse" in phases:
                results["sse"] = sse_phase(server, port, args)
                log(f"sse {results['sse']}")
            if "slow" in phases:
                results["slow_direct"] = asyncio.run(
                    slow_phase(server.url, port, args.slow, args.seconds)
                )
                log(f"slow direct {results['slow_direct']}")
                front = nginx_front(port, pg.tmp)
                if front is not None:
                    proc, front_port = front
                    try:
                        results["slow_nginx"] = asyncio.run(
                            slow_phase(
                                f"http://127.0.0.1:{front_port}",
                                front_port,
                                args.slow,
                                args.seconds,
                            )
                        )
                    finally:
                        proc.terminate()
                        proc.wait(10)
                    log(f"slow through nginx {results['slow_nginx']}")
            if "search" in phases:
                results["search"] = asyncio.run(search_flood(server.url, 24, args.seconds))
                log(f"search {results['search']}")
            if "login" in phases:
                results["login"] = asyncio.run(login_flood(server.url, 40, args.seconds))
                log(f"login {results['login']}")
            lines = server.log_text().splitlines()
            results["server_log_lines"] = len(lines)
            shapes = collections.Counter(re.sub(r"[0-9]+", "N", line[24:])[:100] for line in lines)
            results["server_log_top"] = shapes.most_common(5)
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--hold":
        port, count, networks, first = (int(a) for a in sys.argv[2:6])
        asyncio.run(hold(port, count, networks, first))
    else:
        main()
