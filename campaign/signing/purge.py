"""`campaign purge`: what the privacy notice promises about time, done.

- signatures never confirmed are deleted `UNCONFIRMED_DAYS` after they were made (with their
  links and emails);
- `RETENTION_MONTHS` after a campaign closes, every one of its signatures is anonymised (names,
  address, comment, relay code, register match, links): the counts stay;
- the limits' counters (keyed hashes of client networks, domains, addresses) go after
  `LIMITS_KEEP_DAYS`.

Safe with several processes (a PostgreSQL advisory lock: one runs, the others skip), idempotent
(running it twice changes nothing), and `--dry-run` says what it would do. The mail worker runs it
once a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import msgspec

from campaign.core.db import DB_ERRORS, Q
from campaign.core.settings import Settings
from campaign.signing import withdrawal

log = logging.getLogger(__name__)

LOCK_KEY = 6_020_002  # pg_advisory_xact_lock key of the purge
DAY_SECONDS = 24 * 3600.0


class PurgeReport(msgspec.Struct, frozen=True, kw_only=True):
    unconfirmed_deleted: int
    anonymised: int
    counters_erased: int
    ran: bool = True  # False: another process held the lock


async def purge(conn: asyncpg.Connection, settings: Settings, *, dry_run: bool) -> PurgeReport:
    """One purge, in one transaction, under the advisory lock (skipped if another holds it)."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK_KEY):
            return PurgeReport(unconfirmed_deleted=0, anonymised=0, counters_erased=0, ran=False)
        due = [
            r["id"] for r in await conn.fetch(Q["purge_retention_due"], settings.retention_months)
        ]
        if dry_run:
            return PurgeReport(
                unconfirmed_deleted=await conn.fetchval(
                    Q["purge_unconfirmed_count"], settings.unconfirmed_days
                ),
                anonymised=len(due),
                counters_erased=await conn.fetchval(
                    Q["abuse_old_counters"], settings.limits_keep_days
                ),
            )
        deleted = await conn.execute(Q["purge_unconfirmed"], settings.unconfirmed_days)
        anonymised = await withdrawal.erase(conn, due, withdraw=False) if due else []
        counters = await conn.execute(Q["abuse_forget_counters"], settings.limits_keep_days)
    report = PurgeReport(
        unconfirmed_deleted=_rows(deleted),
        anonymised=len(anonymised),
        counters_erased=_rows(counters),
    )
    log.info(
        "purge: %d unconfirmed signature(s) deleted, %d anonymised, %d counter(s) erased",
        report.unconfirmed_deleted,
        report.anonymised,
        report.counters_erased,
    )
    return report


def _rows(status: str) -> int:
    return int(status.split()[-1])


def describe(report: PurgeReport, settings: Settings, *, dry_run: bool) -> str:
    """The French summary the command prints."""
    if not report.ran:
        return "Une autre purge est en cours : rien n’a été fait."
    verb = "seraient" if dry_run else "ont été"
    lines = [
        "Simulation : rien n’a été modifié." if dry_run else "Purge effectuée.",
        f"- signatures non confirmées depuis plus de {settings.unconfirmed_days} jours : "
        f"{report.unconfirmed_deleted} {verb} supprimées ;",
        f"- signatures de campagnes closes depuis plus de {settings.retention_months} mois : "
        f"{report.anonymised} {verb} anonymisées (les décomptes restent) ;",
        f"- compteurs anti-abus de plus de {settings.limits_keep_days} jours : "
        f"{report.counters_erased} {verb} effacés.",
    ]
    return "\n".join(lines)


async def run_daily(pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event) -> None:
    """The worker's daily purge: soon after start, then every 24 hours, until `stop`."""
    delay = 60.0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            return
        try:
            async with pool.acquire() as conn:
                await purge(conn, settings, dry_run=False)
            delay = DAY_SECONDS
        except DB_ERRORS as exc:
            log.warning("purge: database unavailable (%s); retrying in 10 min", type(exc).__name__)
            delay = 600.0
        except Exception:
            log.exception("purge failed; retrying in 1 h")
            delay = 3600.0
