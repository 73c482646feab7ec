"""Moderation: rejecting a confirmed signature takes it out of its territory's count in the same
transaction (and every process sees it live), restoring puts it back; featured signatories come
first in the public list; names corrected; bulk actions with a preview; resend a link; every
action in the append-only audit log."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.support.admin import SLUG, csrf_of, logged_in, make_signature, post_form, stored_count
from tests.support.mail import Mailbox
from tests.support.signing import confirm_link


async def public_total(client: httpx.AsyncClient) -> int:
    total: int = (await client.get(f"/api/v1/campaigns/{SLUG}")).json()["total"]
    return total


async def wait_for_total(client: httpx.AsyncClient, expected: int) -> None:
    for _ in range(100):
        if await public_total(client) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"total never reached {expected}")


async def test_reject_then_restore_moves_the_counts(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, family_name="Rejetable", code="38185")
    await wait_for_total(
        client,
        await db.fetchval(
            "SELECT sum(confirmed) FROM territory_counts tc "
            "JOIN campaigns c ON c.id = tc.campaign_id WHERE c.slug = $1",
            SLUG,
        ),
    )
    before_total = await public_total(client)
    before_row = await stored_count(db, "commune", "38185")
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "organiser") as organiser:
        refused = await post_form(organiser, page, f"{page}/moderer", {"action": "rejeter"})
        assert refused.status_code == 422  # a rejection needs a reason
        assert "Indiquez un motif." in refused.text
        response = await post_form(
            organiser, page, f"{page}/moderer", {"action": "rejeter", "motif": "Doublon"}
        )
        assert response.status_code == 303
        assert await stored_count(db, "commune", "38185") == before_row - 1
        await wait_for_total(client, before_total - 1)  # the app's memory, fed by NOTIFY
        detail = (await organiser.get(page)).text
        assert "Rejetée" in detail and "Doublon" in detail
        response = await post_form(organiser, page, f"{page}/moderer", {"action": "restaurer"})
        assert response.status_code == 303
        assert await stored_count(db, "commune", "38185") == before_row
        await wait_for_total(client, before_total)
        status = await db.fetchval("SELECT status FROM signatures WHERE id = $1", signature_id)
        assert status == "confirmed"
        history = (await organiser.get(page)).text
        assert history.index("a rejeté la signature") < history.index("a restauré la signature")
        assert organiser.email in history  # type: ignore[attr-defined]
    actions = await db.fetch(
        "SELECT action, before, after FROM audit_log WHERE target_type = 'signature' "
        "AND target_id = $1 ORDER BY id",
        signature_id,
    )
    assert [a["action"] for a in actions] == ["signature.reject", "signature.restore"]


async def test_rejecting_a_pending_signature_cancels_its_mail_and_counts_nothing(
    server: str, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, status="pending", code="75056")
    await db.execute(
        "INSERT INTO outbox (template, recipient, signature_id, next_attempt_at) "
        "VALUES ('confirm', 'x@mairie-test.fr', $1, now() + interval '1 hour')",
        signature_id,
    )
    before = await stored_count(db, "commune", "75056")
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "organiser") as organiser:
        await post_form(organiser, page, f"{page}/moderer", {"action": "rejeter", "motif": "Faux"})
        await post_form(organiser, page, f"{page}/moderer", {"action": "restaurer"})
    assert await stored_count(db, "commune", "75056") == before
    assert (
        await db.fetchval("SELECT status FROM signatures WHERE id = $1", signature_id) == "pending"
    )
    assert (
        await db.fetchval("SELECT status FROM outbox WHERE signature_id = $1", signature_id)
        == "cancelled"
    )


async def test_featured_signatories_come_first_in_the_public_list(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, family_name="Vedette", given_name="Zoé")
    await make_signature(db, family_name="Récente")  # newer, not featured
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "organiser") as organiser:
        response = await post_form(
            organiser, page, f"{page}/moderer", {"action": "mettre-en-avant"}
        )
        assert response.status_code == 303
    items = (await client.get(f"/api/v1/campaigns/{SLUG}/signatories")).json()["items"]
    assert items[0]["family_name"] == "Vedette"
    assert items[0]["featured"] is True
    assert not any(i["featured"] for i in items[1:] if i["family_name"] == "Récente")
    html = (await client.get("/signataires")).text
    assert html.index("Vedette") < html.index("Récente")
    async with logged_in(server, db, "organiser") as organiser:  # leave the list as it was
        await post_form(organiser, page, f"{page}/moderer", {"action": "retirer-avant"})


async def test_correct_a_typo_in_a_name(server: str, db: asyncpg.Connection) -> None:
    signature_id = await make_signature(db, given_name="Jaen", family_name="Duponr")
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "organiser") as organiser:
        bad = await post_form(
            organiser, page, f"{page}/corriger", {"given_name": "Jean\u200b", "family_name": "X"}
        )
        assert bad.status_code == 422
        response = await post_form(
            organiser, page, f"{page}/corriger", {"given_name": " Jean ", "family_name": "Dupont"}
        )
        assert response.status_code == 303
    row = await db.fetchrow(
        "SELECT given_name, family_name FROM signatures WHERE id = $1", signature_id
    )
    assert (row["given_name"], row["family_name"]) == ("Jean", "Dupont")
    entry = await db.fetchrow(
        "SELECT before->>'nom' AS b, after->>'nom' AS a FROM audit_log "
        "WHERE action = 'signature.correct' AND target_id = $1",
        signature_id,
    )
    assert (entry["b"], entry["a"]) == ("Duponr", "Dupont")


async def test_bulk_action_previews_then_applies_to_the_filtered_selection(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    ref = "lot-test-1"
    ids = [await make_signature(db, ref=ref, code="13055") for _ in range(3)]
    ids.append(await make_signature(db, ref=ref, status="pending", code="13055"))
    before = await stored_count(db, "commune", "13055")
    async with logged_in(server, db, "organiser") as organiser:
        preview = await organiser.get(
            "/admin/signataires/lot", params={"relais": ref, "action": "rejeter"}
        )
        assert preview.status_code == 200
        assert 'id="bulk-count">4<' in preview.text
        form = {
            "relais": ref,
            "action": "rejeter",
            "motif": "Relais fictif",
            "attendu": "4",
            "_csrf_token": csrf_of(preview.text),
        }
        # The selection grew since the preview: nothing is done, the new count is shown.
        await make_signature(db, ref=ref, code="13055")
        stale = await organiser.post("/admin/signataires/lot", data=form)
        assert stale.status_code == 409
        assert "La sélection a changé" in stale.text
        assert await stored_count(db, "commune", "13055") == before + 1
        response = await organiser.post("/admin/signataires/lot", data={**form, "attendu": "5"})
        assert response.status_code == 303
        assert "modifiees=5" in response.headers["location"]
    statuses = await db.fetch("SELECT status, rejected_from FROM signatures WHERE ref = $1", ref)
    assert {s["status"] for s in statuses} == {"rejected"}
    assert sorted(s["rejected_from"] for s in statuses) == ["confirmed"] * 4 + ["pending"]
    assert await stored_count(db, "commune", "13055") == before - 3
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'signature.reject' "
        "AND target_id = ANY($1::bigint[])",
        ids,
    )
    assert audited == 4


async def test_resend_a_confirmation_link(
    server: str, db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    email = "relance.elu@mairie-test.fr"
    await db.execute("DELETE FROM signatures WHERE email = $1", email)
    signature_id = await make_signature(db, status="pending", email=email)
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "organiser") as organiser:
        response = await post_form(organiser, page, f"{page}/renvoyer", {})
        assert response.status_code == 303
    [message] = await mailbox.wait_for(email)
    link, _ = confirm_link(message)
    assert "/confirmer/" in link
    assert await db.fetchval("SELECT emails_sent FROM signatures WHERE id = $1", signature_id) == 1
    # A confirmed signature gets no link.
    confirmed = await make_signature(db)
    page = f"/admin/signataires/{confirmed}"
    async with logged_in(server, db, "organiser") as organiser:
        refused = await post_form(organiser, page, f"{page}/renvoyer", {})
        assert refused.status_code == 422


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'rien' WHERE id = (SELECT max(id) FROM audit_log)",
        "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
        "TRUNCATE audit_log",
    ],
)
async def test_the_audit_log_is_append_only_in_the_database(
    db: asyncpg.Connection, statement: str
) -> None:
    await db.execute("INSERT INTO audit_log (action) VALUES ('test.append-only')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement)


async def test_an_organiser_overrides_the_verification(server: str, db: asyncpg.Connection) -> None:
    signature_id = await make_signature(db, family_name="Inconnue-du-registre")
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "organiser") as organiser:
        response = await post_form(
            organiser, page, f"{page}/verification", {"decision": "verified"}
        )
        assert response.status_code == 303
        detail = (await organiser.get(page)).text
        # A register override is a register match, not a proof (issue 14).
        assert '<dd id="verification">mandat trouvé au RNE' in detail
        assert '<dd id="proof">aucune' in detail
        filtered = await organiser.get(
            "/admin/signataires", params={"q": "Inconnue-du-registre", "verifie": "oui"}
        )
        assert f'href="/admin/signataires/{signature_id}"' not in filtered.text
    row = await db.fetchrow(
        "SELECT register_match, verified FROM signatures WHERE id = $1", signature_id
    )
    assert (row["register_match"], row["verified"]) == (True, False)
    entry = await db.fetchrow(
        "SELECT after->>'décision' AS d FROM audit_log WHERE action = 'signature.verify' "
        "AND target_id = $1",
        signature_id,
    )
    assert entry["d"] == "verified"


async def test_an_organiser_attests_with_a_reason_and_withdraws(
    server: str, db: asyncpg.Connection
) -> None:
    """Issue 14: the organisers' attestation proves the signer (verified, proof `organisers`),
    needs a reason, is in the journal, and can be withdrawn."""
    signature_id = await make_signature(db, family_name="Attestée")
    page = f"/admin/signataires/{signature_id}"
    attest = f"{page}/attestation"
    async with logged_in(server, db, "organiser") as organiser:
        refused = await post_form(organiser, page, attest, {"decision": "attester", "motif": " "})
        assert refused.status_code == 422 and "demande un motif" in refused.text
        assert not await db.fetchval("SELECT verified FROM signatures WHERE id = $1", signature_id)
        done = await post_form(
            organiser, page, attest, {"decision": "attester", "motif": "Vue en réunion"}
        )
        assert done.status_code == 303
        detail = (await organiser.get(page)).text
        assert (
            '<dd id="proof"><strong>élu·e vérifié·e (équipe)</strong> : '
            "Attesté par les organisateurs" in detail
        )
        assert "Vue en réunion" in detail
        filtered = await organiser.get(
            "/admin/signataires", params={"q": "Attestée", "verifie": "oui"}
        )
        assert f'href="/admin/signataires/{signature_id}"' in filtered.text
        row = await db.fetchrow(
            "SELECT verified, proof, proof_by, proof_note FROM signatures WHERE id = $1",
            signature_id,
        )
        assert (row["verified"], row["proof"], row["proof_note"]) == (
            True,
            "organisers",
            "Vue en réunion",
        )
        assert row["proof_by"] == organiser.email  # type: ignore[attr-defined]
        history = (await organiser.get(page)).text  # the journal's sentences, on its page
        assert "a attesté que la signature" in history
        assert "motif «\u00a0Vue en réunion\u00a0»" in history
        withdrawn = await post_form(organiser, page, attest, {"decision": "retirer"})
        assert withdrawn.status_code == 303
    row = await db.fetchrow("SELECT verified, proof FROM signatures WHERE id = $1", signature_id)
    assert (row["verified"], row["proof"]) == (False, None)
    actions = await db.fetch(
        "SELECT action FROM audit_log WHERE target_id = $1 AND action LIKE 'signature.%attest' "
        "ORDER BY id",
        signature_id,
    )
    assert [a["action"] for a in actions] == ["signature.attest", "signature.unattest"]
