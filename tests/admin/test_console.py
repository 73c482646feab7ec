"""A catalyst's console against a fixture territory (four communes of the Lozère in four
states): the queues, « inviter » through the invitations, visits and calls noted (audited,
read by organisers), the coverage, the QR codes (decoded) and the flyer, the alliance view."""

from __future__ import annotations

import html
import io
import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import resvg_py
import zxingcpp
from PIL import Image

from tests.support.admin import campaign_row, csrf_of, logged_in, login, make_signature
from tests.support.catalysts import catalyst_client, territory
from tests.support.mail import Mailbox

ALBARET, ALLANCHE_CODE, ALTIER, ANTRENAS = "48001", "48002", "48004", "48005"
TOWN_HALL_48002 = "asm48200@gmail.com"  # campaign/data/mairies.csv.xz
REGISTER_IDS = range(990_000_001, 990_000_010)


@pytest.fixture
async def register(db: asyncpg.Connection) -> AsyncIterator[None]:
    """A few officials of the register, removed after the test."""
    rows = [
        ("maire", "commune", ALBARET, "FIXTURE", "Jeanne", "fixture", "jeanne"),
        ("maire", "commune", ANTRENAS, "VERIFIEE", "Anne", "verifiee", "anne"),
        ("president_intercommunalite", "commune", ALBARET, "INTERCO", "Paul", "interco", "paul"),
        ("conseiller_departemental", "departement", "48", "DEPARTE", "Léa", "departe", "lea"),
        ("depute", "departement", "48", "ABSENT", "Marc", "absent", "marc"),
    ]
    await db.executemany(
        """INSERT INTO officials (id, mandate, territory_level, territory_code, family_name,
               given_name, family_key, given_key, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'test')""",
        [(i, *r) for i, r in zip(REGISTER_IDS, rows, strict=False)],
    )
    try:
        yield
    finally:
        await db.execute("DELETE FROM officials WHERE id = ANY($1::bigint[])", list(REGISTER_IDS))


def queue(page: str, name: str) -> str:
    """The text of one queue's section of the console."""
    match = re.search(rf'<section[^>]*id="{name}">(.*?)</section>', page, re.S)
    assert match, f"no queue {name}"
    return html.unescape(match.group(1))


def communes() -> list:  # type: ignore[type-arg]
    return [territory("commune", c, "48") for c in (ALBARET, ALLANCHE_CODE, ALTIER, ANTRENAS)]


async def test_the_queues_rank_the_communes_by_what_to_do_next(
    server: str, db: asyncpg.Connection, mailbox: Mailbox, register: None
) -> None:
    await make_signature(
        db, mandate="maire", code=ALTIER, family_name="Pasencore", given_name="Zoé"
    )
    verified = await make_signature(db, mandate="maire", code=ANTRENAS, family_name="Verifiee")
    # Verified means proven (issue 14): a register match alone leaves it « to verify ».
    await db.execute(
        "UPDATE signatures SET verification_override = 'verified', proof = 'organisers',"
        " proof_at = now(), proof_by = 'test', proof_note = 'appel' WHERE id = $1",
        verified,
    )
    async with catalyst_client(server, db, communes()) as client:
        page = (await client.get("/console")).text
        assert "Albaret" in queue(page, "to_invite")
        assert "Jeanne FIXTURE" in queue(page, "to_invite")  # the maire, from the register
        assert "commune-d-albaret-le-comtal@orange.fr" in queue(page, "to_invite")
        assert "Allenc" not in page  # another catalyst's commune
        assert "Altier" in queue(page, "to_verify")
        assert "Antrenas" in queue(page, "done")
        assert "Albaret" not in queue(page, "done")
        assert re.search(r"<strong>2</strong> sur 4", page)  # the coverage
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in page

        # « Inviter »: the town hall gets the invitation, brought by the catalyst's relay.
        token = csrf_of(page)
        sent = await client.post(
            f"/console/communes/{ALLANCHE_CODE}/inviter", data={"_csrf_token": token}
        )
        assert sent.status_code == 303
        assert sent.headers["location"].endswith("fait=invitation")
        await mailbox.wait_for(TOWN_HALL_48002)
        relay = await db.fetchval(
            "SELECT i.relay_id = c.relay_id FROM invitations i, catalysts c "
            "WHERE i.email = $1 AND c.relay_id = i.relay_id",
            TOWN_HALL_48002,
        )
        assert relay is True
        page = (await client.get("/console")).text
        assert "Allanche" not in queue(page, "to_invite")
        assert f"/console/communes/{ALLANCHE_CODE}" in queue(page, "invited")
        again = await client.post(
            f"/console/communes/{ALLANCHE_CODE}/inviter", data={"_csrf_token": token}
        )
        assert again.headers["location"].endswith("fait=deja")
        assert len(mailbox.to(TOWN_HALL_48002)) == 1

        # A commune outside the territory: 404, nothing done.
        outside = await client.post("/console/communes/69123/inviter", data={"_csrf_token": token})
        assert outside.status_code == 404


