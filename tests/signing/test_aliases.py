"""One mailbox, one signer: provider aliases of an address (`+tag`, Gmail's dots and
googlemail.com, case) sign once, over the API alone or at once; migration 0018 on signatures
that aliases had already doubled; and names that would carry a link into emails are refused."""

from __future__ import annotations

import asyncio
import re
import uuid
from html import unescape

import asyncpg
import httpx
import pytest

from campaign.core import migrations
from campaign.territories.index import load_territories
from tests.support.mail import Mailbox
from tests.support.signing import SIGN, csrf_token, outbox_drained, valid_body, valid_form


async def signatures_of(db: asyncpg.Connection, local: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, email, status FROM signatures WHERE email ILIKE '%' || $1 || '%'", local
    )


async def test_aliases_of_one_mailbox_sign_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    local = f"annemartin{uuid.uuid4().hex[:8]}"
    dotted = f"{local[:4]}.{local[4:]}"
    aliases = [
        f"{local}@gmail.com",
        f"{dotted}+lettre@gmail.com",
        f"{dotted.upper()}@GoogleMail.com",
        f"{local}+autre@googlemail.com",
    ]
    for address in aliases:
        response = await client.post(SIGN, json=valid_body(email=address))
        assert response.status_code == 202, response.text
    [row] = await signatures_of(db, local[4:])
    assert row["email"] == aliases[0]
    # At once: the same batch of signings (group commit) meets the aliases too.
    other = f"jean{uuid.uuid4().hex[:8]}"
    at_once = [f"{other}+{n}@outlook.fr" for n in range(6)] + [f"{other.upper()}@outlook.fr"]
    answers = await asyncio.gather(*(client.post(SIGN, json=valid_body(email=a)) for a in at_once))
    assert {r.status_code for r in answers} == {202}
    assert len(await signatures_of(db, other)) == 1
    await outbox_drained(db)


async def test_a_tag_is_kept_where_the_provider_does_not_fold_it(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    local = f"secretariat{uuid.uuid4().hex[:8]}"
    for address in (f"{local}+maire@mairie-test.fr", f"{local}+adjoint@mairie-test.fr"):
        assert (await client.post(SIGN, json=valid_body(email=address))).status_code == 202
    assert len(await signatures_of(db, local)) == 2


LINKED_NAMES = ["http://x.com", "Anne www.promo", "Martin x.com", "Voir bit.ly/abc", "ｘ．ｃｏｍ"]


@pytest.mark.parametrize("name", LINKED_NAMES)
async def test_a_name_with_a_link_is_refused_by_the_api(
    name: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = valid_body(family_name=name)
    response = await client.post(SIGN, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["extra"] == [
        {
            "key": "family_name",
            "message": "Un nom ne peut contenir ni lien ni adresse de site (http, www., .com…).",
        }
    ]
    assert not await signatures_of(db, body["email"].split("@")[0])


@pytest.mark.parametrize("name", ["Jean-Pierre", "J.-P.", "Marie.Claire", "A.De Villiers"])
async def test_names_with_dots_that_are_no_links_are_accepted(
    name: str, client: httpx.AsyncClient
) -> None:
    response = await client.post(SIGN, json=valid_body(given_name=name))
    assert response.status_code == 202, response.text


async def test_the_form_says_which_name_carries_a_link(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    form = valid_form(given_name="Gagnez sur www.exemple.fr", family_name="Martin")
    page = await client.post("/signer", data={**form, "_csrf_token": await csrf_token(client)})
    assert page.status_code == 422
    found = re.search(r'id="e-given_name"[^>]*>(.*?)</', page.text, re.S)
    assert found is not None
    assert unescape(found.group(1)).strip() == (
        "Un nom ne peut contenir ni lien ni adresse de site (http, www., .com…)."
    )
    assert 'id="e-family_name"' not in page.text
    assert not await signatures_of(db, form["email"].split("@")[0])


async def test_the_migration_keeps_the_earliest_of_aliased_signatures(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signatures doubled by aliases before migration 0018: the earliest stays; the later ones
    point at it and are rejected (a confirmed one leaves its counter, queued mail is
    cancelled); a rejected one stays as it was."""
    every = migrations.migration_files
    monkeypatch.setattr(migrations, "migration_files", lambda: [m for m in every() if m[0] < 18])
    await migrations.migrate(empty_database)
    conn = await asyncpg.connect(empty_database)
    try:
        await load_territories(conn)
        campaign_id = await conn.fetchval(
            "INSERT INTO campaigns (slug, title, launch_at) VALUES ('c', 'C', now()) RETURNING id"
        )
        await conn.execute(
            "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'T')",
            campaign_id,
        )
        ids = {}
        for n, (address, status) in enumerate(
            [
                ("anne.martin@gmail.com", "confirmed"),
                ("annemartin+x@gmail.com", "confirmed"),
                ("AnneMartin@googlemail.com", "pending"),
                ("anne.martin+old@gmail.com", "withdrawn"),
                ("autre@mairie-test.fr", "confirmed"),
            ]
        ):
            ids[address] = await conn.fetchval(
                """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                       territory_level, territory_code, letter_version, status, created_at)
                   VALUES ($1, $2, 'A', 'M', 'maire', 'commune', '69123', 1, $3,
                           now() - make_interval(mins => 10 - $4))
                   RETURNING id""",
                campaign_id,
                address,
                status,
                n,
            )
        await conn.execute(
            "INSERT INTO territory_counts (campaign_id, level, code, confirmed)"
            " VALUES ($1, 'commune', '69123', 3)"
            " ON CONFLICT (campaign_id, level, code) DO UPDATE SET confirmed = 3",
            campaign_id,
        )
        queued = await conn.fetchval(
            "INSERT INTO outbox (template, recipient, signature_id)"
            " VALUES ('confirm', 'AnneMartin@googlemail.com', $1) RETURNING id",
            ids["AnneMartin@googlemail.com"],
        )
        monkeypatch.setattr(migrations, "migration_files", every)
        assert await migrations.migrate(empty_database) == [
            name for number, name, _ in every() if number >= 18
        ]
        rows = {
            r["email"]: r
            for r in await conn.fetch(
                "SELECT email, status, rejected_from, duplicate_of, email_canonical FROM signatures"
            )
        }
        first = ids["anne.martin@gmail.com"]
        assert rows["anne.martin@gmail.com"]["status"] == "confirmed"
        assert rows["anne.martin@gmail.com"]["duplicate_of"] is None
        assert rows["annemartin+x@gmail.com"]["status"] == "rejected"
        assert rows["annemartin+x@gmail.com"]["rejected_from"] == "confirmed"
        assert rows["AnneMartin@googlemail.com"]["status"] == "rejected"
        assert rows["anne.martin+old@gmail.com"]["status"] == "withdrawn"
        for later in ("annemartin+x@gmail.com", "AnneMartin@googlemail.com"):
            assert rows[later]["duplicate_of"] == first
            assert rows[later]["email_canonical"] is None
        assert rows["autre@mairie-test.fr"]["status"] == "confirmed"
        assert await conn.fetchval("SELECT confirmed FROM territory_counts") == 2
        assert await conn.fetchval("SELECT status FROM outbox WHERE id = $1", queued) == (
            "cancelled"
        )
        # From now on, an alias meets the kept signature.
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
                       territory_level, territory_code, letter_version)
                   VALUES ($1, 'a.nne.martin+new@gmail.com', 'A', 'M', 'maire', 'commune',
                           '69123', 1)""",
                campaign_id,
            )
    finally:
        await conn.close()
