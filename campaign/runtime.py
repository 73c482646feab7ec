"""Start-up and shut-down of everything a process runs: database, caches, listener, mail.

One `Runtime` per process; handlers receive it by dependency injection and hold no other state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from litestar.di import NamedDependency

from campaign.core import db, migrations
from campaign.core.bodies import LastBuilt, Pages
from campaign.core.bounded import RatePerMinute, TTLCache
from campaign.core.clock import Clock
from campaign.core.settings import Settings
from campaign.counts.cache import CountsCache
from campaign.counts.history import HistoryCache, HistoryRecorder
from campaign.counts.latest import LatestSignatories
from campaign.counts.live import Broadcaster
from campaign.hooks.worker import HookWorker
from campaign.letter import campaigns as campaigns_mod
from campaign.letter.campaigns import CampaignRegistry
from campaign.mail.contexts import EmailContexts
from campaign.mail.message import EMAILS_DIR, MailRenderer
from campaign.mail.sink import MailSink
from campaign.mail.smtp import SmtpSender
from campaign.mail.worker import MailWorker
from campaign.publication.letter import Publication
from campaign.publication.opendata import OpenData
from campaign.reach import attestation, attestation_emails
from campaign.reach import emails as reach_emails
from campaign.reach.mairies import TownHalls
from campaign.register import officials, verification
from campaign.signing import emails as signing_emails
from campaign.signing import purge, reminders
from campaign.signing.batch import SigningBatcher
from campaign.signing.confirm_batch import ConfirmBatcher
from campaign.territories import index as territories
from campaign.territories.index import TerritoryIndex

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    dsn: str
    pool: asyncpg.Pool
    index: TerritoryIndex
    campaigns: CampaignRegistry
    counts: CountsCache
    broadcaster: Broadcaster
    writes: asyncpg.Pool
    """The rush's writes (signing batches, the mail worker), apart from the reads
    (campaign/db.py, create_writes_pool)."""
    mail_sink: MailSink | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    """"Now" for everything public (embargo, countdown, history); tests move it."""
    town_halls: TownHalls = field(default_factory=TownHalls)
    """The town halls' addresses, read on first use (invitations by département)."""
    latest: LatestSignatories = field(init=False)
    """The newest public signatories, in memory."""
    history: HistoryCache = field(init=False)
    """The hourly history of the counts, in memory."""
    signing: SigningBatcher = field(init=False)
    """Signings written together, one commit per batch."""
    confirming: ConfirmBatcher = field(init=False)
    """Confirmations written together, one commit per batch."""
    widgets: LastBuilt[tuple[bytes, str, bytes]] = field(default_factory=LastBuilt)
    """The embeddable widget's bodies (HTML, ETag, gzip), per campaign and variant."""
    publication: Publication = field(init=False)
    """The published list and files, built once per change."""
    opendata: OpenData = field(init=False)
    """The open-data files (counts under Licence Ouverte), built once per change."""
    search_rate: RatePerMinute = field(init=False)
    """Public name searches per client network and minute."""
    searches: TTLCache[Any] = field(init=False)
    """The last public searches' answers, for a few seconds (a crowd typing the same name)."""
    pages: Pages = field(default_factory=Pages)
    """The public pages' bodies (HTML, ETag, gzip), built once per change of what they show
    (campaign/site/cached_pages.py) and replayed by campaign/web/hotreads.py."""

    def __post_init__(self) -> None:
        self.latest = LatestSignatories(self.pool, self.counts)
        self.history = HistoryCache(self.pool, self.index)
        self.signing = SigningBatcher(self.writes, self.settings)
        self.confirming = ConfirmBatcher(self.writes)
        self.publication = Publication(self.pool, self.counts, self.index, self.clock)
        self.opendata = OpenData(self.pool, self.counts, self.index, self.settings.base_url)
        self.search_rate = RatePerMinute(self.settings.search_rate_per_minute)
        self.searches = TTLCache(512, 10.0)


def email_contexts() -> EmailContexts:
    """Each email kind's context builder, from the feature the email belongs to; one registry per
    mail worker (it holds the mailings' rendered messages)."""
    contexts = EmailContexts()
    signing_emails.register(contexts)
    reach_emails.ReachEmails().register(contexts)
    attestation_emails.register(contexts)
    return contexts


