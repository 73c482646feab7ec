"""The organisers' privacy tools: block lists (audited, flag instead of reject), access requests
(everything held about an address, as a JSON file) and erasure requests (as a withdrawal), both
audited without the address in clear."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx

from tests.support.admin import logged_in, make_signature, post_form, stored_count
from tests.support.app import unique_email
from tests.support.mail import Mailbox


async def audit_entries(db: asyncpg.Connection, action: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT before::text, after::text, detail::text, target_id FROM audit_log"
        " WHERE action = $1 ORDER BY id",
        action,
    )


async def test_block_list_is_managed_and_audited(server: str, db: asyncpg.Connection) -> None:
    domain = f"bloque-{uuid.uuid4().hex[:8]}.fr"
    async with logged_in(server, db, "organiser") as organiser:
        page = await organiser.get("/admin/blocage")
        assert page.status_code == 200 and "Listes de blocage" in page.text
        assert page.headers["cache-control"] == "no-store"
        added = await post_form(
            organiser,
            "/admin/blocage",
            "/admin/blocage",
            {"kind": "domain", "value": f" @{domain.upper()} ", "reason": "inondation"},
        )
        assert added.status_code == 303
        again = await post_form(
            organiser, "/admin/blocage", "/admin/blocage", {"kind": "domain", "value": domain}
        )
        assert "deja" in again.headers["location"]
        net = await post_form(
            organiser,
            "/admin/blocage",
            "/admin/blocage",
            {"kind": "network", "value": "198.51.100.77/24"},
        )
        assert net.status_code == 303
        bad = await post_form(
            organiser, "/admin/blocage", "/admin/blocage", {"kind": "network", "value": "pas un"}
        )
        assert bad.status_code == 422 and "Réseau invalide" in bad.text
        bad = await post_form(
            organiser, "/admin/blocage", "/admin/blocage", {"kind": "autre", "value": "x"}
        )
        assert bad.status_code == 422 and "Type de blocage inconnu" in bad.text
        listing = (await organiser.get("/admin/blocage")).text
        assert domain in listing and "198.51.100.0/24" in listing
        entry_id = await db.fetchval("SELECT id FROM block_list WHERE value = $1", domain)
        removed = await post_form(
            organiser, "/admin/blocage", f"/admin/blocage/{entry_id}/supprimer", {}
        )
        assert removed.status_code == 303
    assert not await db.fetchval("SELECT count(*) FROM block_list WHERE value = $1", domain)
    await db.execute("DELETE FROM block_list WHERE value = '198.51.100.0/24'")
    assert any(domain in (r["after"] or "") for r in await audit_entries(db, "blocklist.add"))
    assert any(domain in (r["before"] or "") for r in await audit_entries(db, "blocklist.remove"))


async def test_viewers_cannot_use_the_privacy_tools(server: str, db: asyncpg.Connection) -> None:
    async with logged_in(server, db, "viewer") as viewer:
        for path in ("/admin/blocage", "/admin/donnees"):
            assert (await viewer.get(path)).status_code == 403


async def test_access_request_gives_everything_held_as_a_file(
    server: str, db: asyncpg.Connection, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    address = unique_email("acces")
    family = f"Acces{uuid.uuid4().hex[:6]}"
    body = {
        "given_name": "Inès",
        "family_name": family,
        "email": address,
        "mandate": "maire",
        "territory_code": "69123",
        "public": True,
        "comment": "Mon commentaire",
    }
    assert (
        await client.post("/api/v1/campaigns/jouer-collectif/signatures", json=body)
    ).status_code == 202
    await mailbox.wait_for(address)
    async with logged_in(server, db, "organiser") as organiser:
        response = await post_form(
            organiser, "/admin/donnees", "/admin/donnees/acces", {"email": address.upper()}
        )
        assert response.status_code == 200, response.text[:1000]
        assert response.headers["content-type"].startswith("application/json")
        assert "attachment" in response.headers["content-disposition"]
        assert response.headers["cache-control"] == "no-store"
        document = json.loads(response.content)
        bad = await post_form(organiser, "/admin/donnees", "/admin/donnees/acces", {"email": "x"})
        assert bad.status_code == 422 and "Adresse électronique invalide" in bad.text
    [signature] = document["signatures"]
    assert signature["email"] == address and signature["family_name"] == family
    assert signature["comment"] == "Mon commentaire" and signature["consent_version"] == 1
    assert [link["purpose"] for link in document["liens"]] == ["confirm"]
    assert document["courriels"][0]["template"] == "confirm"
    assert document["invitations"] == [] and document["opposition_aux_courriels"] is False
    [entry] = [
        r
        for r in await audit_entries(db, "privacy.access")
        if str(signature["id"]) in (r["detail"] or "")
    ]
    assert address not in entry["detail"] and "empreinte" in entry["detail"]


async def test_erasure_request_is_a_withdrawal(server: str, db: asyncpg.Connection) -> None:
    address = unique_email("effacement")
    family = f"Efface{uuid.uuid4().hex[:6]}"
    signature_id = await make_signature(db, family_name=family, email=address, code="38185")
    before = await stored_count(db, "commune", "38185")
    async with logged_in(server, db, "organiser") as organiser:
        unconfirmed = await post_form(
            organiser, "/admin/donnees", "/admin/donnees/effacement", {"email": address}
        )
        assert unconfirmed.status_code == 422 and "Cochez la case" in unconfirmed.text
        assert await db.fetchval("SELECT email FROM signatures WHERE id = $1", signature_id)
        done = await post_form(
            organiser,
            "/admin/donnees",
            "/admin/donnees/effacement",
            {"email": address, "confirmer": "oui"},
        )
        assert done.status_code == 200 and "1 signature effacée" in done.text
        again = await post_form(
            organiser,
            "/admin/donnees",
            "/admin/donnees/effacement",
            {"email": address, "confirmer": "oui"},
        )
        assert "0 signature effacée" in again.text
        detail = await organiser.get(f"/admin/signataires/{signature_id}")
        assert 'id="anonymised"' in detail.text and family not in detail.text
        # Exports take tombstones in their stride (no address any more).
        for fmt in ("csv", "xlsx"):
            export = await organiser.get(f"/admin/export.{fmt}", params={"statut": "withdrawn"})
            assert export.status_code == 200
            assert address.encode() not in export.content
        csv_text = (await organiser.get("/admin/export.csv")).content.decode("utf-8-sig")
        assert csv_text.splitlines()[0].endswith(
            ';"suspecte";"preuve";"mandat trouvé au RNE";"niveau de preuve"'
        )
    row = await db.fetchrow("SELECT * FROM signatures WHERE id = $1", signature_id)
    assert (row["status"], row["email"], row["family_name"]) == ("withdrawn", None, "")
    assert await stored_count(db, "commune", "38185") == before - 1
    # No campaign writes to the address again (its hash joins the suppression list).
    suppressed = "SELECT count(*) FROM suppressions WHERE email_hash = email_hash($1)"
    assert await db.fetchval(suppressed, address) == 1
    entries = [
        r for r in await audit_entries(db, "privacy.erase") if r["target_id"] == signature_id
    ]
    assert len(entries) == 1 and address not in entries[0]["detail"]
