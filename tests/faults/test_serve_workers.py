"""`campaign serve --workers N`: refused without a database and a relay, served by N processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from campaign.cli import build_parser, cmd_serve
from campaign.core.settings import load_settings
from tests.support.app import free_port
from tests.support.mail import Mailbox

ROOT = Path(__file__).resolve().parents[2]


def _workers(pid: int) -> list[psutil.Process]:
    """uvicorn's worker processes (multiprocessing spawns them)."""
    return [c for c in psutil.Process(pid).children() if "spawn_main" in " ".join(c.cmdline())]


def _serve(*argv: str, **env: str) -> None:
    settings = load_settings({"SECRET_KEY": "k", "DATA_DIR": os.environ["DATA_DIR"], **env})
    cmd_serve(settings, build_parser().parse_args(["serve", *argv]))


def test_several_processes_need_a_database_and_a_relay() -> None:
    with pytest.raises(SystemExit, match="DATABASE_URL et SMTP_URL requis"):
        _serve("--workers", "2")
    with pytest.raises(SystemExit, match="SMTP_URL requis"):
        _serve("--workers", "2", DATABASE_URL="postgresql://x/y")
    with pytest.raises(SystemExit, match="DATABASE_URL requis"):
        _serve("--workers", "2", "--no-worker")  # no mail sent here: no relay needed
    with pytest.raises(SystemExit, match="au moins 1"):
        _serve("--workers", "0")


async def test_two_worker_processes_serve_and_stop(dsn: str, mailbox: Mailbox) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}",  # type: ignore[attr-defined]
        "PORT": str(port),
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "campaign", "serve", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(300):
                assert proc.poll() is None, "serve --workers 2 exited"
                try:
                    ready = (await client.get("/ready")).status_code == 200
                except httpx.TransportError:
                    ready = False
                if ready and len(_workers(proc.pid)) == 2:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("serve --workers 2 never became ready with two processes")
            # The parent seeded the database once; either process answers.
            for _ in range(10):
                counts = await client.get("/api/v1/campaigns/jouer-collectif/counts")
                assert counts.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
