"""The back office speaks the organisers' words: French statuses and verification results, no
`None` for a withdrawn signature, journal entries as sentences, Paris time with its zone;
mass sends ask for confirmation (count, sample) first; the composer keeps line breaks; the
progress says the time left in French."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import asyncpg

from campaign.admin import wording
from campaign.core.audit import CLI_ACTOR, AuditEntry
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import mailings
from campaign.signing import withdrawal
from tests.support.admin import campaign_row, csrf_of, logged_in, make_signature, post_form

NBSP = "\u00a0"


def _entry(action: str, **fields: str | int | None) -> AuditEntry:
    values = {
        "id": 1,
        "at": datetime(2026, 12, 4, 14, 2, tzinfo=UTC),
        "organiser_email": "anne@collectif.fr",
        "action": action,
        "target_type": None,
        "target_id": None,
        "before": None,
        "after": None,
        "detail": None,
        **fields,
    }
    return AuditEntry(**values)  # type: ignore[arg-type]


def test_paris_time_says_the_zone() -> None:
    winter = datetime(2026, 12, 4, 14, 2, tzinfo=UTC)
    assert (
        wording.paris_time(winter) == f"4{NBSP}déc.{NBSP}2026 à 15{NBSP}h{NBSP}02 (heure de Paris)"
    )
    summer = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # already the 2nd in Paris
    assert wording.paris_time(summer).startswith(f"2{NBSP}juil.{NBSP}2026 à 0{NBSP}h{NBSP}30")


def test_journal_sentences() -> None:
    reject = _entry(
        "signature.reject",
        target_type="signature",
        target_id=42,
        before='{"status":"confirmed"}',
        after='{"status":"rejected"}',
        detail='{"motif":"doublon"}',
    )
    assert wording.sentence(reject, {"anne@collectif.fr": "admin"}) == (
        f"anne@collectif.fr (administrateur·rice) a rejeté la signature n°{NBSP}42"
        f"{NBSP}: motif «{NBSP}doublon{NBSP}»."
    )
    restore = _entry(
        "signature.restore", target_type="signature", target_id=7, after='{"status":"confirmed"}'
    )
    assert "a restauré la signature n°\u00a07 (confirmée)." in wording.sentence(restore)
    export = _entry("export", detail='{"format":"csv","filtre":{"statut":"confirmed"}}')
    assert wording.sentence(export).endswith("a exporté les signataires (format CSV).")
    unknown = _entry("relay.teleport", target_type="relay", target_id=3, after='{"où":"Lyon"}')
    text = wording.sentence(unknown)
    assert text.startswith("anne@collectif.fr a fait l’action «")
    assert "le relais n°\u00a03" in text and "Lyon" in text and "{" not in text
    assert wording.sentence(_entry("login", organiser_email=None)) == "quelqu’un s’est connecté·e."


def test_remaining_time_from_the_measured_rate() -> None:
    # 600 left, 120 sent in the last minute (2 per second) while the set rate says 10 per second.
    assert wording.remaining_time(600, 120, 10.0) == f"environ 5{NBSP}min restantes"
    assert wording.remaining_time(600, 0, 10.0) == f"environ 1{NBSP}min restantes"
    assert wording.remaining_time(20, 0, 10.0) == "moins d’une minute restante"
    assert wording.remaining_time(0, 50, 10.0) == ""
    assert wording.remaining_time(36_000, 60, 1.0) == f"environ 10{NBSP}h{NBSP}00 restantes"


def test_masked_email() -> None:
    assert wording.masked_email("anne.martin@mairie.fr") == "an•••@mairie.fr"
    assert wording.masked_email(None) == "—"


async def test_a_withdrawn_signature_reads_in_french(server: str, db: asyncpg.Connection) -> None:
    signature_id = await make_signature(db, family_name="Retirée")
    async with db.transaction():
        await withdrawal.erase(db, [signature_id], withdraw=True)
    async with logged_in(server, db, "organiser") as organiser:
        detail = await organiser.get(f"/admin/signataires/{signature_id}")
        assert detail.status_code == 200
        assert "None" not in detail.text
        assert f"Signature n° {signature_id} (nom effacé)" in detail.text
        assert '<span class="status status-withdrawn" id="status">Retirée</span>' in detail.text
        assert "(heure de Paris)" in detail.text
        assert (
            '<dd id="verification">mandat non trouvé au RNE : pas encore comparée au répertoire'
            in detail.text
        )
        listing = await organiser.get("/admin/signataires", params={"statut": "withdrawn"})
        assert "None" not in listing.text
        link = re.search(rf'href="/admin/signataires/{signature_id}">([^<]*)</a>', listing.text)
        assert link is not None and link.group(1).strip()


async def test_the_journal_reads_as_sentences_in_paris_time(
    server: str, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, family_name="Journalisée")
    page = f"/admin/signataires/{signature_id}"
    async with logged_in(server, db, "admin") as admin:
        rejected = await post_form(
            admin, page, f"{page}/moderer", {"action": "rejeter", "motif": "doublon"}
        )
        assert rejected.status_code == 303
        verified = await post_form(admin, page, f"{page}/verification", {"decision": "verified"})
        assert verified.status_code == 303
        journal = (await admin.get("/admin/journal")).text
        email = admin.email  # type: ignore[attr-defined]
        assert (
            f"{email} (administrateur·rice) a rejeté la signature n°{NBSP}{signature_id}"
            f"{NBSP}: motif «{NBSP}doublon{NBSP}»." in journal
        )
        assert f"a changé la vérification de la signature n°{NBSP}{signature_id}" in journal
        assert "a rejeté" in journal and "{&#34;" not in journal and '{"' not in journal
        assert "(heure de Paris)" in journal
        detail = (await admin.get(page)).text
        assert "mandat trouvé au RNE : " in detail and "(verified)" not in detail
        assert "reconnue (décision manuelle)" in detail
        assert "status :" not in detail and "statut=" not in detail


async def _draft(db: asyncpg.Connection, body: str, ref: str) -> int:
    c = await campaign_row(db)
    draft = mailings.Draft(
        subject="À confirmer",
        body=body,
        filter=SignatoryFilter(status="confirmed", ref=ref),
        rate=5,
    )
    return await mailings.create(db, c["id"], draft, CLI_ACTOR)


async def test_a_mailing_waits_for_its_confirmation(server: str, db: asyncpg.Connection) -> None:
    ref = f"conf-{uuid.uuid4().hex[:6]}"
    for i in range(7):
        await make_signature(db, ref=ref, given_name=f"Élue{i}", email=f"elue{i}.{ref}@mairie.fr")
    mailing_id = await _draft(db, "Bonjour.\n", ref)
    page = f"/admin/envois/{mailing_id}"
    async with logged_in(server, db, "organiser") as organiser:
        asked = await post_form(organiser, page, f"{page}/envoyer", {})
        assert asked.status_code == 200
        assert "Confirmer l’envoi à 7 signataires" in asked.text
        assert "Rien n’est encore envoyé." in asked.text
        sample = re.findall(
            r"<tr><td>(Élue\d) Martin</td><td>([^<]+)</td><td>([^<]+)</td>", asked.text
        )
        assert len(sample) == 5
        assert all(territory == "Lyon (69)" for _, territory, _ in sample)
        assert all(re.fullmatch(r"el•••@mairie\.fr", address) for _, _, address in sample)
        assert f"elue0.{ref}@" not in asked.text  # the addresses are masked
        assert await db.fetchval("SELECT status FROM mailings WHERE id = $1", mailing_id) == "draft"
        assert not await db.fetchval(
            "SELECT count(*) FROM outbox WHERE mailing_id = $1", mailing_id
        )
        sent = await organiser.post(
            f"{page}/envoyer",
            data={"_csrf_token": csrf_of(asked.text), "confirme": "oui"},
        )
        assert sent.status_code == 303
        assert await db.fetchval("SELECT status FROM mailings WHERE id = $1", mailing_id) in (
            "sending",
            "done",
        )


async def test_the_composer_keeps_line_breaks_and_explains_markdown(
    server: str, db: asyncpg.Connection
) -> None:
    async with logged_in(server, db, "organiser") as organiser:
        composer = await organiser.get("/admin/envois/nouveau")
        assert "**gras**" in composer.text and "une ligne" in composer.text
        preview = await post_form(
            organiser,
            "/admin/envois/nouveau",
            "/admin/envois/nouveau",
            {
                "subject": "Lignes",
                "body": "Première ligne\nDeuxième ligne",
                "rate": "5",
                "action": "apercu",
            },
        )
        assert preview.status_code == 200
        assert "Première ligne<br />\nDeuxième ligne" in preview.text


async def test_a_finished_mailing_offers_no_pause_nor_cancel(
    server: str, db: asyncpg.Connection
) -> None:
    mailing_id = await _draft(db, "Bonjour.\n", f"fin-{uuid.uuid4().hex[:6]}")
    async with logged_in(server, db, "organiser") as organiser:
        draft = (await organiser.get(f"/admin/envois/{mailing_id}")).text
        assert 'id="form-cancel"' in draft  # a draft can still be cancelled
        figures = (await organiser.get(f"/admin/envois/{mailing_id}/progression")).json()
        assert figures["remaining_text"] == ""  # nothing is being sent
        await db.execute("UPDATE mailings SET status = 'done' WHERE id = $1", mailing_id)
        done = (await organiser.get(f"/admin/envois/{mailing_id}")).text
        assert 'id="form-pause"' not in done and 'id="form-cancel"' not in done
        assert "restante" not in done
