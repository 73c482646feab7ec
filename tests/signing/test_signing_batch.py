"""Group commit of signings (campaign/signing_batch.py): signings arriving together are written in
one commit, with the same outcome as if they had come one after the other."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest

from campaign.core import db
from campaign.core.settings import Settings, load_settings
from campaign.letter.campaigns import Campaign, list_campaigns
from campaign.signing import abuse, signatures
from campaign.signing import batch as batch_module
from campaign.signing.batch import SigningBatcher
from campaign.signing.signatures import SignOutcome
from campaign.signing.validation import SigningRequest
from campaign.territories.index import TerritoryIndex
from tests.support.app import unique_email

SLUG = "jouer-collectif"


@pytest.fixture
async def pool(dsn: str, server: str) -> AsyncIterator[asyncpg.Pool]:
    """The test server's database, where the demo campaign has been seeded."""
    p = await db.create_pool(dsn, min_size=1, max_size=6)
    yield p
    await p.close()


@pytest.fixture
async def campaign(pool: asyncpg.Pool) -> Campaign:
    async with pool.acquire() as conn:
        return next(c for c in await list_campaigns(conn) if c.slug == SLUG)


@pytest.fixture
async def index(pool: asyncpg.Pool) -> TerritoryIndex:
    async with pool.acquire() as conn:
        return await TerritoryIndex.load(conn)


def settings_with(tmp_path: Path, **limits: str) -> Settings:
    # A secret of its own: the limits' counters of this test are its own too.
    env = {"SECRET_KEY": secrets.token_hex(16), "DATA_DIR": str(tmp_path), **limits}
    return load_settings(env)


def request(index: TerritoryIndex, email: str, code: str = "69123") -> SigningRequest:
    territory = index.get("commune", code)
    assert territory is not None
    return SigningRequest(
        given_name="Camille",
        family_name="Martin",
        email=email,
        mandate="conseiller_municipal",
        territory=territory,
        public=True,
        comment=None,
        ref=None,
    )


def signals(network: str | None = None) -> abuse.Signals:
    client = None if network is None else ipaddress.ip_address(network)
    return abuse.Signals(client=client)


async def test_signings_together_share_commits_and_end_as_one_by_one(
    pool: asyncpg.Pool, campaign: Campaign, index: TerritoryIndex, tmp_path: Path
) -> None:
    settings = settings_with(tmp_path, SIGN_LIMIT_NETWORK="0", SIGN_LIMIT_DOMAIN="0")
    batcher = SigningBatcher(pool, settings)
    fresh = [unique_email("lot") for _ in range(240)]
    twice = [unique_email("deux-fois") for _ in range(20)]
    confirmed = [unique_email("deja") for _ in range(10)]
    for email in confirmed:  # signed and confirmed before the rush
        assert await batcher.sign(campaign, request(index, email), signals()) is (
            SignOutcome.CREATED
        )
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE signatures SET status = 'confirmed', confirmed_at = now() "
            "WHERE email = ANY($1)",
            confirmed,
        )
    batches_before = batcher.batches

    everyone = fresh + twice + twice + confirmed
    outcomes = await asyncio.gather(
        *(batcher.sign(campaign, request(index, email), signals()) for email in everyone)
    )

    # Shared commits: far fewer batches than signings, some of many signings.
    assert batcher.batches - batches_before < len(everyone) / 10
    assert batcher.largest >= 50
    by_email: dict[str, list[SignOutcome]] = {}
    for email, outcome in zip(everyone, outcomes, strict=True):
        by_email.setdefault(email, []).append(outcome)
    assert all(by_email[e] == [SignOutcome.CREATED] for e in fresh)
    # Twice in the same rush: created by one, refreshed (a new link) by the other.
    assert all(sorted(o.value for o in by_email[e]) == ["created", "resent"] for e in twice)
    assert all(by_email[e] == [SignOutcome.ALREADY_CONFIRMED] for e in confirmed)

    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT s.email, s.status, s.emails_sent, s.suspect, s.consent_at IS NOT NULL AS "
            "consented, (SELECT count(*) FROM signature_tokens t WHERE t.signature_id = s.id) "
            "AS tokens, (SELECT array_agg(o.template ORDER BY o.id) FROM outbox o "
            "WHERE o.signature_id = s.id) AS mails FROM signatures s "
            "WHERE s.campaign_id = $1 AND s.email = ANY($2)",
            campaign.id,
            everyone,
        )
    stored = {r["email"]: r for r in rows}
    assert len(stored) == len(fresh) + len(twice) + len(confirmed)  # one signature per address
    for email in fresh:
        r = stored[email]
        assert (r["status"], r["emails_sent"], r["tokens"], r["mails"]) == (
            "pending",
            1,
            1,
            ["confirm"],
        )
        assert r["consented"] and not r["suspect"]
    for email in twice:
        r = stored[email]
        assert (r["emails_sent"], r["tokens"], r["mails"]) == (2, 2, ["confirm", "confirm"])
    for email in confirmed:
        assert stored[email]["mails"] == ["confirm", "already_signed"]