async def test_visits_and_calls_are_noted_audited_and_read_by_organisers(
    server: str, db: asyncpg.Connection
) -> None:
    note = "Reçue par la secrétaire, rappeler jeudi"
    async with catalyst_client(server, db, communes()) as client:
        token = csrf_of((await client.get(f"/console/communes/{ALBARET}")).text)
        done = await client.post(
            f"/console/communes/{ALBARET}/contact",
            data={"_csrf_token": token, "kind": "visit", "note": note},
        )
        assert done.status_code == 303
        shown = html.unescape((await client.get(done.headers["location"])).text)
        assert note in shown and "Visite" in shown
        # A bad kind or a note too long: a French 422, nothing stored.
        for data in ({"kind": "mail", "note": "x"}, {"kind": "call", "note": "x" * 2001}):
            refused = await client.post(
                f"/console/communes/{ALBARET}/contact", data={"_csrf_token": token, **data}
            )
            assert refused.status_code == 422
            assert "Choisissez" in refused.text or "2000 caractères" in refused.text
    stored = await db.fetch(
        "SELECT kind, note FROM catalyst_contacts WHERE territory_code = $1", ALBARET
    )
    assert [(r["kind"], r["note"]) for r in stored] == [("visit", note)]
    audited = await db.fetchval(
        "SELECT detail->>'note' FROM audit_log WHERE action = 'catalyst.visit' ORDER BY id DESC"
    )
    assert audited == note
    async with logged_in(server, db, "viewer") as viewer:
        back_office = html.unescape((await viewer.get("/admin/catalyseurs")).text)
        assert note in back_office


async def test_the_qr_codes_open_the_sign_page_with_the_relay_code(
    server: str, db: asyncpg.Connection
) -> None:
    async with catalyst_client(server, db, communes()[:1]) as client:
        code = await db.fetchval(
            "SELECT r.code FROM catalysts c JOIN relays r ON r.id = c.relay_id "
            "ORDER BY c.created_at DESC LIMIT 1"
        )
        expected = f"{server}/?ref={code}#signer"
        png = await client.get("/console/qr.png")
        assert png.headers["content-type"] == "image/png"
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
        assert [d.text for d in decoded] == [expected]
        svg = await client.get("/console/qr.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml")
        rendered = bytes(resvg_py.svg_to_bytes(svg_string=svg.text))
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(rendered)))
        assert [d.text for d in decoded] == [expected]
        # That address opens the sign form, the relay's code in it.
        sign = await client.get(expected.split("#")[0])
        assert sign.status_code == 200 and f'value="{code}"' in sign.text

        flyer = await client.get("/console/affiche")
        assert flyer.status_code == 200
        assert "@page { size: A4" in (await client.get("/static/console.css")).text
        assert "<svg" in flyer.text and expected in html.unescape(flyer.text)
        campaign = await campaign_row(db)
        body = await db.fetchval(
            "SELECT body FROM letter_versions WHERE campaign_id = $1 AND version = $2",
            campaign["id"],
            campaign["current_version"],
        )
        for paragraph in [p for p in body.split("\n\n") if p.strip()][:2]:
            assert " ".join(paragraph.split()[:5]) in html.unescape(flyer.text)
        # The flyer's QR code, drawn as the browser would, decodes to the same address.
        svg_in_page = re.search(r"<svg.*?</svg>", flyer.text, re.S)
        assert svg_in_page
        rendered = bytes(resvg_py.svg_to_bytes(svg_string=svg_in_page.group(0), width=400))
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(rendered)))
        assert [d.text for d in decoded] == [expected]


