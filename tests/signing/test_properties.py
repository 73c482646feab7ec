"""Hypothesis properties of the normalisers, the territory search and the exports' escaping:
normalising twice changes nothing, a search never fails and finds what it was given, and no
cell of an export can start a formula, whatever the text.

Reproducible: `derandomize=True`, a few hundred examples each (a couple of seconds in all)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.moderation.exports import _FORMULA_START, csv_text, export_row, neutralise
from campaign.moderation.xlsx import write_all
from campaign.organisers.accounts import normalise_email as normalise_organiser_email
from campaign.register.names import family_key, given_key, given_names_match
from campaign.signing.validation import normalise_email
from campaign.territories.index import LEVELS, TerritoryIndex, normalize, read_parts, read_vendored

PROPERTY = settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text as people and robots type it: every Unicode category, with the characters that matter
# here (accents, ligatures, apostrophes, hyphens, blanks, formula starts) made frequent.
SPECIAL = "éÉèàçœŒæßİıǅ’'`-‐–— \u00a0\t\r\n\x00=+-@＝＋－＠'\"; ,."
text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL)), max_size=60
)


@cache
def index() -> TerritoryIndex:
    return TerritoryIndex(read_vendored(), read_parts())


# -- normalisers ----------------------------------------------------------------------------


@PROPERTY
@given(text)
def test_normalising_an_email_twice_changes_nothing(raw: str) -> None:
    once = normalise_email(raw)
    assert normalise_email(once) == once
    assert normalise_organiser_email(normalise_organiser_email(raw)) == normalise_organiser_email(
        raw
    )


@PROPERTY
@given(
    st.from_regex(r"[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,20}\.[A-Za-z]{2,6}", fullmatch=True),
    st.sampled_from(["", " ", "  ", "\t"]),
)
def test_an_address_is_one_address_whatever_its_case_and_blanks(address: str, pad: str) -> None:
    expected = normalise_email(address)
    assert normalise_email(pad + address.upper() + pad) == expected
    assert normalise_email(address.swapcase()) == expected
    assert expected == expected.strip().lower()


@PROPERTY
@given(text)
def test_normalising_a_name_twice_changes_nothing(name: str) -> None:
    assert given_key(given_key(name)) == given_key(name)
    assert family_key(family_key(name)) == family_key(name)
    key = given_key(name)
    assert key == key.strip() and "  " not in key
    if key:
        assert given_names_match(key, key)


@PROPERTY
@given(st.sampled_from(["Jean-Pierre", "Marie Thérèse", "Éloïse", "Anne-Cécile", "Gaël"]))
def test_a_name_typed_any_way_gets_the_same_key(name: str) -> None:
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )
    for variant in (name.upper(), name.lower(), stripped, name.replace("-", " "), f"  {name} "):
        assert given_key(variant).replace("-", " ") == given_key(name).replace("-", " ")


@PROPERTY
@given(text)
def test_normalising_a_territory_name_twice_changes_nothing(name: str) -> None:
    once = normalize(name)
    assert normalize(once) == once
    assert once == once.strip() and "  " not in once


# -- territory search -------------------------------------------------------------------------


@PROPERTY
@given(text, st.sampled_from([None, *LEVELS, "planete"]), st.integers(min_value=-2, max_value=60))
def test_a_territory_search_never_fails_and_keeps_its_bounds(
    q: str, level: str | None, limit: int
) -> None:
    found = index().search(q, level, limit)
    assert len(found) <= max(limit, 0)
    if level is not None:
        assert all(t.level == level for t in found)
    assert len({(t.level, t.code) for t in found}) == len(found)  # no duplicate


@PROPERTY
@given(st.data())
def test_a_territory_is_found_by_its_name_typed_any_way(data: st.DataObject) -> None:
    level = data.draw(st.sampled_from(LEVELS))
    territory = data.draw(st.sampled_from(index().all(level)))
    name = territory.name
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )
    typed = data.draw(
        st.sampled_from(
            [name, name.upper(), name.lower(), stripped, name.replace("-", " "), f" {name} "]
        )
    )
    found = index().search(typed, level, 50)
    # The exact name comes first (homonyms side by side), and its label finds it first.
    assert found and normalize(found[0].name) == normalize(name)
    if level == "commune":
        assert index().search(f"{name} ({territory.departement})", level, 5)[0] == territory
    else:
        assert territory in found


# -- exports: no formula ever leaves them -------------------------------------------------------

FORMULA = tuple(_FORMULA_START)
hostile = st.one_of(
    text,
    st.builds(
        lambda blanks, start, rest: blanks + start + rest,
        st.text(alphabet=" \u00a0", max_size=3),
        st.sampled_from(FORMULA),
        text,
    ),
)


def _starts_a_formula(cell: str) -> bool:
    return cell.startswith(FORMULA) or cell.lstrip(" \u00a0").startswith(FORMULA)


@PROPERTY
@given(hostile)
def test_a_neutralised_cell_never_starts_a_formula(value: str) -> None:
    safe = neutralise(value)
    assert safe == value or safe == "'" + value
    assert not _starts_a_formula(safe) or safe.startswith("'")
    assert neutralise(safe) == safe  # and it is stable


def _row(given_name: str, family_name: str, comment: str, ref: str, email: str) -> dict[str, Any]:
    """A row as the export query gives it (a column added later reads as NULL)."""
    now = datetime(2027, 3, 1, tzinfo=UTC)
    return defaultdict(
        lambda: None,
        {
            "id": 1,
            "given_name": given_name,
            "family_name": family_name,
            "email": email,
            "mandate": "maire",
            "territory_level": "commune",
            "territory_code": "69123",
            "territory_name": "Lyon",
            "departement": "69",
            "region": "84",
            "public": True,
            "status": "confirmed",
            "featured": False,
            "verified": True,
            "ref": ref,
            "comment": comment,
            "letter_version": 1,
            "created_at": now,
            "confirmed_at": now,
            "suspect": False,
        },
    )


@PROPERTY
@given(hostile, hostile, hostile, hostile, hostile)
def test_no_formula_ever_leaves_a_csv_export(
    given_name: str, family_name: str, comment: str, ref: str, email: str
) -> None:
    row = export_row(_row(given_name, family_name, comment, ref, email))
    exported = csv_text([row])
    parsed = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"), newline=""), delimiter=";"))
    assert len(parsed) == 2  # the header and the row: nothing broke out of its quotes
    for cell in parsed[1]:
        assert not _starts_a_formula(cell) or cell.startswith("'"), repr(cell)


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


@PROPERTY
@given(hostile, hostile, hostile)
def test_no_formula_ever_leaves_an_xlsx_export(
    given_name: str, family_name: str, comment: str
) -> None:
    row = export_row(_row(given_name, family_name, comment, "", "a@b.fr"))
    workbook = b"".join(write_all("Signataires", [row]))
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert not _FORMULA_TAG.search(sheet)  # no formula element, whatever the text
    assert b't="inlineStr"' in sheet