async def test_limits_are_judged_as_if_the_signings_came_one_after_the_other(
    pool: asyncpg.Pool, campaign: Campaign, index: TerritoryIndex, tmp_path: Path
) -> None:
    settings = settings_with(
        tmp_path,
        SIGN_LIMIT_NETWORK="3",
        SIGN_LIMIT_DOMAIN="5",
        SIGN_LIMIT_RESENDS="1",
        SIGN_LIMIT_CAMPAIGN="12",
    )
    batcher = SigningBatcher(pool, settings)
    domain = f"mairie-{secrets.token_hex(4)}.fr"

    # 8 signings from one network (3 allowed), 8 from one domain (5 allowed), the same address
    # three times (first submission and one re-send allowed), and enough in all to pass the
    # campaign's ceiling of 12 in the hour.
    def alone() -> str:  # at a domain of its own, under no one else's limit
        return f"elu@{secrets.token_hex(5)}.fr"

    same_network = [(alone(), "198.51.100.7") for _ in range(8)]
    same_domain = [(f"{secrets.token_hex(5)}@{domain}", None) for _ in range(8)]
    again = alone()
    same_address = [(again, None)] * 3
    signings = same_network + same_domain + same_address
    outcomes = await asyncio.gather(
        *(batcher.sign(campaign, request(index, e), signals(n)) for e, n in signings)
    )
    assert batcher.largest > 1

    async with pool.acquire() as conn:
        reasons = {
            r["email"]: r["suspect_reasons"]
            for r in await conn.fetch(
                "SELECT email, suspect_reasons FROM signatures "
                "WHERE campaign_id = $1 AND email = ANY($2)",
                campaign.id,
                [e for e, _ in signings],
            )
        }
        hits = dict(
            await conn.fetch(
                "SELECT kind, sum(hits) FROM abuse_counters WHERE key = ANY($1) "
                "AND window_start = date_trunc('hour', now()) GROUP BY kind",
                [
                    abuse._key(settings.secret_key, "network", "198.51.100.0/24"),
                    abuse._key(settings.secret_key, "domain", domain),
                    *abuse._campaign_shards(settings.secret_key, campaign.id),
                ],
            )
        )
    # Every signing counted once.
    assert hits == {"network": 8, "domain": 8, "campaign": len(signings)}
    flagged = Counter(r for rs in reasons.values() for r in rs)
    assert flagged["network_limit"] == 8 - 3
    assert flagged["domain_limit"] == 8 - 5
    # The campaign's ceiling: the signings after the 12th of the hour, in the batch's order
    # (the order they arrived in), whatever the shard each one hit.
    over = {e for e, rs in reasons.items() if "campaign_ceiling" in rs}
    assert over == {e for e, _ in signings[12:]}
    # The third submission of the same address: over its re-send limit, nothing sent.
    assert sorted(o.value for o in outcomes[-3:]) == ["created", "nothing_sent", "resent"]


async def test_a_bad_signing_fails_alone(
    pool: asyncpg.Pool, campaign: Campaign, index: TerritoryIndex, tmp_path: Path
) -> None:
    settings = settings_with(tmp_path)
    batcher = SigningBatcher(pool, settings)
    good = [unique_email("bon") for _ in range(6)]
    bad = unique_email("mauvais")
    # Past validation but refused by the database: a territory it does not know.
    known = request(index, bad)
    broken = msgspec.structs.replace(
        known, territory=msgspec.structs.replace(known.territory, code="00000")
    )
    emails = [*good[:3], bad, *good[3:]]
    requests = [request(index, e) if e != bad else broken for e in emails]
    results = await asyncio.gather(
        *(batcher.sign(campaign, r, signals()) for r in requests), return_exceptions=True
    )
    assert isinstance(results[3], asyncpg.ForeignKeyViolationError)
    assert [r for n, r in enumerate(results) if n != 3] == [SignOutcome.CREATED] * 6
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM signatures WHERE email = ANY($1)", emails
        )
        counted = await conn.fetchval(
            "SELECT count(*) FROM abuse_counters WHERE kind = 'email' AND key = ANY($1) "
            "AND hits = 1",
            [abuse._key(settings.secret_key, "email", e) for e in emails],
        )
    assert stored == 6
    assert counted == 7  # each signing counted once, the failed one too, none twice


