"""Every public figure equals a recount from the signatures table after any sequence of
moderation actions: reject, restore, withdraw, an organiser's register override, an organiser's
attestation and its withdrawal, a proof by official domain, clearing a suspect, a signer leaving
or joining the public list. Compared after each sequence: the stored counters, an in-memory
CountsCache fed by the counters' NOTIFY (as every serving process holds one), and the app's counts
API. A commune's figures about its maire count only a maire listed publicly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.core import audit
from campaign.core.db import Q
from campaign.counts.cache import CountsCache, stored_of
from campaign.moderation import actions
from campaign.register import verification
from campaign.signing import withdrawal
from campaign.territories.index import TerritoryIndex
from tests.support.admin import SLUG, campaign_row, make_signature

# Communes no other test signs for: their recount is this module's alone.
COMMUNES = ("01004", "01053")
# commune → (confirmed, verified, register_match, maires_signed, maires_declared): the last two
# are the commune's own, about its maire: 1 when a maire listed publicly signed (proven; at all).
Figures = dict[str, tuple[int, int, int, int, int]]
NOTHING = (0, 0, 0, 0, 0)
FIELDS = ("count", "verified", "register_match", "maires_signed", "maires_declared")

RECOUNT = """
SELECT territory_code AS code,
       count(*) AS confirmed,
       count(*) FILTER (WHERE verified) AS verified,
       count(*) FILTER (WHERE register_match) AS register_match,
       count(*) FILTER (WHERE verified AND mandate = 'maire' AND public) AS maires,
       count(*) FILTER (WHERE mandate = 'maire' AND public) AS maires_declared
FROM signatures
WHERE campaign_id = $1 AND territory_level = 'commune' AND territory_code = ANY ($2::text[])
  AND status = 'confirmed' AND NOT suspect
GROUP BY territory_code
"""


def _signed(maires: int) -> int:
    return int(maires > 0)  # a commune's maire signed: once, however many maires


def _figures(r: Any, maires: str, declared: str) -> tuple[int, int, int, int, int]:
    return (
        r["confirmed"],
        r["verified"],
        r["register_match"],
        _signed(r[maires]),
        _signed(r[declared]),
    )


async def recount(db: asyncpg.Connection, campaign_id: int) -> Figures:
    rows = await db.fetch(RECOUNT, campaign_id, list(COMMUNES))
    found = {r["code"]: _figures(r, "maires", "maires_declared") for r in rows}
    return {code: found.get(code, NOTHING) for code in COMMUNES}


async def stored(db: asyncpg.Connection, campaign_id: int) -> Figures:
    rows = await db.fetch(
        "SELECT code, confirmed, verified, register_match, maires_public_verified, maires_public "
        "FROM territory_counts "
        "WHERE campaign_id = $1 AND level = 'commune' AND code = ANY ($2::text[])",
        campaign_id,
        list(COMMUNES),
    )
    found = {r["code"]: _figures(r, "maires_public_verified", "maires_public") for r in rows}
    return {code: found.get(code, NOTHING) for code in COMMUNES}


# Every maire, listed publicly or not: what the communes' département and région count.
ALL_MAIRES = """
SELECT territory_code AS code,
       count(*) FILTER (WHERE verified) AS maires, count(*) AS maires_declared
FROM signatures
WHERE campaign_id = $1 AND territory_level = 'commune' AND territory_code = ANY ($2::text[])
  AND status = 'confirmed' AND NOT suspect AND mandate = 'maire'
