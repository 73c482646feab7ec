"""What one mailbox may receive, and sending over few connections: the per-recipient daily cap
(every kind of email, a flagged signature's mail), canonical addresses in Python and SQL, and the
SMTP pool against real SMTP servers (aiosmtpd, and a relay that drops connections)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from campaign.core.settings import Settings, load_settings
from campaign.mail import addresses
from campaign.mail.message import MailRenderer
from campaign.mail.sink import free_port
from campaign.mail.smtp import SmtpSender
from campaign.mail.worker import MailWorker
from campaign.runtime import email_contexts
from tests.support.app import migrated_database

SECRET = "test-secret-key-not-for-production"


@pytest.fixture(scope="module")
async def dsn(pg_server: str) -> str:
    """A database of this module's own: no other worker sends its messages."""
    return await migrated_database(pg_server, "campaign_caps_test")


class Counting:
    """aiosmtpd handler: the connections (one EHLO each), the recipients of what it accepted;
    refuses RCPT from a script first when one is set."""

    def __init__(self) -> None:
        self.connections = 0
        self.received: Counter[str] = Counter()
        self.rcpt_replies: dict[str, list[str]] = {}

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        script = self.rcpt_replies.get(address)
        if script:
            return script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            self.received[rcpt] += 1
        return "250 OK"


@pytest.fixture
def sink() -> Any:
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}"  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def settings_for(smtp_url: str, **extra: str) -> Settings:
    return load_settings(
        {
            "SMTP_URL": smtp_url,
            "BASE_URL": "https://lettre.example.fr",
            "SECRET_KEY": SECRET,
            "MAIL_FROM": "Jouer collectif <lettre@jouer-collectif.example>",
            "MAIL_RETRY_BASE_SECONDS": "0.01",
            "MAIL_MAX_ATTEMPTS": "5",
            **extra,
        }
    )


@pytest.fixture
async def make_worker(dsn: str) -> AsyncIterator[Callable[..., Any]]:
    pools: list[asyncpg.Pool] = []

    async def make(settings: Settings, **kw: Any) -> MailWorker:
        assert settings.smtp_url is not None
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=6)
        pools.append(pool)
        sender = SmtpSender(settings.smtp_url, pool_size=settings.mail_smtp_pool)
        return MailWorker(
            pool, dsn, settings, MailRenderer(), sender, contexts=email_contexts(), **kw
        )

    yield make
    for pool in pools:
        await pool.close()