async def test_a_cancelled_request_does_not_cancel_its_batch(
    pool: asyncpg.Pool, campaign: Campaign, index: TerritoryIndex, tmp_path: Path
) -> None:
    batcher = SigningBatcher(pool, settings_with(tmp_path))
    emails = [unique_email("parti") for _ in range(5)]
    tasks = [
        asyncio.create_task(batcher.sign(campaign, request(index, e), signals())) for e in emails
    ]
    await asyncio.sleep(0)  # queued, their batch being written
    tasks[2].cancel()  # its client went away
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM signatures WHERE email = ANY($1)", emails)
            == 5
        )


async def test_mail_workers_are_woken_once_after_the_batches_not_by_each_commit(
    pool: asyncpg.Pool,
    dsn: str,
    campaign: Campaign,
    index: TerritoryIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A window wide enough that the three batches fall in it on a loaded machine too (with the
    # service's 50 ms, a slow machine's batches may span two windows: two wake-ups, by design).
    monkeypatch.setattr(batch_module, "WAKE_DELAY", 1.0)
    batcher = SigningBatcher(pool, settings_with(tmp_path), max_batch=20)
    listener = await asyncpg.connect(dsn)
    heard: list[float] = []
    loop = asyncio.get_running_loop()
    await listener.add_listener("outbox", lambda *_: heard.append(loop.time()))
    try:
        emails = [unique_email("reveil") for _ in range(60)]
        await asyncio.gather(
            *(batcher.sign(campaign, request(index, e), signals()) for e in emails)
        )
        committed = loop.time()
        assert batcher.batches == 3
        for _ in range(300):
            if heard:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        # One wake-up for every batch of the window, shortly after it closes.
        assert len(heard) == 1
        assert heard[0] - committed < 1.5
    finally:
        await listener.close()


async def test_the_search_index_is_merged_in_the_background_every_so_many_signatures(
    pool: asyncpg.Pool, campaign: Campaign, index: TerritoryIndex, tmp_path: Path
) -> None:
    """The new signatures wait in the search index's pending list; merging it is left to no
    signing (migration 0010): the batcher does it in the background every `merge_every`."""

    async def sign_twenty(batcher: SigningBatcher) -> None:
        reqs = [request(index, unique_email("index")) for _ in range(20)]
        await asyncio.gather(*(batcher.sign(campaign, r, signals()) for r in reqs))

    async with pool.acquire() as conn:
        await signatures.merge_search_pending(conn)  # from an empty list
        await sign_twenty(SigningBatcher(pool, settings_with(tmp_path), merge_every=None))
        assert await signatures.merge_search_pending(conn) > 0, "they waited in the list"

        batcher = SigningBatcher(pool, settings_with(tmp_path), merge_every=10)
        await sign_twenty(batcher)
        for _ in range(200):
            if batcher.merges:
                break
            await asyncio.sleep(0.01)
        assert batcher.merges == 1
        assert await signatures.merge_search_pending(conn) == 0, "merged already"


async def test_the_tables_a_rush_fills_are_analysed_each_time_its_signings_double(
    pool: asyncpg.Pool, campaign: Campaign, index: TerritoryIndex, tmp_path: Path
) -> None:
    """A generic plan made while a table was nearly empty reads it whole as it fills
    (campaign/signing_batch.py, ANALYZE_FIRST): the batcher renews the statistics of the tables a
    rush fills, hence every cached plan over them, in the background, after `analyze_first`
    of its signatures, then twice as many, and so on."""
    batcher = SigningBatcher(pool, settings_with(tmp_path), merge_every=None, analyze_first=4)

    async def sign(n: int) -> None:
        reqs = [request(index, unique_email("stats")) for _ in range(n)]
        await asyncio.gather(*(batcher.sign(campaign, r, signals()) for r in reqs))

    async def analysed(expected: int) -> None:
        for _ in range(500):
            if batcher.analyses >= expected:
                break
            await asyncio.sleep(0.01)
        assert batcher.analyses == expected

    async def estimated_rows() -> list[tuple[int, int]]:
        """(rows PostgreSQL's statistics say, rows there are) of two of those tables."""
        return [
            (
                int(
                    await pool.fetchval(
                        f"SELECT reltuples FROM pg_class WHERE oid = '{t}'::regclass"
                    )
                ),
                int(await pool.fetchval(f"SELECT count(*) FROM {t}")),
            )
            for t in ("signatures", "signature_tokens")
        ]

    await sign(3)
    await asyncio.sleep(0.1)
    assert batcher.analyses == 0
    await sign(1)  # the fourth
    await analysed(1)
    assert all(said == there for said, there in await estimated_rows())

    await sign(3)  # seven: the next one is at eight
    await asyncio.sleep(0.1)
    assert batcher.analyses == 1
    stale = await estimated_rows()
    assert all(said < there for said, there in stale)
    await sign(1)
    await analysed(2)
    assert all(said == there for said, there in await estimated_rows())


async def test_upkeep_the_role_may_not_do_is_left_to_autovacuum_and_signing_goes_on(
    pool: asyncpg.Pool,
    dsn: str,
    campaign: Campaign,
    index: TerritoryIndex,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A service whose role may write the tables but does not own them (a managed database, a
    cautious administrator): merging the search index's pending list is refused, so the batcher
    stops asking and leaves it to autovacuum; ANALYZE only warns. Signings are written all the
    same, and nothing else stops."""
    role = "campaign_guest"
    with contextlib.suppress(asyncpg.DuplicateObjectError):
        await pool.execute(f"CREATE ROLE {role} LOGIN")
    await pool.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
    )
    await pool.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    assert "//postgres:@/" in dsn
    guest = await db.create_pool(
        dsn.replace("//postgres:@/", f"//{role}:@/"), min_size=1, max_size=3
    )
    caplog.set_level(logging.WARNING, logger="campaign.signing.batch")
    try:
        batcher = SigningBatcher(guest, settings_with(tmp_path), merge_every=2, analyze_first=2)
        for round_ in range(3):
            reqs = [request(index, unique_email(f"guest-{round_}")) for _ in range(3)]
            outcomes = await asyncio.gather(*(batcher.sign(campaign, r, signals()) for r in reqs))
            assert outcomes == [SignOutcome.CREATED] * 3
            await asyncio.sleep(0.2)  # the background upkeep of the round
    finally:
        await guest.close()
    refused = [r.getMessage() for r in caplog.records if "left to autovacuum" in r.getMessage()]
    assert len(refused) == 1, refused  # asked once, then no more
    assert "merge the search index's pending list" in refused[0]
    assert batcher.merges == 0
    assert batcher.analyses >= 1  # PostgreSQL warned and skipped the tables: no error


async def test_what_a_crash_may_lose_is_committed_without_waiting_for_the_disk(
    pool: asyncpg.Pool, campaign: Campaign, tmp_path: Path
) -> None:
    """The limits' counters and the mail worker's claims and records: one disk flush less each
    (a crash loses at most a few counts, or sends a message again); the signatures themselves
    wait for it, a 202 means stored."""
    settings = settings_with(tmp_path)
    statements = {
        "abuse_assess_batch": lambda conn: abuse.assess_many(
            conn, settings, campaign.id, [(unique_email("flush"), signals())]
        ),
        "outbox_claim": lambda conn: conn.fetch(db.Q["outbox_claim"], 0, 60.0),
        "outbox_mark_sent": lambda conn: conn.fetch(db.Q["outbox_mark_sent"], [sending], [1]),
    }
    async with pool.acquire() as conn:
        # Being sent by a worker that holds it for an hour: no other worker takes it.
        sending = await conn.fetchval(
            """INSERT INTO outbox (template, recipient, status, attempts, locked_until)
               VALUES ('confirm', $1, 'sending', 1, now() + interval '1 hour') RETURNING id""",
            unique_email("flush"),
        )
        for name, run in statements.items():
            async with conn.transaction():
                await run(conn)
                assert await conn.fetchval("SHOW synchronous_commit") == "off", name
            assert await conn.fetchval("SHOW synchronous_commit") == "on", name
        async with conn.transaction():
            await signatures.sign_new_many(conn, settings, campaign, [])
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
        assert await conn.fetchval(
            "DELETE FROM outbox WHERE id = $1 RETURNING status", sending
        ) == ("sent")