GROUP BY territory_code
"""


async def rolled_up_maires_are_everyones(
    db: asyncpg.Connection, cache: CountsCache, campaign_id: int
) -> bool:
    """The stored counters of every maire match a recount, and the cache's département counts
    each commune whose maire signed, listed or not (other tests sign in it too: the check is
    against its communes' stored counters)."""
    rows = await db.fetch(ALL_MAIRES, campaign_id, list(COMMUNES))
    truth = {r["code"]: (r["maires"], r["maires_declared"]) for r in rows}
    counts = cache.campaign(campaign_id)
    for code in COMMUNES:
        s = counts.stored.get(("commune", code))
        held = (s.maires, s.maires_declared) if s else (0, 0)
        if held != truth.get(code, (0, 0)):
            return False
    commune = cache.index.get("commune", COMMUNES[0])
    assert commune is not None and commune.departement is not None
    dep = commune.departement
    in_dep = [
        s
        for (level, code), s in counts.stored.items()
        if level == "commune"
        and getattr(cache.index.get("commune", code), "departement", None) == dep
    ]
    return counts.metric("maires_signed", "departement", dep) == sum(
        s.maires > 0 for s in in_dep
    ) and counts.metric("maires_declared", "departement", dep) == sum(
        s.maires_declared > 0 for s in in_dep
    )


def cached(cache: CountsCache, campaign_id: int) -> Figures:
    counts = cache.campaign(campaign_id)
    return {
        code: (
            counts.count("commune", code),
            counts.metric("verified", "commune", code),
            counts.metric("register_match", "commune", code),
            counts.metric("maires_signed", "commune", code),
            counts.metric("maires_declared", "commune", code),
        )
        for code in COMMUNES
    }


async def from_api(client: httpx.AsyncClient) -> Figures:
    response = await client.get(f"/api/v1/campaigns/{SLUG}/counts", params={"level": "commune"})
    assert response.status_code == 200
    rows = {c["code"]: c for c in response.json()["counts"]}
    return {
        code: tuple(rows[code][f] for f in FIELDS) if code in rows else NOTHING  # type: ignore[misc]
        for code in COMMUNES
    }


class Listener:
    """A CountsCache fed by the counters' NOTIFY, like a serving process's."""

    def __init__(self, cache: CountsCache) -> None:
        self.cache = cache

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        change = json.loads(payload)
        self.cache.apply_stored(
            int(change["campaign_id"]), (change["level"], change["code"]), stored_of(change)
        )


@pytest.fixture
async def listening(dsn: str) -> AsyncIterator[CountsCache]:
    conn = await asyncpg.connect(dsn)
    try:
        cache = CountsCache(await TerritoryIndex.load(conn))
        listener = Listener(cache)
        await conn.add_listener("territory_counts", listener.on_notify)
        await cache.reload(conn)
        yield cache
        await conn.remove_listener("territory_counts", listener.on_notify)
    finally:
        await conn.close()


async def settled(
    db: asyncpg.Connection, client: httpx.AsyncClient, cache: CountsCache, steps: Any
) -> None:
    """Every figure equals the recount (waiting a little for the NOTIFY to arrive)."""
    campaign_id = (await campaign_row(db))["id"]
    truth = await recount(db, campaign_id)
    assert await stored(db, campaign_id) == truth, steps
    seen: dict[str, Figures] = {}
    for _ in range(60):
        seen = {"cache": cached(cache, campaign_id), "api": await from_api(client)}
        if all(v == truth for v in seen.values()) and await rolled_up_maires_are_everyones(
            db, cache, campaign_id
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"after {steps}: database {truth}, but {seen}")


# -- the actions ---------------------------------------------------------------------------------
ACTIONS = (
    "reject",
    "restore",
    "withdraw",
    "verify",
    "unverify",
    "register",
    "clear",
    "attest",
    "unattest",
    "domain",
    "hide",
    "show",
)


async def act(db: asyncpg.Connection, action: str, signature_id: int) -> None:
    actor = audit.CLI_ACTOR
    async with db.transaction():
        if action == "reject":
            await actions.apply(db, actor, "rejeter", [signature_id], "Doublon")
        elif action == "restore":
            await actions.apply(db, actor, "restaurer", [signature_id], None)
        elif action == "clear":
            await actions.apply(db, actor, "lever-suspicion", [signature_id], None)
        elif action == "withdraw":
            await withdrawal.erase(db, [signature_id], withdraw=True)
        elif action == "attest":
            await verification.attest(db, signature_id, "Appel à la mairie", actor.email)
        elif action == "unattest":
            await verification.withdraw_attestation(db, signature_id)
        elif action == "domain":  # as the verification worker records a proof by domain
            await db.execute(
                Q["verification_record"], signature_id, "verified", None, 1, "senat.fr"
            )
        elif action in ("hide", "show"):  # the signer leaves, or joins, the public list
            await db.execute(
                "UPDATE signatures SET public = $2 WHERE id = $1", signature_id, action == "show"
            )
        else:
            override = {"verify": "verified", "unverify": "not_found", "register": None}[action]
            await verification.override_verification(db, signature_id, override, actor.email)


async def signatures_for_a_sequence(db: asyncpg.Connection) -> list[int]:
    """Three signatures: two maires of two communes and a conseiller of the first; the third
    suspect (as a too-fast form leaves it: confirmed, neither counted nor listed)."""
    maire_a = await make_signature(db, code=COMMUNES[0], family_name="Séquence")
    maire_b = await make_signature(db, code=COMMUNES[1], family_name="Séquence")
    adviser = await make_signature(
        db, code=COMMUNES[0], mandate="conseiller_municipal", family_name="Séquence"
    )
    suspect = await make_signature(db, status="pending", code=COMMUNES[0], family_name="Suspect")
    await db.execute(
        "UPDATE signatures SET suspect = true, suspect_reasons = '{too_fast}' WHERE id = $1",
        suspect,
    )
    await db.execute(
        "UPDATE signatures SET status = 'confirmed', confirmed_at = now() WHERE id = $1", suspect
    )
    return [maire_a, maire_b, adviser, suspect]


async def run_sequence(
    db: asyncpg.Connection,
    client: httpx.AsyncClient,
    cache: CountsCache,
    steps: list[tuple[str, int]],
) -> None:
    ids = await signatures_for_a_sequence(db)
    try:
        await settled(db, client, cache, "the signatures made")
        for n, (action, which) in enumerate(steps):
            await act(db, action, ids[which])
            await settled(db, client, cache, steps[: n + 1])
    finally:  # the next sequence starts from nothing in these communes
        async with db.transaction():
            await withdrawal.erase(db, ids, withdraw=True)
        await settled(db, client, cache, "the cleanup")


FIXED = [
    # The reported case: a verified maire rejected then restored.
    [("verify", 0), ("reject", 0), ("restore", 0)],
    [("reject", 0), ("verify", 0), ("restore", 0)],
    [("verify", 0), ("verify", 2), ("reject", 0), ("reject", 2), ("restore", 2), ("restore", 0)],
    [("verify", 1), ("reject", 1), ("unverify", 1), ("restore", 1), ("register", 1)],
    [("verify", 0), ("reject", 0), ("withdraw", 0)],
    [("verify", 0), ("withdraw", 0), ("restore", 0), ("verify", 0)],
    [("verify", 3), ("clear", 3), ("reject", 3), ("restore", 3), ("unverify", 3)],
    [("verify", 3), ("reject", 3), ("restore", 3), ("clear", 3)],
    # Proofs (issue 14): an attestation, a proof by domain that goes with the register match.
    [("attest", 0), ("hide", 0), ("reject", 0), ("restore", 0), ("show", 0), ("unattest", 0)],
    [("verify", 1), ("domain", 1), ("unverify", 1), ("register", 1), ("domain", 1)],
    [("domain", 0), ("hide", 0), ("attest", 0), ("withdraw", 0)],
    [("attest", 3), ("clear", 3), ("hide", 3), ("unattest", 3), ("attest", 2)],
    # A maire who is not listed: the commune says nothing of them, their département does.
    [("hide", 0), ("attest", 0), ("hide", 1), ("show", 0)],
]


@pytest.mark.parametrize("steps", FIXED)
async def test_fixed_sequences_keep_every_figure_true(
    server: str,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    listening: CountsCache,
    steps: list[tuple[str, int]],
) -> None:
    await run_sequence(db, client, listening, steps)


STEPS = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.integers(min_value=0, max_value=3)),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
async def test_any_sequence_keeps_every_figure_true(
    server: str,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    listening: CountsCache,
    steps: list[tuple[str, int]],
) -> None:
    await run_sequence(db, client, listening, steps)