class Signers:
    """A campaign of its own and its signatures; removed afterwards with their messages."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.tag = uuid.uuid4().hex[:10]
        self.campaign_id: int | None = None

    async def make(self, n: int, *, suspect: bool = False) -> list[tuple[int, str]]:
        """`n` confirmed signatures: (id, address)."""
        if self.campaign_id is None:
            self.campaign_id = await self.db.fetchval(
                "INSERT INTO campaigns (slug, title, launch_at) VALUES ($1, 'Essai', now())"
                " RETURNING id",
                f"caps-{self.tag}",
            )
            await self.db.execute(
                "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'T')",
                self.campaign_id,
            )
        rows = await self.db.fetch(
            """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                   territory_level, territory_code, public, letter_version, status, suspect)
               SELECT $1, 'elu' || g || '-' || $2 || '@mairie-exemple.fr', 'Anne', 'Martin',
                      'maire', 'commune', '69123', true, 1, 'confirmed', $4
               FROM generate_series(1, $3) g
               RETURNING id, email""",
            self.campaign_id,
            uuid.uuid4().hex[:8],
            n,
            suspect,
        )
        return [(r["id"], r["email"]) for r in rows]

    async def enqueue(self, signature_id: int, recipient: str, n: int = 1) -> list[int]:
        return [
            await self.db.fetchval(
                "INSERT INTO outbox (template, recipient, signature_id)"
                " VALUES ('already_signed', $1, $2) RETURNING id",
                recipient,
                signature_id,
            )
            for _ in range(n)
        ]

    async def statuses(self, ids: list[int]) -> Counter[str]:
        rows = await self.db.fetch("SELECT status FROM outbox WHERE id = ANY($1)", ids)
        return Counter(r["status"] for r in rows)

    async def cleanup(self) -> None:
        if self.campaign_id is not None:
            await self.db.execute("DELETE FROM campaigns WHERE id = $1", self.campaign_id)
        await self.db.execute("DELETE FROM outbox WHERE recipient ILIKE '%' || $1 || '%'", self.tag)
        await self.db.execute("DELETE FROM mail_caps")


@pytest.fixture
async def signers(db: asyncpg.Connection) -> AsyncIterator[Signers]:
    made = Signers(db)
    yield made
    await made.cleanup()


async def drain(worker: MailWorker, signers: Signers, ids: list[int]) -> None:
    for _ in range(200):
        await worker.run_once()
        statuses = await signers.statuses(ids)
        if set(statuses) <= {"sent", "failed", "cancelled"}:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the outbox was not drained: {await signers.statuses(ids)}")


# -- canonical addresses ---------------------------------------------------------------------------

ALIASES = [
    ("Anne.Martin@gmail.com", "annemartin@gmail.com"),
    ("a.n.n.e.martin+lettre@googlemail.com", "annemartin@gmail.com"),
    ("ANNEMARTIN+x+y@GMAIL.COM", "annemartin@gmail.com"),
    (" anne+tag@outlook.fr ", "anne@outlook.fr"),
    ("anne.martin+tag@icloud.com", "anne.martin@icloud.com"),
    ("anne.martin+tag@mairie-exemple.fr", "anne.martin+tag@mairie-exemple.fr"),
    ("Anne.Martin@Mairie-Exemple.FR", "anne.martin@mairie-exemple.fr"),
    ("anne.martin@orange.fr", "anne.martin@orange.fr"),
]


@pytest.mark.parametrize(("address", "expected"), ALIASES)
async def test_python_and_sql_agree_on_the_canonical_address(
    address: str, expected: str, db: asyncpg.Connection
) -> None:
    assert addresses.canonical(address) == expected
    assert await db.fetchval("SELECT email_canonical($1)", address) == expected


def test_the_cap_key_is_keyed_and_shared_by_aliases() -> None:
    key = addresses.cap_key(SECRET, "Anne.Martin+x@gmail.com")
    assert key == addresses.cap_key(SECRET, "annemartin@googlemail.com")
    assert key != addresses.cap_key("another-secret", "annemartin@gmail.com")
    assert b"annemartin" not in key and len(key) == 32


# -- the per-recipient daily cap -------------------------------------------------------------------


async def test_every_kind_of_email_counts_against_one_daily_cap_per_mailbox(
    sink: Any, signers: Signers, make_worker: Any, db: asyncpg.Connection
) -> None:
    worker = await make_worker(settings_for(sink.url, MAIL_RECIPIENT_DAILY_CAP="3"))
    [(signature_id, _)] = await signers.make(1)
    local = f"maire{signers.tag}"
    aliases = [f"{local}@gmail.com", f"{local[:3]}.{local[3:]}+a@googlemail.com"]
    ids = await signers.enqueue(signature_id, aliases[0], 2)
    ids += await signers.enqueue(signature_id, aliases[1], 2)
    other = await signers.db.fetchval(
        "INSERT INTO outbox (template, recipient, signature_id, token_id)"
        " VALUES ('mailing', $1, NULL, NULL) RETURNING id",
        aliases[1].upper(),
    )  # a mailing's test send: another kind, the same mailbox
    await drain(worker, signers, [*ids, other])
    assert await signers.statuses([*ids, other]) == {"sent": 3, "cancelled": 2}
    assert sum(sink.received.values()) == 3
    reasons = await db.fetch(
        "SELECT last_error FROM outbox WHERE id = ANY($1) AND status = 'cancelled'", [*ids, other]
    )
    assert {r["last_error"] for r in reasons} == {
        "Plafond quotidien de courriels pour ce destinataire atteint"
    }
    # Only a keyed hash of the mailbox is kept, under today's date.
    keys = await db.fetch("SELECT address_key, claimed FROM mail_caps")
    assert [(bytes(r["address_key"]), r["claimed"]) for r in keys] == [
        (addresses.cap_key(SECRET, aliases[0]), 5)
    ]


async def test_a_flagged_signature_gets_one_email_a_day(
    sink: Any, signers: Signers, make_worker: Any
) -> None:
    worker = await make_worker(settings_for(sink.url))
    [(signature_id, address)] = await signers.make(1, suspect=True)
    ids = await signers.enqueue(signature_id, address, 4)
    await drain(worker, signers, ids)
    assert await signers.statuses(ids) == {"sent": 1, "cancelled": 3}
    assert sink.received[address] == 1


async def test_no_cap_still_caps_a_flagged_signature_and_a_retry_is_not_counted_again(
    sink: Any, signers: Signers, make_worker: Any
) -> None:
    worker = await make_worker(settings_for(sink.url, MAIL_RECIPIENT_DAILY_CAP="0"))
    [(clean_id, clean), (flagged_id, _)] = await signers.make(2)
    await signers.db.execute("UPDATE signatures SET suspect = true WHERE id = $1", flagged_id)
    flagged = await signers.db.fetchval("SELECT email FROM signatures WHERE id = $1", flagged_id)
    sink.rcpt_replies[clean] = ["451 4.3.0 Réessayez plus tard"] * 2
    clean_ids = await signers.enqueue(clean_id, clean, 12)
    flagged_ids = await signers.enqueue(flagged_id, flagged, 2)
    await drain(worker, signers, clean_ids + flagged_ids)
    assert await signers.statuses(clean_ids) == {"sent": 12}
    assert await signers.statuses(flagged_ids) == {"sent": 1, "cancelled": 1}


async def test_a_retried_message_is_not_capped_by_its_own_first_attempt(
    sink: Any, signers: Signers, make_worker: Any
) -> None:
    worker = await make_worker(settings_for(sink.url, MAIL_RECIPIENT_DAILY_CAP="1"))
    [(signature_id, address)] = await signers.make(1)
    sink.rcpt_replies[address] = ["451 4.3.0 Réessayez plus tard"] * 3
    ids = await signers.enqueue(signature_id, address)
    await drain(worker, signers, ids)
    assert await signers.statuses(ids) == {"sent": 1}
    assert sink.received[address] == 1


# -- SMTP connections kept and reused -------------------------------------------------------------


async def test_many_messages_go_over_a_few_connections(
    sink: Any, signers: Signers, make_worker: Any
) -> None:
    worker = await make_worker(settings_for(sink.url, MAIL_SMTP_POOL="3"), batch_size=10)
    made = await signers.make(60)
    ids = [i for sid, address in made for i in await signers.enqueue(sid, address)]
    await drain(worker, signers, ids)
    assert await signers.statuses(ids) == {"sent": 60}
    assert sorted(sink.received.values()) == [1] * 60
    assert sink.connections <= 3


async def test_without_a_pool_each_message_has_its_connection(
    sink: Any, signers: Signers, make_worker: Any
) -> None:
    worker = await make_worker(settings_for(sink.url, MAIL_SMTP_POOL="0"))
    made = await signers.make(12)
    ids = [i for sid, address in made for i in await signers.enqueue(sid, address)]
    await drain(worker, signers, ids)
    assert sorted(sink.received.values()) == [1] * 12
    assert sink.connections == 12


class DroppingRelay:
    """A relay that ends each connection at its fourth MAIL (as relays that cap messages per
    connection do), and drops every seventh message in the middle of its DATA (never stored).
    Counts what it stored, per recipient."""

    def __init__(self) -> None:
        self.stored: Counter[str] = Counter()
        self.connections = 0
        self.data_seen = 0
        self.dropped_mid_data = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 relais\r\n")
        stored_here, rcpt = 0, ""
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-relais\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL" and stored_here == 3:
                    break  # dropped without a word
                elif verb == b"RCPT":
                    rcpt = line.split(b":", 1)[1].strip().strip(b"<>").decode()
                    writer.write(b"250 ok\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go\r\n")
                    await writer.drain()
                    self.data_seen += 1
                    if self.data_seen % 7 == 0:
                        await reader.readline()
                        self.dropped_mid_data += 1
                        break
                    await reader.readuntil(b"\r\n.\r\n")
                    self.stored[rcpt] += 1
                    stored_here += 1
                    writer.write(b"250 2.0.0 ok\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        finally:
            writer.close()


async def test_a_relay_that_drops_connections_mid_batch_gets_everything_exactly_once(
    signers: Signers, make_worker: Any
) -> None:
    relay = DroppingRelay()
    server = await asyncio.start_server(relay.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = settings_for(f"smtp://127.0.0.1:{port}", MAIL_SMTP_POOL="4")
        worker = await make_worker(settings, batch_size=10)
        made = await signers.make(50)
        ids = [i for sid, address in made for i in await signers.enqueue(sid, address)]
        await drain(worker, signers, ids)
    finally:
        server.close()
        await server.wait_closed()
    assert await signers.statuses(ids) == {"sent": 50}
    assert sorted(relay.stored.values()) == [1] * 50
    assert set(relay.stored) == {address for _, address in made}
    assert relay.dropped_mid_data >= 5
    assert relay.connections < 50


@pytest.mark.parametrize(
    ("subject", "sender"),
    [
        (
            "Confirmez votre signature de la lettre « Jouer collectif », un sujet long à plier",
            "J <l@x.fr>",
        ),
        ("Des nouvelles", "Élise Dupont <e@mairie-exemple.fr>"),
        ("x" * 1200, "lettre@x.fr"),
    ],
)
def test_messages_go_on_the_wire_as_the_standard_generator_writes_them(
    subject: str, sender: str
) -> None:
    """`flatten` writes our headers without re-folding them: byte for byte what the standard
    library's generator writes, faster."""
    import io
    from email.generator import BytesGenerator

    from campaign.mail.message import (
        _WIRE,
        RenderedEmail,
        build_message,
        flatten,
        unsubscribe_headers,
    )

    message = build_message(
        RenderedEmail(subject=subject, text="Bonjour é\n" * 3, html="<p>é</p>"),
        sender=sender,
        recipient="anne.martin@mairie-exemple.fr",
        message_id_domain="x.fr",
        headers=unsubscribe_headers("https://lettre.example.fr/desinscription/" + "a" * 80),
        message_id="<outbox-1@x.fr>",
    )
    standard = io.BytesIO()
    BytesGenerator(standard, policy=_WIRE).flatten(message)
    assert flatten(message) == standard.getvalue()
