"""The app and its database for the tests: migrated databases, free ports, the app served by
uvicorn over real HTTP, addresses of our own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from campaign.core import migrations


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NO_LIMITS = {
    "SIGN_LIMIT_NETWORK": "0",
    "SIGN_LIMIT_DOMAIN": "0",
    "SIGN_LIMIT_RESENDS": "0",
    "SIGN_LIMIT_CAMPAIGN": "0",
    "FORM_MIN_SECONDS": "0",
    "SEARCH_RATE_PER_MINUTE": "0",  # tests/site/test_public_search_bounds.py tests it
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
            # loading the form: limits and the form's timing are tested by apps of their own
            # (tests/signing/test_abuse.py).
            **NO_LIMITS,
            # The one reminder is tested in a database of its own (tests/signing/test_reminders.py).
            "REMINDER_AFTER_HOURS": "0",
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


def unique_email(prefix: str = "elu") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@mairie-test.fr"
