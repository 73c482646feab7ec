"""Login under attack: throttled per account whatever the address, and the password hash holds
no database connection (a login flood leaves the pool to the pages)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from campaign.organisers import throttle
from tests.support.admin import PASSWORD, csrf_of, make_organiser
from tests.support.app import app_server
from tests.support.mail import Mailbox


async def attempt(base: str, email: str, password: str, address: str) -> int:
    """One login from its own browser (its own CSRF cookie) at `address`."""
    headers = {"X-Forwarded-For": address}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
        page = await client.get("/admin/connexion")
        response = await client.post(
            "/admin/connexion",
            data={"email": email, "password": password, "_csrf_token": csrf_of(page.text)},
        )
    if response.status_code == 429:
        assert "Trop de tentatives. Réessayez dans" in response.text
    return response.status_code


async def test_forty_guesses_from_rotating_addresses_on_one_account_are_throttled(
    dsn: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    known = await make_organiser(db, "organiser")
    unknown = f"personne.{uuid.uuid4().hex[:6]}@collectif-test.fr"
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, TRUSTED_PROXIES="127.0.0.1") as base:
        for target in (known, unknown):  # the same answers: nothing tells which account exists
            # Forty at once, each from its own network: no pair or address limit applies.
            answers = await asyncio.gather(
                *(attempt(base, target, f"essai-{i}", f"198.{i}.{i}.7") for i in range(1, 41))
            )
            tried = answers.count(401)
            assert set(answers) <= {401, 429}
            assert 1 <= tried <= throttle.ACCOUNT_FREE + 1, answers
            # Sequentially too: past the account's allowance, every address waits.
            later = [await attempt(base, target, "encore", f"203.0.{i}.9") for i in range(12)]
            assert later.count(429) >= 12 - (throttle.ACCOUNT_FREE + 1 - tried), later
            # Even the right password, from a fresh address, waits while the account does.
            right = await attempt(base, target, PASSWORD, "192.0.2.200")
            assert right == 429


async def test_a_page_needing_the_database_answers_while_logins_hash(
    dsn: str, mailbox: Mailbox
) -> None:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    env = {"DB_POOL_SIZE": "1", "TRUSTED_PROXIES": "127.0.0.1"}
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        # Forty logins of forty accounts: about forty argon2 hashes, two at a time. Had each held
        # the only connection while hashing, /ready (2 s to get one) would answer 503.
        logins = asyncio.gather(
            *(
                attempt(base, f"x{i}.{uuid.uuid4().hex[:6]}@collectif-test.fr", "x", f"10.9.{i}.1")
                for i in range(40)
            )
        )
        await asyncio.sleep(0.3)  # the hashes are under way
        ready = [(await client.get("/ready")).status_code for _ in range(5)]
        answers = await logins
        assert set(answers) == {401}  # every one was hashed (none was throttled)
        assert ready == [200] * 5
