"""Reading a CSV file of invitees: every bad line is reported with its number and a French
reason, and the good lines are kept.

Columns, by their header (case, accents and spaces ignored; any order; others ignored):
`prénom`, `nom`, `email` (or `courriel`, `adresse électronique`), `mandat`, `territoire` (or
`commune`, `code insee`). Separators `;`, `,` or tab; UTF-8 (with or without BOM) or
Windows-1252. The mandate is a code (`maire`) or its label (« Maire », « Adjoint·e au maire »…);
the territory a code INSEE or a name the service resolves to exactly one territory.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import Final

import msgspec

from campaign.core import tables
from campaign.signing.validation import _EMAIL as EMAIL_PATTERN
from campaign.signing.validation import EMAIL_MAX, NAME_MAX
from campaign.territories.index import TerritoryIndex
from campaign.territories.mandates import LABELS, MANDATES, level_for

MAX_LINES: Final = 50_000

_HEADERS: Final = {
    "given_name": ("prenom", "given_name", "prenoms", "firstname", "first_name"),
    "family_name": ("nom", "family_name", "nom_de_famille", "lastname", "last_name"),
    "email": ("email", "e_mail", "courriel", "adresse_electronique", "mail", "adresse_mail"),
    "mandate": ("mandat", "mandate", "fonction"),
    "territory": ("territoire", "territory", "territory_code", "commune", "code_insee", "code"),
}
REQUIRED: Final = ("email", "mandate", "territory")
_FIELD_NAMES: Final = {
    "email": "adresse électronique",
    "mandate": "mandat",
    "territory": "territoire",
}


class Invitee(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str


class LineError(msgspec.Struct, frozen=True):
    line: int
    message: str

    def __str__(self) -> str:
        return f"Ligne {self.line} : {self.message}"


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")


_MANDATE_KEYS: Final = {
    **{_key(code): code for code in MANDATES},
    **{_key(label): code for code, label in LABELS.items()},
    # Labels without the inclusive dots, as spreadsheets often spell them.
    "adjoint_au_maire": "adjoint",
    "adjointe_au_maire": "adjoint",
    "adjointe": "adjoint",
    "conseiller_municipal": "conseiller_municipal",
    "conseillere_municipale": "conseiller_municipal",
    "conseiller_departemental": "conseiller_departemental",
    "conseillere_departementale": "conseiller_departemental",
    "conseiller_regional": "conseiller_regional",
    "conseillere_regionale": "conseiller_regional",
    "deputee": "depute",
    "senatrice": "senateur",
}


def parse(data: bytes | str, index: TerritoryIndex) -> tuple[list[Invitee], list[LineError]]:
    """The invitees of the good lines, and one error per bad line (the header is line 1)."""
    text = tables.decode(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        return [], [LineError(1, "le fichier est vide (une ligne d’en-têtes est attendue).")]
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=";,\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ";"
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    columns = tables.find_columns([_key(h) for h in next(reader)], _HEADERS)
    missing = [_FIELD_NAMES[f] for f in REQUIRED if f not in columns]
    if missing:
        return [], [
            LineError(
                1,
                "colonne(s) manquante(s) : "
                + ", ".join(missing)
                + " (en-têtes attendus : prénom ; nom ; email ; mandat ; territoire).",
            )
        ]
    invitees: list[Invitee] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        if number > MAX_LINES + 1:
            errors.append(LineError(number, f"au-delà de {MAX_LINES} lignes : non lu."))
            break
        if not any(cell.strip() for cell in row):
            continue
        if any("\x00" in cell for cell in row):  # PostgreSQL refuses it in text
            errors.append(LineError(number, "caractère nul interdit."))
            continue
        invitee, problem = _line(row, columns, index)
        if invitee is not None and invitee.email in seen:
            problem = f"adresse déjà présente ligne {seen[invitee.email]}."
            invitee = None
        if invitee is None:
            errors.append(LineError(number, problem or "ligne illisible."))
            continue
        seen[invitee.email] = number
        invitees.append(invitee)
    return invitees, errors


def _cell(row: list[str], columns: dict[str, int], field: str) -> str:
    position = columns.get(field)
    if position is None or position >= len(row):
        return ""
    return " ".join(row[position].split())


def _line(
    row: list[str], columns: dict[str, int], index: TerritoryIndex
) -> tuple[Invitee | None, str | None]:
    problems: list[str] = []
    email = _cell(row, columns, "email")
    given = _cell(row, columns, "given_name")
    family = _cell(row, columns, "family_name")
    if not email:
        problems.append("adresse électronique manquante")
    elif len(email) > EMAIL_MAX or not EMAIL_PATTERN.fullmatch(email):
        problems.append(f"adresse électronique invalide (« {email[:60]} »)")
    if len(given) > NAME_MAX or len(family) > NAME_MAX:
        problems.append(f"nom ou prénom de plus de {NAME_MAX} caractères")
    raw_mandate = _cell(row, columns, "mandate")
    mandate = _MANDATE_KEYS.get(_key(raw_mandate))
    if not raw_mandate:
        problems.append("mandat manquant")
    elif mandate is None:
        problems.append(f"mandat inconnu (« {raw_mandate[:40]} »)")
    raw_territory = _cell(row, columns, "territory")
    territory = None
    if not raw_territory:
        problems.append("territoire manquant")
    elif mandate is not None:
        level = level_for(mandate)
        found = index.get(level, raw_territory.upper()) or (
            index.part_parent(raw_territory.upper()) if level == "commune" else None
        )
        if found is None:
            resolution = index.resolve(level, raw_territory)
            found = resolution.territory
            if found is None and resolution.candidates:
                problems.append(
                    f"territoire ambigu (« {raw_territory[:60]} ») : donnez le code INSEE"
                )
            elif found is None:
                problems.append(f"territoire inconnu pour ce mandat (« {raw_territory[:60]} »)")
        territory = found
    if problems or mandate is None or territory is None:
        return None, "; ".join(problems) + "."
    return Invitee(
        email=email.lower(),
        given_name=given,
        family_name=family,
        mandate=mandate,
        territory_level=territory.level,
        territory_code=territory.code,
    ), None
