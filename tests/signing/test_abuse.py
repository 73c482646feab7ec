"""Abuse: limits shared through PostgreSQL, the client address behind trusted proxies only, the
form's timing, disposable domains and block lists. Over a limit the answer is the same as any
other, and the signature is kept but flagged: not counted, not listed, until an organiser clears it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from campaign.core import clientaddr
from campaign.signing import abuse
from campaign.site.pages import FORM_COOKIE
from tests.support.admin import logged_in, post_form, stored_count
from tests.support.app import app_server
from tests.support.mail import Mailbox

SLUG = "jouer-collectif"
SIGN = f"/api/v1/campaigns/{SLUG}/signatures"
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/confirmer/[A-Za-z0-9_-]{43}")
LIMITS = {
    "TRUSTED_PROXIES": "127.0.0.1",
    "SIGN_LIMIT_NETWORK": "3",
    "SIGN_LIMIT_DOMAIN": "3",
    "SIGN_LIMIT_RESENDS": "2",
    "SIGN_LIMIT_CAMPAIGN": "0",
    "FORM_MIN_SECONDS": "0",
}


# -- the client address ------------------------------------------------------------------------

TRUSTED = clientaddr.parse_trusted("127.0.0.1, 10.0.0.0/8, ::1")


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.5", [], "203.0.113.5"),  # no proxy
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # forged by a stranger: ignored
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),  # our proxy says who
        # A client that forges its own header behind our proxy: the proxy's addition (right-most)
        # is the truth, the rest is the client's word.
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two header lines
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # two proxies of ours
        ("127.0.0.1", ["10.1.2.3"], "10.1.2.3"),  # only our hops: the left-most
        ("127.0.0.1", ["garbage"], "127.0.0.1"),  # nonsense from the proxy: stop at the proxy
        ("127.0.0.1", ["[2001:db8::7]:4711"], "2001:db8::7"),
        ("127.0.0.1", ["198.51.100.1:4711"], "198.51.100.1"),
        ("::ffff:203.0.113.9", [], "203.0.113.9"),
        ("::1", ["2001:db8::1"], "2001:db8::1"),
    ],
)
def test_client_address(peer: str, xff: list[str], expected: str) -> None:
    assert str(clientaddr.client_address(peer, xff, TRUSTED)) == expected


def test_networks_are_truncated() -> None:
    v4 = clientaddr.network_of(ipaddress.ip_address("203.0.113.77"))
    v6 = clientaddr.network_of(ipaddress.ip_address("2001:db8:1:2ff::1"))
    assert str(v4) == "203.0.113.0/24"
    assert str(v6) == "2001:db8:1:200::/56"


def test_malformed_trusted_proxies_are_refused() -> None:
    with pytest.raises(ValueError):
        clientaddr.parse_trusted("10.0.0.0/8, proxy.example")


# -- the form's timing and disposable domains ----------------------------------------------------


def test_form_stamp() -> None:
    secret = "s3cret"
    now = time.time()
    shown = abuse.form_stamp(secret, now - 10)
    assert abuse.form_reason(secret, shown, 3, now) is None
    assert abuse.form_reason(secret, abuse.form_stamp(secret, now - 1), 3, now) == "too_fast"
    assert abuse.form_reason(secret, None, 3, now) == "no_form_stamp"
    assert abuse.form_reason(secret, "123.abc", 3, now) == "no_form_stamp"
    forged = f"{int(now) - 3600}.{shown.split('.')[1]}"  # an old time with another time's MAC
    assert abuse.form_reason(secret, forged, 3, now) == "no_form_stamp"
    assert abuse.form_reason("other", shown, 3, now) == "no_form_stamp"
    future = abuse.form_stamp(secret, now + 3600)
    assert abuse.form_reason(secret, future, 3, now) == "no_form_stamp"
    assert abuse.form_reason(secret, None, 0, now) is None  # check turned off


def test_disposable_domains_come_from_the_maintained_list() -> None:
    assert abuse.is_disposable("yopmail.com")
    assert abuse.is_disposable("mailinator.com")
    assert abuse.is_disposable("eu.mailinator.com")  # a subdomain of one
    assert not abuse.is_disposable("mairie-lyon.fr")
    assert not abuse.is_disposable("orange.fr")
    assert len(abuse.DISPOSABLE_DOMAINS) > 1000


# -- over HTTP, with limits ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def limited(dsn: str, mailbox: Mailbox) -> AsyncIterator[str]:
    """An app with low limits, behind a 'proxy' at 127.0.0.1 (the tests themselves)."""
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **LIMITS) as base:
        yield base


def body(email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "given_name": "Anne",
        "family_name": "Martin",
        "email": email,
        "mandate": "maire",
        "territory_code": "69123",
        "public": True,
        **overrides,
    }


def addr(prefix: str) -> str:
    """An address in a domain of its own (the per-domain limit is tested on purpose only)."""
    return f"{prefix}.{uuid.uuid4().hex[:8]}@mairie-{uuid.uuid4().hex[:8]}.fr"


def fresh_network() -> str:
    """An address of a /24 no other test uses (TEST-NET ranges are not enough for every run)."""
    n = uuid.uuid4().int
    return f"100.{64 + n % 64}.{(n >> 8) % 256}.{1 + (n >> 16) % 250}"


async def sign(client: httpx.AsyncClient, email: str, via: str | None, **extra: Any) -> Any:
    headers = {"X-Forwarded-For": via} if via else {}
    response = await client.post(SIGN, json=body(email, **extra), headers=headers)
    return response.status_code, response.json()


async def flags(db: asyncpg.Connection, email: str) -> tuple[bool, list[str]]:
    row = await db.fetchrow(
        "SELECT suspect, suspect_reasons FROM signatures WHERE email = $1", email
    )
    assert row is not None, "the signature was not kept"
    return row["suspect"], list(row["suspect_reasons"])


async def test_over_the_network_limit_same_answer_kept_and_flagged(
    limited: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    network = fresh_network()
    addresses = [addr(f"net{i}") for i in range(5)]
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        answers = [await sign(client, a, network) for a in addresses]
    assert len(set(map(repr, answers))) == 1  # identical answers, flagged or not
    assert answers[0][0] == 202
    assert [await flags(db, a) for a in addresses] == [(False, [])] * 3 + [
        (True, ["network_limit"])
    ] * 2
    # Flagged signatures still get their email: an honest signer behind a busy town-hall network
    # must be able to confirm.
    await mailbox.wait_for(addresses[4])


async def test_a_forged_forwarded_for_from_a_stranger_is_ignored(
    dsn: str, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    """Without trusted proxies, every request here comes from 127.0.0.1, whatever it claims."""
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    env = {**LIMITS, "TRUSTED_PROXIES": "", "SECRET_KEY": f"forged-{uuid.uuid4().hex}"}
    addresses = [addr(f"forged{i}") for i in range(4)]
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        for a in addresses:  # each claims another network
            await sign(client, a, fresh_network())
    assert [(await flags(db, a))[0] for a in addresses] == [False, False, False, True]


async def test_limits_are_shared_by_processes(
    dsn: str, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    """Two app processes on one database: the network's signings add up across them."""
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    env = {**LIMITS, "SECRET_KEY": f"shared-{uuid.uuid4().hex}"}
    network = fresh_network()
    addresses = [addr(f"shared{i}") for i in range(4)]
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as one,
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as two,
        httpx.AsyncClient(timeout=10) as client,
    ):
        for i, a in enumerate(addresses):
            base = one if i % 2 == 0 else two
            await client.post(base + SIGN, json=body(a), headers={"X-Forwarded-For": network})
    assert [(await flags(db, a))[0] for a in addresses] == [False, False, False, True]


