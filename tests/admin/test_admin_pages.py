"""The dashboard, the outbox (failed mail with the server's reply, retried), campaign settings
(a new letter version at each change, reloaded live), accounts and the audit log page."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from campaign.admin.charts import daily_bars
from tests.support.admin import SLUG, csrf_of, logged_in, make_signature, post_form


def test_the_chart_is_plain_svg() -> None:
    from datetime import date, timedelta

    days = [(date(2027, 6, 1) + timedelta(days=i), i * 3, i) for i in range(30)]
    svg = daily_bars(days)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="received"') == 30
    assert "<script" not in svg
    assert "30 juin : 87 reçue(s), 29 confirmée(s)" in svg


async def test_dashboard_shows_the_campaign_at_a_glance(
    server: str, db: asyncpg.Connection
) -> None:
    await make_signature(db, ref="dash-relais", mandate="depute", level="departement", code="974")
    async with logged_in(server, db, "viewer") as viewer:
        page = await viewer.get("/admin")
    assert page.status_code == 200
    html = page.text
    for text in (
        "Signatures par statut",
        "Confirmée",
        "En attente",
        "Rejetée",
        "Retirée",
        "Taux de confirmation",
        "Par mandat",
        "Député·e",
        "dash-relais",
        "Courriels",
        "Par région",
        'data-level="departement" data-code="974"',
        "<svg",
    ):
        assert text in html, text
    assert "/static/live.js" in html  # live counts, the page being complete without it


async def test_failed_mail_shows_the_smtp_reply_and_can_be_retried(
    server: str, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, status="pending")
    mail_id = await db.fetchval(
        "INSERT INTO outbox (template, recipient, signature_id, status, attempts, last_error) "
        "VALUES ('already_signed', 'echec@mairie-test.fr', $1, 'failed', 8, "
        "'550 5.1.1 Boîte inconnue') RETURNING id",
        signature_id,
    )
    async with logged_in(server, db, "organiser") as organiser:
        page = await organiser.get("/admin/courriels", params={"statut": "failed"})
        assert "550 5.1.1 Boîte inconnue" in page.text
        response = await organiser.post(
            f"/admin/courriels/{mail_id}/relancer", data={"_csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303
    for _ in range(100):  # the worker takes it again
        status = await db.fetchval("SELECT status FROM outbox WHERE id = $1", mail_id)
        if status == "sent":
            break
        await asyncio.sleep(0.05)
    assert status == "sent"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'mail.retry' AND target_id = $1", mail_id
        )
        == 1
    )


async def test_editing_the_letter_makes_a_new_version_and_every_page_follows(
    server: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    before = await db.fetchrow(
        "SELECT c.id, c.current_version, c.goal, c.launch_at, c.title, v.body FROM campaigns c "
        "JOIN letter_versions v ON v.campaign_id = c.id AND v.version = c.current_version "
        "WHERE c.slug = $1",
        SLUG,
    )
    old_signature = await make_signature(db)
    async with logged_in(server, db, "admin") as admin:
        page = await admin.get("/admin/campagne")
        assert page.status_code == 200
        form = {
            "title": before["title"],
            "addressees": "Aux élus",
            "summary": "Résumé",
            "launch_at": "2027-07-08T09:00",
            "goal": "12345",
            "status": "open",
            "body": before["body"] + "\nUn paragraphe **ajouté**.\n",
            "_csrf_token": csrf_of(page.text),
        }
        preview = await admin.post("/admin/campagne", data={**form, "action": "apercu"})
        assert "<strong>ajouté</strong>" in preview.text
        assert (
            await db.fetchval("SELECT current_version FROM campaigns WHERE id = $1", before["id"])
            == before["current_version"]
        )
        bad = await admin.post(
            "/admin/campagne", data={**form, "goal": "-3", "action": "enregistrer"}
        )
        assert bad.status_code == 422
        saved = await admin.post("/admin/campagne", data={**form, "action": "enregistrer"})
        assert saved.status_code == 303
    info = (await client.get(f"/api/v1/campaigns/{SLUG}")).json()
    assert info["letter_version"] == before["current_version"] + 1
    assert info["goal"] == 12345
    assert "ajouté" in (await client.get("/")).text
    assert (
        await db.fetchval("SELECT letter_version FROM signatures WHERE id = $1", old_signature)
        == before["current_version"]
    )
    entry = await db.fetchrow(
        "SELECT before->>'objectif' AS b, after->>'objectif' AS a FROM audit_log "
        "WHERE action = 'campaign.update' ORDER BY id DESC LIMIT 1"
    )
    assert (entry["b"], entry["a"]) == (str(before["goal"]), "12345")
    # Put the campaign back as the other tests expect it.
    async with logged_in(server, db, "admin") as admin:
        page = await admin.get("/admin/campagne")
        await admin.post(
            "/admin/campagne",
            data={
                "title": before["title"],
                "addressees": "",
                "summary": "",
                "launch_at": before["launch_at"].isoformat(),
                "goal": str(before["goal"]),
                "status": "open",
                "body": before["body"],
                "action": "enregistrer",
                "_csrf_token": csrf_of(page.text),
            },
        )


async def test_admins_manage_accounts_and_read_the_journal(
    server: str, db: asyncpg.Connection
) -> None:
    async with logged_in(server, db, "admin") as admin:
        response = await post_form(
            admin,
            "/admin/comptes",
            "/admin/comptes",
            {
                "email": "Nouvelle.Relais@collectif-test.fr",
                "role": "viewer",
                "password": "un autre mot de passe long",
            },
        )
        assert response.status_code == 303
        new_id = await db.fetchval(
            "SELECT id FROM organisers WHERE email = 'nouvelle.relais@collectif-test.fr'"
        )
        response = await post_form(
            admin,
            "/admin/comptes",
            f"/admin/comptes/{new_id}",
            {"action": "role", "role": "organiser"},
        )
        assert response.status_code == 303
        response = await post_form(
            admin, "/admin/comptes", f"/admin/comptes/{new_id}", {"action": "desactiver"}
        )
        assert response.status_code == 303
        journal = (await admin.get("/admin/journal")).text
        for sentence in ("a créé le compte", "a donné le rôle", "a désactivé le compte"):
            assert sentence in journal
    row = await db.fetchrow("SELECT role, active FROM organisers WHERE id = $1", new_id)
    assert (row["role"], row["active"]) == ("organiser", False)
