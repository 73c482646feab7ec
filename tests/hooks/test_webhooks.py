"""Webhooks against a real local receiver: signed as documented, retried exactly when they
failed, never carrying a signer who withdrew; the back office's test button sends a ping.

The deliveries live in a database of this module's own: the session's app runs a webhook worker
too, which must not take them."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from campaign.core import tokens
from campaign.core.audit import CLI_ACTOR
from campaign.core.settings import Settings, load_settings
from campaign.hooks import addresses, deliveries, endpoints
from campaign.hooks.worker import HookWorker
from campaign.letter.campaigns import CampaignDefinition, save_campaign
from campaign.signing import signatures, withdrawal
from tests.support.admin import csrf_of, logged_in
from tests.support.app import app_server, migrated_database
from tests.support.mail import Mailbox
from tests.support.receiver import Receiver, receiver

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
ALL_EVENTS = list(endpoints.EVENTS)


def documented_verify() -> Callable[[str, str, bytes], bool]:
    """The verification snippet of docs/webhooks.md, run as a receiver would copy it."""
    block = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/webhooks.md has no Python snippet"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    verify: Callable[[str, str, bytes], bool] = namespace["verify"]
    return verify


@pytest.fixture(scope="module")
async def hooks_dsn(pg_server: str) -> str:
    return await migrated_database(pg_server, f"hooks_{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def conn(hooks_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(hooks_dsn)
    yield c
    await c.close()


def settings() -> Settings:
    return msgspec.structs.replace(
        load_settings(), webhook_allow_local=True, webhook_retry_base_seconds=0.0
    )


@pytest.fixture
async def worker(hooks_dsn: str) -> AsyncIterator[HookWorker]:
    pool = await asyncpg.create_pool(hooks_dsn, min_size=1, max_size=4)
    w = HookWorker(pool, hooks_dsn, settings())
    yield w
    await w.close()
    await pool.close()


async def new_campaign(conn: asyncpg.Connection) -> int:
    campaign_id: int = await save_campaign(
        conn,
        CampaignDefinition(
            slug=f"hooks-{uuid.uuid4().hex[:8]}",
            title="Essai",
            launch_at=datetime(2027, 7, 8, 7, tzinfo=UTC),
            body="Texte.",
        ),
    )
    return campaign_id


async def pending(
    conn: asyncpg.Connection, campaign_id: int, family: str, *, public: bool = True
) -> tuple[str, int]:
    """A pending signature and its confirmation link's token."""
    signature_id = await conn.fetchval(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                                   territory_level, territory_code, public, letter_version)
           VALUES ($1, $2, 'Anne', $3, 'maire', 'commune', '69123', $4, 1) RETURNING id""",
        campaign_id,
        f"hooks.{uuid.uuid4().hex[:10]}@mairie-test.fr",
        family,
        public,
    )
    salt = tokens.new_salt()
    token = tokens.derive(os.environ["SECRET_KEY"], salt)
    await conn.execute(
        """INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
           VALUES ($1, 'confirm', $2, $3, $4)""",
        signature_id,
        salt,
        tokens.token_hash(token),
        datetime.now(UTC) + timedelta(days=1),
    )
    return token, signature_id


async def endpoint(
    conn: asyncpg.Connection, campaign_id: int, r: Receiver, events: list[str] = ALL_EVENTS
) -> tuple[int, str]:
    return await endpoints.create(
        conn,
        os.environ["SECRET_KEY"],
        campaign_id,
        url=r.url,
        events=events,
        allow_local=True,
        who=CLI_ACTOR,
    )


async def log(conn: asyncpg.Connection, endpoint_id: int) -> dict[str, deliveries.Delivery]:
    rows = await deliveries.log_of(conn, endpoint_id, limit=100)
    return {str(d.delivery_id): d for d in rows}


async def test_a_confirmation_arrives_signed_and_verifies_with_the_documented_snippet(
    conn: asyncpg.Connection, worker: HookWorker
) -> None:
    verify = documented_verify()
    campaign_id = await new_campaign(conn)
    async with receiver() as r:
        endpoint_id, secret = await endpoint(conn, campaign_id, r)
        token, signature_id = await pending(conn, campaign_id, "Signataire-Publique")
        await signatures.confirm_many(conn, [token])
        assert await worker.run_once() == 1
        [got] = r.received
    assert got.path == "/hooks/campagne"
    assert got.headers["x-campaign-event"] == "signature.confirmed"
    assert got.headers["x-campaign-delivery"] == got.json["id"]
    assert verify(secret, got.headers["x-campaign-signature"], got.body)
    assert not verify(secret, got.headers["x-campaign-signature"], got.body + b" ")
    assert not verify("whsec_autre", got.headers["x-campaign-signature"], got.body)
    stale = f"t={int(time.time()) - 3600},v1=" + got.headers["x-campaign-signature"].split("v1=")[1]
    assert not verify(secret, stale, got.body)
    data = got.json["data"]
    assert data["id"] == signature_id and data["listed"] is True
    assert data["family_name"] == "Signataire-Publique"
    assert data["territory"]["code"] == "69123" and data["mandate"] == "maire"
    assert b"@" not in got.body  # never an email address
    [row] = (await log(conn, endpoint_id)).values()
    assert (row.status, row.attempts, row.last_status) == ("delivered", 1, 200)


async def test_failed_deliveries_are_retried_and_only_they(
    conn: asyncpg.Connection, worker: HookWorker
) -> None:
    campaign_id = await new_campaign(conn)
    async with receiver(fail_first=[500, 503]) as r:
        endpoint_id, _ = await endpoint(conn, campaign_id, r, ["signature.confirmed"])
        made = [await pending(conn, campaign_id, f"Lot-{n}") for n in range(3)]
        await signatures.confirm_many(conn, [token for token, _ in made])
        assert await worker.run_once() == 3
        failed = {g.headers["x-campaign-delivery"] for g in r.received if g.answered != 200}
        assert len(failed) == 2
        logged = await log(conn, endpoint_id)
        assert {k for k, d in logged.items() if d.status == "queued"} == failed
        assert {logged[k].last_status for k in failed} == {500, 503}
        assert await worker.run_once() == 2
        again = {g.headers["x-campaign-delivery"] for g in r.received[3:]}
        assert again == failed
        assert await worker.run_once() == 0
        ok = [g.headers["x-campaign-delivery"] for g in r.ok()]
    assert len(ok) == len(set(ok)) == 3  # each delivery arrived once after its success
    logged = await log(conn, endpoint_id)
    assert {d.status for d in logged.values()} == {"delivered"}
    assert sorted(d.attempts for d in logged.values()) == [1, 2, 2]


async def test_a_receiver_failing_twice_then_succeeding_gets_the_same_delivery_three_times(
    conn: asyncpg.Connection, worker: HookWorker
) -> None:
    campaign_id = await new_campaign(conn)
    async with receiver(fail_first=[500, 500]) as r:
        endpoint_id, _ = await endpoint(conn, campaign_id, r)
        token, _ = await pending(conn, campaign_id, "Tenace")
        await signatures.confirm_many(conn, [token])
        for _ in range(4):
            await worker.run_once()
        assert [g.answered for g in r.received] == [500, 500, 200]
        assert len({g.headers["x-campaign-delivery"] for g in r.received}) == 1
    [row] = (await log(conn, endpoint_id)).values()
    assert (row.status, row.attempts) == ("delivered", 3)


async def test_a_withdrawn_signer_never_leaks(conn: asyncpg.Connection, worker: HookWorker) -> None:
    campaign_id = await new_campaign(conn)
    async with receiver() as r:
        endpoint_id, _ = await endpoint(conn, campaign_id, r)
        gone_token, gone = await pending(conn, campaign_id, "Partie-Avant-Envoi")
        hidden_token, hidden = await pending(conn, campaign_id, "Non-Listee", public=False)
        await signatures.confirm_many(conn, [gone_token, hidden_token])
        # She withdraws before the worker sends her confirmation.
        async with conn.transaction():
            await withdrawal.erase(conn, [gone], withdraw=True)
        await worker.run_once()
        await worker.run_once()
        received = {(g.json["type"], g.json["data"]["id"]): g for g in r.received}
    assert set(received) == {("signature.confirmed", hidden), ("signature.withdrawn", gone)}
    assert received["signature.withdrawn", gone].json["data"] == {"id": gone}
    assert all(b"Partie-Avant-Envoi" not in g.body for g in r.received)
    unlisted = received["signature.confirmed", hidden].json["data"]
    assert unlisted["listed"] is False and "family_name" not in unlisted
    assert b"Non-Listee" not in received["signature.confirmed", hidden].body
    states = {(d.event, d.signature_id): d.status for d in (await log(conn, endpoint_id)).values()}
    assert states["signature.confirmed", gone] == "dropped"


async def test_a_rejected_signature_is_withdrawn_for_receivers_and_restored_confirmed(
    conn: asyncpg.Connection, worker: HookWorker
) -> None:
    """The organisers' rejection takes a signature out of the letter: receivers erase it."""
    campaign_id = await new_campaign(conn)
    async with receiver() as r:
        await endpoint(conn, campaign_id, r)
        token, signature_id = await pending(conn, campaign_id, "Rejetee")
        await signatures.confirm_many(conn, [token])
        await worker.run_once()
        reject = (
            "UPDATE signatures SET rejected_from = status, status = 'rejected',"
            " moderation_reason = 'doublon' WHERE id = $1"
        )
        await conn.execute(reject, signature_id)
        await worker.run_once()
        await conn.execute(
            "UPDATE signatures SET status = rejected_from, rejected_from = NULL WHERE id = $1",
            signature_id,
        )
        await worker.run_once()
        events = [(g.json["type"], g.json["data"]["id"]) for g in r.received]
        withdrawn = [g.json["data"] for g in r.received if g.json["type"] == "signature.withdrawn"]
    assert events == [
        ("signature.confirmed", signature_id),
        ("signature.withdrawn", signature_id),
        ("signature.confirmed", signature_id),
    ]
    assert withdrawn == [{"id": signature_id}]