async def prepare_database(settings: Settings, dsn: str) -> None:
    """Migrations, then the territories and the demo campaign when the database has none."""
    applied = await migrations.migrate(dsn)
    if applied:
        log.info("migrations applied: %s", ", ".join(applied))
    conn = await asyncpg.connect(dsn)
    try:
        if await territories.territories_count(conn) == 0:
            n = await territories.load_territories(conn)
            log.info("loaded %d territories", n)
        if await officials.officials_count(conn) == 0:
            log.warning(
                "the register of elected officials is empty: no signature can be verified "
                "until `campaign load-officials` loads it"
            )
        created = await campaigns_mod.seed_campaigns(conn, settings.campaigns_dir)
        if created:
            log.info("created campaigns: %s", ", ".join(created))
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, *, run_worker: bool = True) -> AsyncIterator[Runtime]:
    dsn = settings.database_url
    if dsn is None:  # initdb and pg_ctl block: keep the loop free
        dsn = await asyncio.to_thread(db.start_embedded_postgres, settings)
    await prepare_database(settings, dsn)
    pool = await db.create_pool(
        dsn,
        min_size=min(2, settings.db_pool_size),
        max_size=settings.db_pool_size,
        command_timeout=settings.db_command_timeout,
        acquire_timeout=settings.db_acquire_timeout,
    )
    writes = await db.create_writes_pool(dsn, settings, max_size=8)
    try:
        async with pool.acquire() as conn:
            index = await TerritoryIndex.load(conn)
            registry = CampaignRegistry(await campaigns_mod.list_campaigns(conn))
        counts = CountsCache(index)
        runtime = Runtime(
            settings,
            dsn,
            pool,
            index,
            registry,
            counts,
            Broadcaster(
                dsn,
                counts,
                registry,
                keepalive=settings.sse_keepalive_seconds,
                max_per_network=settings.sse_max_per_network,
                max_streams=settings.sse_max_streams,
                idle_close=settings.sse_idle_seconds,
            ),
            writes,
        )
        try:
            await _start_tasks(runtime, run_worker)
            yield runtime
        finally:
            runtime.stop.set()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=5)
            if runtime.mail_sink is not None:
                runtime.mail_sink.stop()
    finally:
        await writes.close()
        await pool.close()


async def _start_tasks(runtime: Runtime, run_worker: bool) -> None:
    settings = runtime.settings
    runtime.tasks.append(asyncio.create_task(runtime.broadcaster.run(runtime.stop)))
    # Every serve process (workers or not): the first one to reach an hour records it.
    recorder = HistoryRecorder(runtime.pool, runtime.clock)
    runtime.tasks.append(asyncio.create_task(recorder.run(runtime.stop)))
    if run_worker:
        smtp_url = settings.smtp_url
        if smtp_url is None:
            runtime.mail_sink = MailSink()
            smtp_url = runtime.mail_sink.start()
        for work in sending_workers(
            settings, runtime.dsn, smtp_url, writes=runtime.writes, reads=runtime.pool
        ):
            runtime.tasks.append(asyncio.create_task(work(runtime.stop)))
    # Counts are served from memory: wait for their first load before taking requests.
    await asyncio.wait_for(runtime.broadcaster.connected.wait(), timeout=30)


def sending_workers(
    settings: Settings, dsn: str, smtp_url: str, *, writes: asyncpg.Pool, reads: asyncpg.Pool
) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """What runs wherever mail is sent (`serve` unless --no-worker, `campaign worker`), each until
    its stop event is set: the mail worker; the register's verification of confirmed signatures
    (never in a request); the privacy notice's delays, once a day (campaign/signing/purge.py); the
    one reminder of signatures still pending (campaign/signing/reminders.py); the attestation
    emails to town halls (campaign/reach/attestation.py); the webhooks' deliveries."""
    mail = MailWorker(
        writes,
        dsn,
        settings,
        MailRenderer(EMAILS_DIR),
        SmtpSender(smtp_url, pool_size=settings.mail_smtp_pool),
        contexts=email_contexts(),
    )
    return [
        mail.run,
        functools.partial(verification.run_worker, reads, dsn),
        functools.partial(purge.run_daily, reads, settings),
        functools.partial(reminders.run, writes, settings),
        functools.partial(attestation.run_worker, reads, dsn, settings, TownHalls()),
        HookWorker(reads, dsn, settings).run,  # the organisations' webhooks (campaign/hooks/)
    ]


RuntimeDep = NamedDependency[Runtime]
"""How handlers ask for the runtime (provided by the app factory)."""
