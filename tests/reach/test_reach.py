"""Invitations, the suppression list, relays and attribution, through the real app (HTTP, SMTP,
PostgreSQL): CSV import errors per line, the pre-filled link (no address in it), a signature that
follows counts for its invitation and relay, an opt-out is never emailed again by any campaign,
a relay's secret page shows its own figures only."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import uuid

import asyncpg
import httpx
import pytest

from campaign.core.audit import CLI_ACTOR
from campaign.mail import suppression
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import invitation_csv, mailings
from campaign.territories.index import TerritoryIndex
from tests.support.admin import campaign_row, csrf_of, logged_in, make_signature, post_form
from tests.support.app import unique_email
from tests.support.mail import Mailbox
from tests.support.reach import wait_done
from tests.support.signing import confirm_link

LINK = re.compile(r"(http://\S+/\?ref=(inv-[0-9a-f]+)&invitation=([A-Za-z0-9_-]{43})#signer)")
OPT_OUT = re.compile(r"http://\S+/desinscription/(\S+)")


@pytest.fixture(scope="module")
async def index(dsn: str) -> TerritoryIndex:
    conn = await asyncpg.connect(dsn)
    try:
        return await TerritoryIndex.load(conn)
    finally:
        await conn.close()


def test_csv_import_reports_each_bad_line_and_keeps_the_good_ones(index: TerritoryIndex) -> None:
    text = (
        "Prénom;Nom;Courriel;Mandat;Territoire\n"
        "Anne;Martin;anne@mairie-a.fr;Maire;69123\n"
        "Paul;Durand;pas-une-adresse;maire;69123\n"
        "Léa;Petit;lea@mairie-b.fr;astronaute;44109\n"
        "\n"
        "Jean;Roux;jean@mairie-c.fr;Adjoint·e au maire;Nantes\n"
        "Luc;Blanc;luc@mairie-d.fr;conseiller départemental;Atlantide\n"
        "Marc;Noir;ANNE@mairie-a.fr;maire;44109\n"
        "Zoé;Vert;zoe@mairie-e.fr;senatrice;2A\n"
        "Ana;Gris;ana@mairie-f.fr;maire;\n"
    )
    invitees, errors = invitation_csv.parse(text.encode("cp1252", errors="replace"), index)
    assert [(i.email, i.mandate, i.territory_code) for i in invitees] == [
        ("anne@mairie-a.fr", "maire", "69123"),
        ("jean@mairie-c.fr", "adjoint", "44109"),
        ("zoe@mairie-e.fr", "senateur", "2A"),
    ]
    assert [str(e) for e in errors] == [
        "Ligne 3 : adresse électronique invalide (« pas-une-adresse »).",
        "Ligne 4 : mandat inconnu (« astronaute »).",
        "Ligne 7 : territoire inconnu pour ce mandat (« Atlantide »).",
        "Ligne 8 : adresse déjà présente ligne 2.",
        "Ligne 10 : territoire manquant.",
    ]
    assert invitees[0].given_name == "Anne"


def test_csv_without_the_needed_columns(index: TerritoryIndex) -> None:
    invitees, errors = invitation_csv.parse("nom,prenom\nMartin,Anne\n", index)
    assert invitees == []
    assert str(errors[0]).startswith("Ligne 1 : colonne(s) manquante(s) : adresse électronique")


def hash_forms(address: str) -> list[str]:
    """The unkeyed SHA-256 of an address as a link could carry it (issue 14, §4)."""
    digest = hashlib.sha256(address.strip().lower().encode()).digest()
    b64 = base64.urlsafe_b64encode(digest).decode()
    return [digest.hex(), b64.rstrip("="), b64.rstrip("=")[:20], digest.hex()[:20]]


def test_opt_out_tokens_cannot_be_forged_and_carry_no_bare_hash() -> None:
    token = suppression.opt_out_token("clé", "Anne@Mairie.fr ")
    assert suppression.read_token("clé", token) == suppression.address_hash("anne@mairie.fr")
    assert suppression.read_token("autre clé", token) is None
    assert not any(form in token for form in hash_forms("anne@mairie.fr"))
    # Forged: the sealed hash of another address, any bit flipped, the bare hash.
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for n in (0, 15, 16, 47):
        flipped = bytearray(raw)
        flipped[n] ^= 1
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        assert suppression.read_token("clé", forged) is None
    other = suppression.address_hash("autre@mairie.fr")
    bare = base64.urlsafe_b64encode(other + raw[:16]).rstrip(b"=").decode()
    assert suppression.read_token("clé", bare) is None
    assert suppression.read_token("clé", "n'importe quoi") is None
    # Links sent before the hash was sealed (`hash.signature`) still work, and only if signed.
    digest = suppression.address_hash("anne@mairie.fr")
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    mac = hmac.new("clé".encode(), b"optout:" + digest, hashlib.sha256).digest()[:16]
    legacy = f"{encoded}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert suppression.read_token("clé", legacy) == digest
    assert suppression.read_token("autre clé", legacy) is None
    assert suppression.read_token("clé", f"{encoded}.{'A' * 22}") is None


async def test_invitation_link_prefills_the_form_and_the_signature_counts_for_it(
    server: str, db: asyncpg.Connection, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    address = unique_email("invite")
    async with logged_in(server, db, "organiser") as admin:
        relay = await post_form(
            admin,
            "/admin/relais",
            "/admin/relais",
            {"nom": "Réseau Rhône", "territoire": "69", "code": f"rh-{uuid.uuid4().hex[:6]}"},
        )
        assert relay.status_code == 303
        relay_id = int(relay.headers["location"].split("/")[3].split("?")[0])
        csv_text = f"prénom;nom;email;mandat;territoire\nAnne;Invitée;{address};maire;69123\n"
        page = await admin.get("/admin/invitations")
        imported = await admin.post(
            "/admin/invitations/import",
            data={"_csrf_token": csrf_of(page.text), "relais": str(relay_id)},
            files={"fichier": ("elus.csv", csv_text.encode(), "text/csv")},
        )
        assert imported.status_code == 200
        assert "1 invité·e ajouté·e" in imported.text
        asked = await post_form(
            admin,
            "/admin/invitations",
            "/admin/invitations/envoyer",
            {"relais": str(relay_id), "rate": "20"},
        )
        # Nothing goes before the confirmation step: the count and a sample of invitees.
        assert asked.status_code == 200
        assert "Confirmer l’envoi à 1 invité·e" in asked.text
        assert "Anne Invitée" in asked.text
        assert not await db.fetchval(
            "SELECT count(*) FROM outbox o JOIN invitations i ON i.id = o.invitation_id "
            "WHERE i.email = $1",
            address,
        )
        sent = await post_form(
            admin,
            "/admin/invitations",
            "/admin/invitations/envoyer",
            {"relais": str(relay_id), "rate": "20", "confirme": "oui"},
        )
        assert sent.status_code == 303
        mailing_id = int(sent.headers["location"].split("/")[3].split("?")[0])
    await wait_done(db, mailing_id)
    (message,) = await mailbox.wait_for(address)
    text = message.get_body(("plain",)).get_content()
    url, code, _token = LINK.search(text).groups()  # type: ignore[union-attr]
    assert address not in url and "invite." not in url
    assert "Maire, Lyon (69)" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    form = await client.get(url.replace(server, "").split("#")[0])
    assert form.status_code == 200
    assert 'value="Anne"' in form.text and 'value="Invitée"' in form.text
    assert 'value="Lyon (69)"' in form.text and f'value="{code}"' in form.text
    assert '<option value="maire" selected>' in form.text
    assert address not in form.text

    await client.get("/signer/jeton")  # the form's image: its cookie
    signed = await client.post(
        "/signer",
        data={
            "given_name": "Anne",
            "family_name": "Invitée",
            "email": address,
            "mandate": "maire",
            "territory_code": "Lyon (69)",
            "ref": code,
            "public": "true",
        },
    )
    assert signed.status_code in (303, 200), signed.text
    confirmation = (await mailbox.wait_for(address, 2))[-1]
    _, token = confirm_link(confirmation)
    page = await client.get(f"/confirmer/{token}")
    done = await client.post(f"/confirmer/{token}", data={"_csrf_token": csrf_of(page.text)})
    assert done.status_code == 200
    assert await db.fetchval("SELECT ref FROM signatures WHERE email = $1", address) == code

    async with logged_in(server, db, "viewer") as viewer:
        ranking = (await viewer.get("/admin/relais")).text
    row = re.search(r"Réseau Rhône</a>.*?</tr>|Réseau Rhône.*?</tr>", ranking, re.S)
    assert row is not None
    assert '<td class="num">1</td>' in row.group(0)  # one confirmed, through the invitation
    async with logged_in(server, db, "organiser") as admin:
        listing = (await admin.get("/admin/invitations?statut=signed")).text
    assert "Invitée Anne" in listing


async def test_an_opted_out_address_is_never_emailed_again(
    server: str, db: asyncpg.Connection, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    ref = f"opt-{uuid.uuid4().hex[:6]}"
    address = unique_email("optout")
    await make_signature(db, email=address, ref=ref)
    c = await campaign_row(db)

    async def mailing() -> int:
        draft = mailings.Draft(
            subject="Nouvelles",
            body="Texte.\n",
            filter=SignatoryFilter(status="confirmed", ref=ref),
            rate=50,
        )
        mailing_id = await mailings.create(db, c["id"], draft, CLI_ACTOR)
        await mailings.start(db, mailing_id, CLI_ACTOR)
        await wait_done(db, mailing_id)
        return mailing_id

    await mailing()
    (first,) = await mailbox.wait_for(address)
    text = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = OPT_OUT.search(text).group(1)  # type: ignore[union-attr]
    # The link names nobody: no bare hash of the address, in the text or the header.
    for form in hash_forms(address):
        assert form not in text and form not in first["List-Unsubscribe"]
    # A forged link (another address's, sealed with another key) is refused, and opts out nobody.
    forged = suppression.opt_out_token("une autre clé", address)
    assert (await client.get(f"/desinscription/{forged}")).status_code == 404
    assert (await client.post(f"/desinscription/{forged}")).status_code == 404
    assert not await suppression.is_suppressed(db, address)
    # Opening the link (as a mail filter does) changes nothing; its button opts out.
    page = await client.get(f"/desinscription/{token}")
    assert page.status_code == 200 and "Ne plus recevoir" in page.text
    assert not await suppression.is_suppressed(db, address)
    # A mail client's one-click unsubscription (RFC 8058): a POST without any form token.
    done = await client.post(
        f"/desinscription/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "C’est noté" in done.text
    assert await suppression.is_suppressed(db, address)
    assert (await client.post(f"/desinscription/{token[:-3]}xyz")).status_code == 404

    second = await mailing()
    row = await db.fetchrow("SELECT status, last_error FROM outbox WHERE mailing_id = $1", second)
    assert row["status"] == "cancelled" and "opposition" in row["last_error"]
    # Invitations too, whatever the campaign's list.
    await db.execute(
        "INSERT INTO invitations (campaign_id, email, mandate, territory_level, territory_code,"
        " source, code, token_salt, token_hash) VALUES ($1, $2, 'maire', 'commune', '69123',"
        " 'csv', $3, '\\x00', $4)",
        c["id"],
        address.upper().lower(),
        f"inv-{uuid.uuid4().hex[:10]}",
        uuid.uuid4().bytes,
    )
    # Signing again themselves: the confirmation they ask for is never suppressed.
    await asyncio.sleep(0.5)
    assert len(mailbox.to(address)) == 1
    await db.execute(
        "INSERT INTO outbox (template, recipient, signature_id) "
        "SELECT 'already_signed', email, id FROM signatures WHERE email = $1",
        address,
    )
    assert len(await mailbox.wait_for(address, 2)) == 2


async def test_a_relay_sees_its_own_figures_only(
    server: str, db: asyncpg.Connection, client: httpx.AsyncClient
) -> None:
    code = f"nantes-{uuid.uuid4().hex[:6]}"
    async with logged_in(server, db, "organiser") as admin:
        created = await post_form(
            admin,
            "/admin/relais",
            "/admin/relais",
            {"nom": "Relais Nantes", "territoire": "44", "code": code},
        )
        detail = (await admin.get(created.headers["location"])).text
        bad = await post_form(
            admin, "/admin/relais", "/admin/relais", {"nom": "Relais X", "territoire": "Atlantide"}
        )
        assert bad.status_code == 422 and "Territoire inconnu" in bad.text
        taken = await post_form(
            admin,
            "/admin/relais",
            "/admin/relais",
            {"nom": "Relais Y", "territoire": "44", "code": code},
        )
        assert taken.status_code == 422 and "déjà pris" in taken.text
    secret = re.search(r'id="secret-link"[^>]*|value="(http://[^"]+/relais/[^"]+)"', detail)
    link = re.search(r'value="(http://[^"]+/relais/([A-Za-z0-9_-]{43}))"', detail)
    assert secret and link
    path = "/relais/" + link.group(2)
    await make_signature(db, given_name="Visible", family_name="Listée", ref=code, code="44109")
    await make_signature(db, given_name="Discrète", family_name="Cachée", ref=code, public=False)
    await make_signature(db, given_name="Autre", family_name="Relais", ref="quelqu-un-d-autre")
    page = await client.get(path)
    assert page.status_code == 200
    assert "Relais Nantes" in page.text and "Visible Listée" in page.text
    assert "Cachée" not in page.text and "Autre Relais" not in page.text
    assert "no-store" in page.headers["cache-control"]
    state = (await client.get(path + "/etat")).json()
    assert state["confirmed"] == 2 and state["unlisted"] == 1
    assert [i["name"] for i in state["items"]] == ["Visible Listée"]
    assert state["territory"]["confirmed"] >= 1
    assert (await client.get("/relais/" + "A" * 43)).status_code == 404
    assert (await client.get("/relais/court")).status_code == 404
    # The relay's link gives nothing else: not the back office.
    assert (await client.get("/admin", follow_redirects=False)).status_code == 303


async def test_territories_rank_and_show_where_to_call(server: str, db: asyncpg.Connection) -> None:
    await make_signature(db, code="01053")  # Bourg-en-Bresse has signed
    async with logged_in(server, db, "viewer") as viewer:
        page = await viewer.get("/admin/territoires?departement=01")
    assert page.status_code == 200
    table = page.text.split('id="to-call"')[1].split("</table>")[0]
    assert "Bourg-en-Bresse" not in table
    assert "Oyonnax" in table  # the next most populated commune of the Ain, no signature
    assert 'id="rank-departements"' in page.text


async def test_composer_preview_test_send_and_live_progress(
    server: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    async with logged_in(server, db, "organiser") as admin:
        empty = await post_form(
            admin, "/admin/envois/nouveau", "/admin/envois/nouveau", {"rate": "vite"}
        )
        assert empty.status_code == 422
        assert "L’objet est obligatoire." in empty.text
        assert "Un nombre de messages par seconde" in empty.text
        form = {
            "subject": "Point d’étape",
            "body": "Merci **à tous** !",
            "departement": "69",
            "mandat": "maire",
            "rate": "2,5",
        }
        preview = await post_form(
            admin, "/admin/envois/nouveau", "/admin/envois/nouveau", {**form, "action": "apercu"}
        )
        assert preview.status_code == 200 and "<strong>à tous</strong>" in preview.text
        saved = await post_form(
            admin,
            "/admin/envois/nouveau",
            "/admin/envois/nouveau",
            {**form, "action": "enregistrer"},
        )
        assert saved.status_code == 303
        detail_url = saved.headers["location"]
        tested = await post_form(admin, detail_url, detail_url + "/test", {})
        assert tested.status_code == 303
        (test_message,) = await mailbox.wait_for(admin.email)  # type: ignore[attr-defined]
        assert test_message["Subject"] == "Point d’étape"
        progress = (await admin.get(detail_url + "/progression")).json()
        assert progress["status"] == "draft" and progress["sent"] == 0
    async with logged_in(server, db, "viewer") as viewer:
        assert (await viewer.get(detail_url)).status_code == 403