async def test_the_alliance_lists_signed_and_missing_levels(
    server: str, db: asyncpg.Connection, register: None
) -> None:
    await make_signature(
        db, mandate="maire", code=ALBARET, family_name="Fixture", given_name="Jeanne"
    )
    await make_signature(
        db,
        mandate="conseiller_departemental",
        level="departement",
        code="48",
        family_name="Departe",
        given_name="Léa",
    )
    async with catalyst_client(server, db, [territory("commune", ALBARET, "48")]) as client:
        page = await client.get(f"/console/alliance/commune/{ALBARET}")
        assert page.status_code == 200
        text = html.unescape(page.text)

        def level(mandate: str) -> str:
            match = re.search(rf'id="niveau-{mandate}">(.*?)</li>', text, re.S)
            assert match, mandate
            return match.group(1)

        assert "a signé" in level("maire") and "Jeanne Fixture" in level("maire")
        assert "FIXTURE" not in level("maire")  # signed: not in the missing ones
        assert "a signé" in level("conseiller_departemental")
        assert "Léa DEPARTE" not in level("conseiller_departemental")
        assert "pas encore" in level("president_intercommunalite")
        assert "Paul INTERCO" in level("president_intercommunalite")
        assert "pas encore" in level("depute") and "Marc ABSENT" in level("depute")
        # Another territory's alliance is not the catalyst's to see.
        other = await client.get("/console/alliance/departement/69")
        assert other.status_code == 404


async def test_an_organiser_invites_a_catalyst_who_logs_in_to_its_console(
    server: str, db: asyncpg.Connection
) -> None:
    email = "nouvelle.catalyseuse@collectif-test.fr"
    async with logged_in(server, db, "organiser") as organiser:
        page = "/admin/catalyseurs"
        token = csrf_of((await organiser.get(page)).text)
        refused = await organiser.post(
            page,
            data={"_csrf_token": token, "nom": "Inès", "email": email, "territoires": "48, 99999"},
        )
        assert refused.status_code == 422
        assert "Territoire inconnu\u00a0: 99999." in html.unescape(refused.text)
        assert await db.fetchval("SELECT count(*) FROM organisers WHERE email = $1", email) == 0
        created = await organiser.post(
            page,
            data={"_csrf_token": token, "nom": "Inès", "email": email, "territoires": "48, 07010"},
        )
        assert created.status_code == 200
        match = re.search(r'<code id="first-password">([^<]+)</code>', created.text)
        assert match
        password = match.group(1)
        # The password is shown once, and stored only as its hash.
        assert password not in (await organiser.get(page)).text
        stored = await db.fetchval("SELECT password_hash FROM organisers WHERE email = $1", email)
        assert stored.startswith("$argon2id$") and password not in stored
    async with httpx.AsyncClient(base_url=server, timeout=20) as client:
        response = await login(client, email, password)
        assert response.headers["location"] == "/console"
        console = html.unescape((await client.get("/console")).text)
        assert "Lozère" in console and "Annonay" in console
        assert (await client.get("/admin/signataires")).status_code == 403
