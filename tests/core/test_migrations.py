"""Migrations: in order, once, under an advisory lock; and every named query prepares."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg

from campaign.core import migrations
from campaign.core.db import Q, parse_queries


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    empty_database: str,
) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "campaign",
            "migrate",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(out.decode() for out, _ in outputs)
    # One process applied everything; the other waited on the lock, then found nothing to do.
    assert "0001_initial" in said[0] and "aucune" in said[1], said
    conn = await asyncpg.connect(empty_database)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r["name"] for r in rows] == [name for _, name, _ in migrations.migration_files()]
        assert await migrations.pending_migrations(conn) == []
    finally:
        await conn.close()


async def test_concurrent_migrate_calls_in_one_process(empty_database: str) -> None:
    results = await asyncio.gather(*(migrations.migrate(empty_database) for _ in range(4)))
    applied = [r for r in results if r]
    assert len(applied) == 1
    assert applied[0] == [name for _, name, _ in migrations.migration_files()]


async def test_a_failing_migration_leaves_nothing_half_applied(
    empty_database: str, tmp_path, monkeypatch
) -> None:
    good = tmp_path / "0001_good.sql"
    good.write_text("CREATE TABLE a (x int);")
    bad = tmp_path / "0002_bad.sql"
    bad.write_text("CREATE TABLE b (x int); SELECT no_such_function();")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    original = migrations.migration_files
    monkeypatch.setattr(
        migrations, "migration_files", lambda directory=tmp_path: original(directory)
    )
    try:
        await migrations.migrate(empty_database)
    except asyncpg.PostgresError:
        pass
    else:
        raise AssertionError("the bad migration should have failed")
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('a') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('b') IS NULL")
        assert await conn.fetchval("SELECT array_agg(version) FROM schema_migrations") == [1]
    finally:
        await conn.close()


async def test_every_named_query_prepares_against_the_migrated_database(
    db: asyncpg.Connection,
) -> None:
    assert len(Q) > 10
    async with db.transaction():  # the territories loader's queries read its temporary table
        await db.execute(Q["territories_create_staging"])
        for name, sql in Q.items():
            try:
                await db.prepare(sql)
            except asyncpg.PostgresError as exc:
                raise AssertionError(f"query {name!r} does not prepare: {exc}") from exc


def test_query_files_reject_duplicate_names() -> None:
    text = "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n"
    try:
        parse_queries(text, "x.sql")
    except ValueError as exc:
        assert "twice" in str(exc)
    else:
        raise AssertionError("duplicate names must be refused")
    assert parse_queries("-- about\n-- name: b\nSELECT 1;\n", "y.sql") == {"b": "SELECT 1"}
