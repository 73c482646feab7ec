"""A bounded load of hostile traffic during a normal signing run, over real HTTP and SMTP: floods,
forged headers, junk bodies, malformed requests and half-open connections, concurrently with a few
dozen real signatures confirmed from their emails. Afterwards the counts are exact (every real
confirmation counted once, nothing else), nothing answered a 5xx, and the service still answers.

Bounded: about five hundred hostile requests and 30 signers, on loopback only; it stops by
itself in well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.support.admin import csrf_of
from tests.support.app import free_port, migrated_database
from tests.support.hardening import SIGN, SLUG, make_app, port_of, serve
from tests.support.mail import Mailbox

SIGNERS = 30
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+(/confirmer/[A-Za-z0-9_-]{43})")
# The real signers' communes: counts must move there and only there.
COMMUNES = ["69123", "75056", "13055", "31555", "33063", "59350"]


def signer_body(address: str, n: int) -> dict[str, Any]:
    return {
        "given_name": "Camille",
        "family_name": f"Réel {n}",
        "email": address,
        "mandate": "conseiller_municipal",
        "territory_code": COMMUNES[n % len(COMMUNES)],
        "public": n % 2 == 0,
    }


async def _wait_mail(box: Mailbox, address: str, timeout: float = 30) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not box.to(address):
        assert loop.time() < deadline, f"no email for {address}"
        await asyncio.sleep(0.05)
    return box.to(address)[0]


async def real_signer(base: str, box: Mailbox, n: int, run: str) -> str:
    """Signs through the API from its own network (behind the trusted proxy), then confirms from
    the email like a person: opens the page, presses the button."""
    address = f"reel.{run}.{n}@mairie-reelle.fr"
    forwarded = {"X-Forwarded-For": f"198.51.{n}.7"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=forwarded) as client:
        r = await client.post(SIGN, json=signer_body(address, n))
        assert r.status_code == 202, r.text
        message = await _wait_mail(box, address)
        text = message.get_body(("plain",)).get_content()
        match = CONFIRM_LINK.search(text)
        assert match, text
        page = await client.get(match.group(1))
        assert page.status_code == 200, page.text
        done = await client.post(match.group(1), data={"_csrf_token": csrf_of(page.text)})
        assert done.status_code == 200, done.text
        assert "confirmée" in done.text
    return address


def _junk_bodies() -> list[tuple[bytes, str]]:
    nested = b"[" * 5000 + b"]" * 5000
    return [
        (b"", "application/json"),
        (b"{", "application/json"),
        (b"null", "application/json"),
        (b'"texte"', "application/json"),
        (nested, "application/json"),
        (b"\x00\xff\xfe" * 200, "application/json"),
        (b'{"email": "\\u0000@x.fr", "given_name": {"$gt": ""}}', "application/json"),
        (json.dumps({"given_name": '=HYPERLINK("x")', "public": "true"}).encode(),
         "application/json"),
        (b"given_name=Anne&email=a%40b.fr", "application/x-www-form-urlencoded"),
        (b"x" * 70_000, "application/json"),
        (b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nx\r\n--b--',
         "multipart/form-data; boundary=b"),
    ]  # fmt: skip


async def hostile(base: str, run: str) -> Counter[int | str]:
    """About five hundred hostile requests from a handful of concurrent attackers."""
    rng = random.Random(6)  # reproducible
    statuses: Counter[int | str] = Counter()
    attacker = {"X-Forwarded-For": "203.0.113.66"}  # an attacker's network, behind the proxy
    bodies = _junk_bodies()

    async def one(client: httpx.AsyncClient, i: int) -> None:
        kind = i % 10
        try:
            if kind == 0:  # signing flood: valid bodies, never confirmed
                body = signer_body(f"flood.{run}.{i}@jetable-{i % 7}.fr", i)
                r = await client.post(SIGN, json=body, headers=attacker)
            elif kind == 1:  # forged proxy headers from outside, spoofed hosts
                headers = {
                    "X-Forwarded-For": f"{rng.randrange(256)}.1.2.3, 127.0.0.1",
                    "X-Real-IP": "127.0.0.1",
                    "Forwarded": "for=127.0.0.1;host=evil.example",
                    "X-Forwarded-Host": "evil.example",
                }
                r = await client.post(
                    SIGN, json=signer_body(f"forge.{run}.{i}@x.fr", i), headers=headers
                )
            elif kind == 2:
                r = await client.get(
                    "/", headers={"Host": rng.choice(["evil.example", "", "a" * 300])}
                )
            elif kind == 3:  # junk bodies
                content, media = bodies[i % len(bodies)]
                r = await client.post(SIGN, content=content, headers={"content-type": media})
            elif kind == 4:  # guessed confirmation tokens
                token = uuid.uuid4().hex + uuid.uuid4().hex[:11]
                r = await client.post(f"/confirmer/{token}", data={"_csrf_token": "x"})
            elif kind == 5:  # the form without its CSRF token, or with junk
                r = await client.post("/signer", data={"email": "a@b.fr", "website": "http://spam"})
            elif kind == 6:  # read floods
                r = await client.get(rng.choice([
                    f"/api/v1/campaigns/{SLUG}/counts?level=commune",
                    f"/api/v1/campaigns/{SLUG}/signatories?q=%00%27%22",
                    "/api/v1/territories?q=" + "é" * 100,
                    "/signataires?page=99999999999",
                    "/api/v1/territories?q=%ff%fe",
                ]))  # fmt: skip
            elif kind == 7:  # odd methods and paths
                r = await client.request(
                    rng.choice(["PROPFIND", "TRACE", "DELETE", "PATCH"]),
                    rng.choice(["/", SIGN, "/admin", "/../../etc/passwd", "/%2e%2e/"]),
                )
            elif kind == 8:  # huge headers and cookies
                r = await client.get(
                    "/", headers={"Cookie": "csrftoken=" + "A" * 6000, "X-Junk": "B" * 6000}
                )
            else:  # the back office without an account
                r = await client.post("/admin/connexion", data={"email": "x", "password": "y"})
            statuses[r.status_code] += 1
        except httpx.HTTPError as exc:  # the server may cut an abusive request short
            statuses[type(exc).__name__] += 1

    async def attacker_task(k: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            for i in range(k, 500, 10):
                await one(client, i)

    async def raw_junk() -> None:
        """Malformed HTTP and half-open connections, straight on the socket."""
        host, port = "127.0.0.1", int(base.rsplit(":", 1)[1])
        lines = [
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
            b"POST " + SIGN.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET /\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            b"POST " + SIGN.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999"
            b"\r\n\r\n{",  # then silence: a slow body
        ]
        writers = []
        for line in lines * 4:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(line)
            await writer.drain()
            writers.append(writer)
            try:
                answer = await asyncio.wait_for(reader.read(200), timeout=0.5)
                statuses["raw " + (answer[:12].decode("latin-1") or "closed")] += 1
            except TimeoutError:
                statuses["raw held"] += 1
        await asyncio.sleep(1)
        for writer in writers:
            writer.close()

    await asyncio.gather(*(attacker_task(k) for k in range(10)), raw_junk())
    return statuses


async def test_hostile_traffic_during_a_signing_run_leaves_the_counts_exact(
    pg_server: str, tmp_path: Path
) -> None:
    from aiosmtpd.controller import Controller

    dsn = await migrated_database(pg_server, "campaign_hostile_load")
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    # The production limits, behind a trusted proxy (the test client plays the proxy).
    app, base = make_app(
        DATABASE_URL=dsn,
        SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
        TRUSTED_PROXIES="127.0.0.1",
        SIGN_LIMIT_NETWORK="30",
        SIGN_LIMIT_DOMAIN="50",
        SIGN_LIMIT_RESENDS="3",
        SIGN_LIMIT_CAMPAIGN="2000",
        FORM_MIN_SECONDS="3",
    )
    run = uuid.uuid4().hex[:6]
    db = await asyncpg.connect(dsn)
    try:
        async with serve(app, port_of(base)) as url, httpx.AsyncClient(base_url=url) as client:
            before = (await client.get(f"/api/v1/campaigns/{SLUG}")).json()["total"]
            assert before == 0
            results = await asyncio.gather(
                hostile(url, run),
                *(real_signer(url, box, n, run) for n in range(SIGNERS)),
            )
            statuses: Counter[int | str] = results[0]
            confirmed_addresses = set(results[1:])
            print(f"hostile answers: {dict(statuses)}")
            assert not [s for s in statuses if isinstance(s, int) and s >= 500], statuses
            assert sum(statuses.values()) >= 500

            # Exact counts: the API, from memory, and the database agree with the real run.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while (await client.get(f"/api/v1/campaigns/{SLUG}")).json()["total"] != SIGNERS:
                assert loop.time() < deadline, "the total never reached the real signers"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # and does not move past it
            assert (await client.get(f"/api/v1/campaigns/{SLUG}")).json()["total"] == SIGNERS
            counts = (
                await client.get(f"/api/v1/campaigns/{SLUG}/counts", params={"level": "commune"})
            ).json()
            by_commune = {c["code"]: c["count"] for c in counts["counts"]}
            expected = Counter(COMMUNES[n % len(COMMUNES)] for n in range(SIGNERS))
            assert {k: v for k, v in by_commune.items() if v} == dict(expected)
            confirmed = await db.fetch(
                "SELECT email FROM signatures WHERE status = 'confirmed' AND NOT suspect"
            )
            assert {r["email"] for r in confirmed} == confirmed_addresses
            # The flood from one network is kept but flagged, never counted.
            flood = await db.fetchval(
                "SELECT count(*) FILTER (WHERE suspect) FROM signatures WHERE email LIKE $1",
                f"flood.{run}.%",
            )
            assert flood > 0

            # Still answering: pages, API, a new signature.
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/ready")).status_code == 200
            late = signer_body(f"apres.{run}@mairie-reelle.fr", 1)
            r = await client.post(SIGN, json=late, headers={"X-Forwarded-For": "192.0.2.9"})
            assert r.status_code == 202
    finally:
        await db.close()
        controller.stop()
