"""Helpers for the hardening and fault tests: an app of our own over real HTTP, `campaign serve`
as a real process, a TCP proxy that can blackhole a connection, log capture."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from tests.support.app import NO_LIMITS, free_port, serve_app

PROJECT = Path(__file__).resolve().parents[2]
SLUG = "jouer-collectif"
SIGN = f"/api/v1/campaigns/{SLUG}/signatures"


def app_env(**env: str) -> dict[str, str]:
    """The settings' environment of a test app (same secret and data folder as the session)."""
    return {
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "DATA_DIR": os.environ["DATA_DIR"],
        "MAIL_POLL_SECONDS": "0.2",
        "MAIL_RETRY_BASE_SECONDS": "0.05",
        "SSE_KEEPALIVE_SECONDS": "0.5",
        **NO_LIMITS,  # the tests sign many times from 127.0.0.1
        **env,
    }


def make_app(**env: str) -> tuple[Litestar, str]:
    """An app built from `env` (BASE_URL on a free port unless given), and its base URL."""
    from campaign.app import create_app
    from campaign.core.settings import load_settings

    if "BASE_URL" not in env:
        env["BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(app_env(**env))
    return create_app(settings), env["BASE_URL"]


@contextlib.asynccontextmanager
async def serve(app: Litestar, port: int) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1:`port`, configured as `campaign serve` does."""
    async with serve_app(app, port, server_header=False) as base:
        yield base


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


class CapturedLogs(logging.Handler):
    """Every log record of the process while installed (formatted, with its logger name)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.levelname} {record.name}: {text}")

    def text(self) -> str:
        return "\n".join(self.lines)


@contextlib.contextmanager
def captured_logs(name: str = "campaign") -> Iterator[CapturedLogs]:
    """The records of the `campaign` loggers. The handler sits on that logger, not on the root:
    Litestar's logging setup replaces the root's handlers when an app starts."""
    handler = CapturedLogs()
    logger = logging.getLogger(name)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


# -- `campaign …` as a real process ------------------------------------------------------------


class Process:
    """A `campaign` command running as a child process, its output collected in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SMTP_URL")}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "campaign", *args],
            cwd=PROJECT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.proc.poll() is None:
            if loop.time() > deadline:
                raise TimeoutError(f"process still running after {timeout} s")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


async def wait_http(base: str, path: str = "/health", timeout: float = 60.0) -> None:
    """Until the server at `base` answers `path` with 200."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(path)).status_code == 200:
                    return
            if loop.time() > deadline:
                raise TimeoutError(f"{base}{path} did not answer within {timeout} s")
            await asyncio.sleep(0.1)


# -- a TCP proxy that can stop forwarding without closing ----------------------------------------


class BlackholeProxy:
    """Forwards TCP connections from a loopback port to PostgreSQL's Unix socket (or a TCP
    address). `blackhole()` stops forwarding in both directions on every connection, old and
    new, without closing anything: the peers see a silent network. `heal()` forwards again."""

    def __init__(self, unix_socket: str | None = None, target: tuple[str, int] | None = None):
        self._unix = unix_socket
        self._target = target
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.connections = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def blackhole(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            await self._flowing.wait()  # a connection opened during the outage hangs too
            if self._unix:
                up_reader, up_writer = await asyncio.open_unix_connection(self._unix)
            else:
                assert self._target is not None
                up_reader, up_writer = await asyncio.open_connection(*self._target)
        except (OSError, asyncio.CancelledError):
            writer.close()
            return
        self._writers.add(up_writer)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for w in (writer, up_writer):
                w.close()
            self._tasks.difference_update(pumps)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                await self._flowing.wait()  # held, not dropped: delivered after heal()
                writer.write(data)
                await writer.drain()

    async def close(self) -> None:
        self._flowing.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for w in list(self._writers):
            w.close()
        await asyncio.sleep(0)


def body(email: str, **overrides: Any) -> dict[str, Any]:
    """A valid signing body."""
    return {
        "given_name": "Jeanne",
        "family_name": "Robert",
        "email": email,
        "mandate": "conseiller_regional",
        "territory_code": "84",
        "public": False,
        **overrides,
    }