async def test_a_confirmation_claimed_before_the_withdrawal_is_dropped_when_sent(
    conn: asyncpg.Connection, worker: HookWorker
) -> None:
    """The payload is read when it is sent: a withdrawal that comes after the claim still wins."""
    campaign_id = await new_campaign(conn)
    async with receiver() as r:
        endpoint_id, _ = await endpoint(conn, campaign_id, r, ["signature.confirmed"])
        token, gone = await pending(conn, campaign_id, "Partie-Pendant-Envoi")
        await signatures.confirm_many(conn, [token])
        [claimed] = await deliveries.claim(worker._pool, limit=10, lease_seconds=60)
        async with conn.transaction():
            await withdrawal.erase(conn, [gone], withdraw=True)
        await worker._send(claimed)
        assert r.received == []
    [row] = (await log(conn, endpoint_id)).values()
    assert row.status == "dropped"


async def test_verification_and_publication_are_announced_once(
    conn: asyncpg.Connection, worker: HookWorker
) -> None:
    campaign_id = await new_campaign(conn)
    async with receiver() as r:
        await endpoint(conn, campaign_id, r, ["signature.verified", "campaign.published"])
        token, signature_id = await pending(conn, campaign_id, "Verifiee")
        await signatures.confirm_many(conn, [token])  # not asked for: nothing sent
        # `verified` now means « proven » (migration 0014): an organisers' attestation proves it.
        await conn.execute(
            "UPDATE signatures SET proof = 'organisers', proof_at = now(), proof_by = 'test', "
            "proof_note = 'attesté' WHERE id = $1",
            signature_id,
        )
        await conn.execute(
            "UPDATE campaigns SET launch_at = now() - interval '1 minute' WHERE id = $1",
            campaign_id,
        )
        assert await deliveries.publish_due(worker._pool) >= 1
        assert await deliveries.publish_due(worker._pool) == 0
        await worker.run_once()
        types = sorted(g.json["type"] for g in r.received)
    assert types == ["campaign.published", "signature.verified"]
    verified = next(g for g in r.received if g.json["type"] == "signature.verified")
    assert verified.json["data"]["verified"] is True


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",
        "ftp://example.org/hook",
        "https://user:secret@example.org/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https:///hook",
    ],
)
async def test_refused_addresses(url: str) -> None:
    with pytest.raises(addresses.AddressError):
        await addresses.check(url, allow_local=False)


