"""Back-office accounts and sessions: login, same answer for unknown and wrong, session id
renewed at login (fixation), server-side logout, idle and absolute timeouts, throttling with
delays that a stranger cannot turn against an organiser, argon2id with rehash."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from campaign.organisers import throttle
from tests.support.admin import PASSWORD, csrf_of, login, make_organiser

COOKIE = "jc_admin"  # served over http in tests: no __Host- prefix (it requires Secure)


@pytest.fixture(autouse=True)
async def forget_failures(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Every test logs in from 127.0.0.1: failures of one must not delay the next."""
    yield
    await db.execute("DELETE FROM login_failures")


async def test_login_sets_a_strict_httponly_cookie_whose_id_is_stored_hashed(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    email = await make_organiser(db, "viewer")
    response = await login(client, email)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    set_cookie = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith(f"{COOKIE}=")
    )
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")}
    assert {"httponly", "path"} <= attributes
    assert "samesite=strict" in set_cookie.lower()
    assert "domain" not in attributes
    session_id = client.cookies[COOKIE]
    stored = await db.fetchval(
        "SELECT count(*) FROM admin_sessions WHERE id_hash = $1",
        hashlib.sha256(session_id.encode()).digest(),
    )
    assert stored == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM admin_sessions WHERE id_hash = $1", session_id.encode()
        )
        == 0
    )
    page = await client.get("/admin")
    assert page.status_code == 200
    assert "Tableau de bord" in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_unknown_account_and_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    email = await make_organiser(db, "organiser")
    wrong = await login(client, email, "pas le bon mot de passe")
    unknown = await login(client, f"inconnu.{uuid.uuid4().hex[:6]}@collectif-test.fr", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Adresse ou mot de passe incorrect." in response.text
    assert COOKIE not in client.cookies


async def test_a_session_id_planted_before_login_does_not_survive_it(
    server: str, db: asyncpg.Connection
) -> None:
    attacker_email = await make_organiser(db, "viewer")
    victim_email = await make_organiser(db, "admin")
    async with httpx.AsyncClient(base_url=server) as attacker:
        await login(attacker, attacker_email)
        planted = attacker.cookies[COOKIE]
    async with httpx.AsyncClient(base_url=server) as victim:
        victim.cookies.set(COOKIE, planted, domain="127.0.0.1")
        assert (await login(victim, victim_email)).status_code == 303
        assert victim.cookies[COOKIE] != planted
        assert (await victim.get("/admin/comptes")).status_code == 200
    # The planted id is over: it opens nothing, let alone the victim's admin session.
    async with httpx.AsyncClient(base_url=server) as attacker:
        attacker.cookies.set(COOKIE, planted)
        response = await attacker.get("/admin/comptes")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/connexion")
    # An id the server never issued is not adopted either.
    async with httpx.AsyncClient(base_url=server) as victim:
        made_up = "x" * 43
        victim.cookies.set(COOKIE, made_up, domain="127.0.0.1")
        await login(victim, victim_email)
        assert victim.cookies[COOKIE] != made_up


async def test_logout_ends_the_session_on_the_server(server: str, db: asyncpg.Connection) -> None:
    email = await make_organiser(db, "viewer")
    async with httpx.AsyncClient(base_url=server) as client:
        await login(client, email)
        session_id = client.cookies[COOKIE]
        page = await client.get("/admin")
        response = await client.post("/admin/deconnexion", data={"_csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
    async with httpx.AsyncClient(base_url=server) as replay:  # the cookie, copied before logout
        replay.cookies.set(COOKIE, session_id)
        assert (await replay.get("/admin")).status_code == 303
    assert (
        await db.fetchval(
            "SELECT count(*) FROM admin_sessions WHERE id_hash = $1",
            hashlib.sha256(session_id.encode()).digest(),
        )
        == 0
    )


@pytest.mark.parametrize(
    "aging",
    [
        "UPDATE admin_sessions SET last_seen_at = now() - interval '31 minutes' WHERE id_hash = $1",
        "UPDATE admin_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = $1",
    ],
    ids=["idle-30-min", "absolute-12-h"],
)
async def test_sessions_time_out(server: str, db: asyncpg.Connection, aging: str) -> None:
    email = await make_organiser(db, "viewer")
    async with httpx.AsyncClient(base_url=server) as client:
        await login(client, email)
        assert (await client.get("/admin")).status_code == 200
        await db.execute(aging, hashlib.sha256(client.cookies[COOKIE].encode()).digest())
        response = await client.get("/admin/signataires")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/connexion?suivant=/admin/signataires"


async def test_absolute_limit_is_twelve_hours_from_login(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await login(client, await make_organiser(db, "viewer"))
    lifetime = await db.fetchval(
        "SELECT expires_at - created_at FROM admin_sessions WHERE id_hash = $1",
        hashlib.sha256(client.cookies[COOKIE].encode()).digest(),
    )
    assert lifetime.total_seconds() == 12 * 3600


async def test_failed_logins_are_delayed_alike_for_known_and_unknown_accounts(
    server: str, db: asyncpg.Connection
) -> None:
    known = await make_organiser(db, "organiser")
    unknown = f"personne.{uuid.uuid4().hex[:6]}@collectif-test.fr"
    async with httpx.AsyncClient(base_url=server) as client:
        for target in (known, unknown):
            # The free allowance, then one more failure, which sets a delay...
            answers = [
                (await login(client, target, "mauvais")).status_code
                for _ in range(throttle.PAIR_FREE + 1)
            ]
            assert answers == [401] * (throttle.PAIR_FREE + 1)
            # ... that the next attempt meets.
            delayed = await login(client, target, PASSWORD if target == known else "x")
            assert delayed.status_code == 429
            assert "Trop de tentatives. Réessayez dans" in delayed.text
        # While delayed, even the right password is not tried.
        assert COOKIE not in client.cookies


async def test_a_stranger_cannot_lock_an_organiser_out(db: asyncpg.Connection) -> None:
    email = await make_organiser(db, "admin")
    for _ in range(50):  # a stranger hammers the organiser's account from their own address
        await throttle.failed(db, email, "203.0.113.66")
    assert await throttle.wait_seconds(db, email, "203.0.113.66") > 0
    # The account is throttled whatever the address (guessers rotate addresses, issue 15), but
    # the organiser, from their own address, waits two minutes at most: a delay, never a lock.
    own = await throttle.wait_seconds(db, email, "198.51.100.7")
    assert 0 < own <= throttle.ACCOUNT_MAX_DELAY
    # The stranger's own delay grows but never becomes a lock either.
    assert await throttle.wait_seconds(db, email, "203.0.113.66") <= throttle.MAX_DELAY


async def test_a_password_hashed_with_old_parameters_is_rehashed_at_login(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    email = await make_organiser(db, "viewer")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await db.execute("UPDATE organisers SET password_hash = $2 WHERE email = $1", email, weak)
    assert (await login(client, email)).status_code == 303
    stored = await db.fetchval("SELECT password_hash FROM organisers WHERE email = $1", email)
    assert stored != weak
    assert stored.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(stored)


async def test_create_organiser_from_the_command_line(dsn: str, server: str) -> None:
    email = f"cli.{uuid.uuid4().hex[:6]}@collectif-test.fr"
    env = {**os.environ, "DATABASE_URL": dsn}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "campaign",
            "create-organiser",
            email.upper(),
            "--role",
            "organiser",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Compte créé" in done.stdout
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "campaign",
            "create-organiser",
            email,
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="court\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert again.returncode != 0
    assert "au moins 12 caractères" in again.stderr
    async with httpx.AsyncClient(base_url=server) as client:
        assert (await login(client, email)).status_code == 303
        assert (await client.get("/admin/signataires")).status_code == 200
        assert (await client.get("/admin/comptes")).status_code == 403