async def test_domain_limit_spares_the_big_mail_providers(
    limited: str, db: asyncpg.Connection
) -> None:
    domain = f"mairie-{uuid.uuid4().hex[:8]}.fr"
    town_hall = [f"elu{i}.{uuid.uuid4().hex[:6]}@{domain}" for i in range(4)]
    webmail = [f"elu.{uuid.uuid4().hex[:12]}@orange.fr" for _ in range(4)]
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        for a in town_hall + webmail:  # each from its own network
            await sign(client, a, fresh_network())
    assert [await flags(db, a) for a in town_hall][-1] == (True, ["domain_limit"])
    assert [(await flags(db, a))[0] for a in town_hall[:3]] == [False] * 3
    assert [(await flags(db, a))[0] for a in webmail] == [False] * 4


async def test_resubmitting_an_address_too_often_sends_nothing_more(
    limited: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    address = addr("resend")
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        answers = [await sign(client, address, fresh_network()) for _ in range(5)]
    assert len(set(map(repr, answers))) == 1
    # The first submission and two re-sends are queued; then nothing, and the pending signature
    # (whose details came from those submissions) is flagged. Once it is flagged, the mail worker
    # sends nothing beyond the mailbox's first email of the day (issue 15): the re-sends the
    # worker had not sent yet by then are cancelled, never delivered.
    suspect, reasons = await flags(db, address)
    assert suspect and "resend_limit" in reasons  # (its domain's hits went up too)
    emails = await db.fetchval("SELECT count(*) FROM outbox WHERE recipient = $1", address)
    assert emails == 3
    for _ in range(100):
        left = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE recipient = $1 AND status IN ('queued', 'sending')",
            address,
        )
        if not left:
            break
        await asyncio.sleep(0.1)
    sent = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE recipient = $1 AND status = 'sent'", address
    )
    assert 1 <= sent <= 3
    await mailbox.wait_for(address, sent)
    await asyncio.sleep(0.3)
    assert len(mailbox.to(address)) == sent