async def test_local_http_only_when_allowed() -> None:
    assert await addresses.check("http://127.0.0.1:9/x", allow_local=True)
    with pytest.raises(addresses.AddressError):
        await addresses.check("http://10.0.0.1/x", allow_local=True)
    with pytest.raises(addresses.AddressError):
        await addresses.check("http://127.0.0.1:9/x", allow_local=False)


async def test_a_refused_endpoint_writes_nothing(conn: asyncpg.Connection) -> None:
    campaign_id = await new_campaign(conn)
    for url, events in (("https://10.0.0.1/x", ALL_EVENTS), ("https://127.0.0.1/x", ["autre"])):
        with pytest.raises((addresses.AddressError, endpoints.EndpointError)):
            await endpoints.create(
                conn, "k", campaign_id, url=url, events=events, allow_local=False, who=CLI_ACTOR
            )
    assert await endpoints.all_of(conn, campaign_id) == []


async def test_the_test_button_delivers_a_ping(hooks_dsn: str, mailbox: Mailbox) -> None:
    verify = documented_verify()
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    db = await asyncpg.connect(hooks_dsn)
    try:
        async with (
            receiver() as r,
            app_server(
                DATABASE_URL=hooks_dsn, SMTP_URL=smtp_url, WEBHOOK_ALLOW_LOCAL="true"
            ) as base,
        ):
            async with logged_in(base, db, "organiser") as organiser:
                assert (await organiser.get("/admin/webhooks")).status_code == 403
            async with logged_in(base, db, "admin") as admin:
                page = await admin.get("/admin/webhooks")
                form = {"url": r.url, "evenements": "ping", "_csrf_token": csrf_of(page.text)}
                refused = await admin.post("/admin/webhooks", data=form)
                assert refused.status_code == 422 and "Choisissez" in refused.text
                form["evenements"] = "signature.confirmed"
                no_csrf = {k: v for k, v in form.items() if k != "_csrf_token"}
                assert (await admin.post("/admin/webhooks", data=no_csrf)).status_code == 403
                created = await admin.post("/admin/webhooks", data=form)
                assert created.status_code == 200, created.text
                secret = re.search(r'value="(whsec_[^"]+)"', created.text)
                assert secret, created.text
                endpoint_id = int(re.search(r"/admin/webhooks/(\d+)", created.text).group(1))  # type: ignore[union-attr]
                detail = await admin.get(f"/admin/webhooks/{endpoint_id}")
                assert secret.group(1) not in detail.text  # shown once
                tested = await admin.post(
                    f"/admin/webhooks/{endpoint_id}/test",
                    data={"_csrf_token": csrf_of(detail.text)},
                )
                assert tested.status_code == 303
                for _ in range(100):
                    if r.ok():
                        break
                    await asyncio.sleep(0.1)
                [ping] = r.ok()
                assert ping.json["type"] == "ping"
                assert verify(secret.group(1), ping.headers["x-campaign-signature"], ping.body)
                for _ in range(50):
                    shown = (await admin.get(f"/admin/webhooks/{endpoint_id}")).text
                    if "Remis" in shown:
                        break
                    await asyncio.sleep(0.1)
                assert "Remis" in shown and "HTTP 200" in shown
                assert ping.json["id"] in shown
                journal = (await admin.get("/admin/journal")).text
                assert f"a envoyé un test au webhook n°\u00a0{endpoint_id}" in journal
    finally:
        await db.close()


def test_local_addresses_are_never_allowed_on_a_public_site() -> None:
    local = msgspec.structs.replace(load_settings(), webhook_allow_local=True)
    assert addresses.local_allowed(local)
    public = msgspec.structs.replace(local, base_url="https://jouer-collectif.fr")
    assert not addresses.local_allowed(public)