async def test_confirmed_signature_is_not_flagged_by_strangers_resubmitting_it(
    limited: str, db: asyncpg.Connection
) -> None:
    address = addr("confirmed-resend")
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        await sign(client, address, fresh_network())
        await db.execute(
            "UPDATE signatures SET status = 'confirmed', confirmed_at = now() WHERE email = $1",
            address,
        )
        for _ in range(5):
            await sign(client, address, fresh_network())
    assert await flags(db, address) == (False, [])


async def test_disposable_and_block_lists_flag(
    limited: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    blocked_domain = f"bloque-{uuid.uuid4().hex[:8]}.fr"
    blocked_address = addr("bloquee")
    blocked_net = fresh_network()
    await db.execute(
        "INSERT INTO block_list (kind, value, network) VALUES ('email', $1, NULL),"
        " ('domain', $2, NULL), ('network', $3::text, $3::text::cidr)",
        blocked_address,
        blocked_domain,
        str(clientaddr.network_of(ipaddress.ip_address(blocked_net))),
    )
    disposable = f"x.{uuid.uuid4().hex[:8]}@yopmail.com"
    in_domain = f"elu.{uuid.uuid4().hex[:8]}@services.{blocked_domain}"
    from_net = addr("from-blocked-net")
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        for a, via in [
            (disposable, fresh_network()),
            (blocked_address, fresh_network()),
            (in_domain, fresh_network()),
            (from_net, blocked_net),
        ]:
            assert (await sign(client, a, via))[0] == 202
    assert await flags(db, disposable) == (True, ["disposable_domain"])
    assert await flags(db, blocked_address) == (True, ["blocked_email"])
    assert await flags(db, in_domain) == (True, ["blocked_domain"])
    assert await flags(db, from_net) == (True, ["blocked_network"])


async def test_campaign_ceiling(dsn: str, mailbox: Mailbox, db: asyncpg.Connection) -> None:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    # A secret of its own: the campaign's counter starts from zero for this app.
    env = {**LIMITS, "SIGN_LIMIT_CAMPAIGN": "5", "SECRET_KEY": f"ceiling-{uuid.uuid4().hex}"}
    addresses = [addr(f"ceiling{i}") for i in range(7)]
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        for a in addresses:
            await sign(client, a, fresh_network())
    assert [await flags(db, a) for a in addresses] == [(False, [])] * 5 + [
        (True, ["campaign_ceiling"])
    ] * 2


async def test_form_posted_too_fast_or_without_stamp_is_flagged(
    dsn: str, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    env = {**LIMITS, "FORM_MIN_SECONDS": "2"}
    fast, slow, bare = (addr(k) for k in ("fast", "slow", "bare"))

    async def post(client: httpx.AsyncClient, email: str, *, wait: float, stamp: bool) -> int:
        """The form's stamp is its cookie, set by its image when the form is shown; `stamp`
        False: a cookie this service never issued (a robot's)."""
        html = (await client.get("/")).text
        assert 'src="/signer/jeton"' in html, "the form has no stamping image"
        client.cookies.clear()
        if stamp:
            await client.get("/signer/jeton")
            assert client.cookies.get(FORM_COOKIE)
        else:
            client.cookies.set(FORM_COOKIE, "1700000000.forged", path="/signer")
        data = {
            "given_name": "Anne",
            "family_name": "Martin",
            "email": email,
            "mandate": "maire",
            "territory_code": "69123",
        }
        await asyncio.sleep(wait)
        response = await client.post(
            "/signer", data=data, headers={"X-Forwarded-For": fresh_network()}
        )
        return response.status_code

    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        statuses = [
            await post(client, fast, wait=0, stamp=True),
            await post(client, slow, wait=2.2, stamp=True),
            await post(client, bare, wait=0, stamp=False),
        ]
    # Without a stamp of ours, the form comes back with one (nothing written: see
    # tests/site/test_cached_pages.py); too fast, it is kept and flagged.
    assert statuses == [303, 303, 403]
    assert await flags(db, fast) == (True, ["too_fast"])
    assert await flags(db, slow) == (False, [])
    assert await db.fetchval("SELECT count(*) FROM signatures WHERE email = $1", bare) == 0


async def test_suspect_is_neither_counted_nor_listed_until_cleared(
    limited: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    """Flagged → confirmed by its signer (not counted, not listed) → cleared in bulk by an
    organiser (counted and listed from then on, audited)."""
    family = f"Suspecte{uuid.uuid4().hex[:8]}"
    address = f"x.{uuid.uuid4().hex[:8]}@yopmail.com"  # flagged: a disposable domain
    before = await stored_count(db, "commune", "69123")
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        await sign(client, address, fresh_network(), family_name=family)
        [message] = await mailbox.wait_for(address)
        link = CONFIRM_LINK.search(message.get_body(("plain",)).get_content())
        assert link
        page = await client.get(link.group(0))
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf
        done = await client.post(link.group(0), data={"_csrf_token": csrf.group(1)})
        assert done.status_code == 200 and "confirmée" in done.text  # the signer sees no difference

        async def listed() -> bool:
            r = await client.get(f"/api/v1/campaigns/{SLUG}/signatories", params={"q": family})
            return r.json()["total"] == 1

        assert await db.fetchval("SELECT status FROM signatures WHERE email = $1", address) == (
            "confirmed"
        )
        assert await stored_count(db, "commune", "69123") == before
        assert not await listed()

        async with logged_in(limited, db, "organiser") as organiser:
            suspects = await organiser.get("/admin/signataires", params={"statut": "suspect"})
            assert family in suspects.text
            assert "Adresse jetable" in suspects.text  # why it was flagged
            query = f"statut=suspect&q={family}"
            preview = await organiser.get(f"/admin/signataires/lot?{query}&action=lever-suspicion")
            assert 'id="bulk-count">1<' in preview.text
            response = await post_form(
                organiser,
                f"/admin/signataires/lot?{query}",
                "/admin/signataires/lot",
                {"statut": "suspect", "q": family, "action": "lever-suspicion", "attendu": "1"},
            )
            assert response.status_code == 303, response.text[:2000]
        assert await stored_count(db, "commune", "69123") == before + 1
        assert await listed()
    signature_id = await db.fetchval("SELECT id FROM signatures WHERE email = $1", address)
    entry = await db.fetchrow(
        "SELECT action, organiser_email FROM audit_log WHERE target_id = $1 AND action = $2",
        signature_id,
        "signature.clear",
    )
    assert entry is not None


async def test_rejecting_a_confirmed_suspect_leaves_the_counts_alone(
    limited: str, db: asyncpg.Connection
) -> None:
    address = f"y.{uuid.uuid4().hex[:8]}@yopmail.com"
    async with httpx.AsyncClient(base_url=limited, timeout=10) as client:
        await sign(client, address, fresh_network())
    signature_id = await db.fetchval("SELECT id FROM signatures WHERE email = $1", address)
    # Confirmed by the signer (suspect: not counted).
    await db.execute(
        "UPDATE signatures SET status = 'confirmed', confirmed_at = now() WHERE id = $1",
        signature_id,
    )
    before = await stored_count(db, "commune", "69123")
    async with logged_in(limited, db, "organiser") as organiser:
        dashboard = (await organiser.get("/admin")).text
        shown = re.search(r'id="status-suspect">([0-9  ]+)<', dashboard)
        assert shown and int(re.sub(r"\D", "", shown.group(1))) >= 1
        page = f"/admin/signataires/{signature_id}"
        assert "Lever la suspicion" in (await organiser.get(page)).text
        r = await post_form(
            organiser, page, f"{page}/moderer", {"action": "rejeter", "motif": "robot"}
        )
        assert r.status_code == 303
        assert await stored_count(db, "commune", "69123") == before
        r = await post_form(organiser, page, f"{page}/moderer", {"action": "restaurer"})
        assert r.status_code == 303
        # Back in the queue, still not counted.
        assert await stored_count(db, "commune", "69123") == before
        assert await flags(db, address) == (True, ["disposable_domain"])


async def test_hostile_traffic_during_a_normal_signing_run_leaves_the_counts_exact(
    dsn: str, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    """Bounded: 20 honest signers (each behind the proxy, from their own network) sign and
    confirm while a flood comes from one network through the proxy, a stranger (127.0.0.2, not a
    trusted proxy) forges X-Forwarded-For, and junk bodies arrive. The counts move by exactly the
    20 honest signatures; the flood is kept, flagged, and not counted even once confirmed."""
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    # The shared secret: any app's mail worker on this database may render the links.
    env = {**LIMITS, "SIGN_LIMIT_NETWORK": "5"}
    code = "38442"  # a commune no other test signs for
    honest = [addr("honest") for _ in range(20)]
    flood = [addr("flood") for _ in range(40)]
    forged = [addr("forged") for _ in range(20)]
    flood_net = fresh_network()
    junk: list[Any] = [b"{", b"[]", b"null", b'{"email": 1}', b"\xff\xfe", b"x" * 70_000]
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as proxy,
        httpx.AsyncClient(
            base_url=base,
            timeout=30,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
        ) as stranger,
    ):
        before = await stored_count(db, "commune", code)  # (the app made the campaign)
        gate = asyncio.Semaphore(8)

        async def post(client: httpx.AsyncClient, **kwargs: Any) -> int:
            async with gate:
                return (await client.post(SIGN, **kwargs)).status_code

        honest_codes, flood_codes, forged_codes, junk_codes = await asyncio.gather(
            asyncio.gather(
                *(
                    post(
                        proxy,
                        json=body(a, territory_code=code),
                        headers={"X-Forwarded-For": fresh_network()},
                    )
                    for a in honest
                )
            ),
            asyncio.gather(
                *(
                    post(
                        proxy,
                        json=body(a, territory_code=code),
                        headers={"X-Forwarded-For": flood_net},
                    )
                    for a in flood
                )
            ),
            asyncio.gather(
                *(
                    post(
                        stranger,
                        json=body(a, territory_code=code),
                        headers={"X-Forwarded-For": fresh_network()},
                    )
                    for a in forged
                )
            ),
            asyncio.gather(
                *(
                    post(proxy, content=j, headers={"Content-Type": "application/json"})
                    for j in junk
                )
            ),
        )
        assert set(honest_codes) == set(flood_codes) == set(forged_codes) == {202}
        assert all(400 <= c < 500 for c in junk_codes)
        assert (await proxy.get("/health")).status_code == 200
        # Everyone confirms: the honest, the flood and the forgers (they own their mailboxes).
        for a in honest + flood[-5:] + forged[-5:]:
            [message] = await mailbox.wait_for(a)
            link = CONFIRM_LINK.search(message.get_body(("plain",)).get_content())
            assert link
            page = await proxy.get(link.group(0))
            csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert csrf, (page.status_code, page.text[:500])
            assert (
                await proxy.post(link.group(0), data={"_csrf_token": csrf.group(1)})
            ).status_code == 200
    assert await stored_count(db, "commune", code) == before + 20
    flagged = await db.fetch(
        "SELECT email FROM signatures WHERE email = ANY ($1) AND suspect", flood + forged + honest
    )
    flagged_set = {r["email"] for r in flagged}
    assert not flagged_set & set(honest)
    assert len(flagged_set & set(flood)) == 35  # the first 5 were within the limit
    assert len(flagged_set & set(forged)) >= 15  # one network for all: 127.0.0.0/24
    stored = await db.fetchval(
        "SELECT count(*) FROM signatures WHERE email = ANY ($1)", flood + forged + honest
    )
    assert stored == 80  # kept, every one
