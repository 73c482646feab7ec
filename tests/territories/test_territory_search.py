"""Finding one's commune: by name or postal code whatever the accents, case and hyphens; homonyms
told apart by département; arrondissements and communes déléguées standing for their commune."""

from __future__ import annotations

import pytest

from campaign.signing.validation import check_signing, territory_choices
from campaign.territories.index import TerritoryIndex, read_parts, read_vendored


@pytest.fixture(scope="module")
def index() -> TerritoryIndex:
    return TerritoryIndex(read_vendored(), read_parts())


@pytest.mark.parametrize("typed", ["st etienne", "Saint-Étienne", "SAINT ETIENNE", "42000"])
def test_saint_etienne_however_it_is_typed(index: TerritoryIndex, typed: str) -> None:
    assert index.search(typed, "commune", 5)[0].label == "Saint-Étienne (42)"
    found = index.resolve("commune", typed)
    assert found.territory is not None and found.territory.code == "42218"


def test_homonyms_are_told_apart_by_departement(index: TerritoryIndex) -> None:
    found = index.resolve("commune", "Saint-Martin")
    assert found.ambiguous
    labels = [t.label for t in found.candidates]
    assert "Saint-Martin (65)" in labels and len(set(labels)) == len(labels)
    chosen = index.resolve("commune", "Saint-Martin (65)")
    assert chosen.territory is not None and chosen.territory.departement == "65"
    assert index.search("Saint-Martin (65)", "commune", 3)[0].label == "Saint-Martin (65)"


@pytest.mark.parametrize("typed", ["Lyon 3e Arrondissement", "lyon 3e arrondissement", "69383"])
def test_an_arrondissement_is_its_commune(index: TerritoryIndex, typed: str) -> None:
    found = index.resolve("commune", typed)
    assert found.territory is not None and found.territory.code == "69123"
    assert index.search(typed, "commune", 3)[0].code == "69123"


def test_the_postal_code_of_an_arrondissement(index: TerritoryIndex) -> None:
    # 69003 is Lyon 3e's postal code and the INSEE code of Albigny-sur-Saône: both are offered,
    # Lyon first, and the form asks which one.
    assert index.search("69003", "commune", 3)[0].code == "69123"
    found = index.resolve("commune", "69003")
    assert [t.code for t in found.candidates][:1] == ["69123"] and found.ambiguous
    # A postal code that is no INSEE code resolves at once.
    found = index.resolve("commune", "69008")
    assert found.territory is None or found.territory.code == "69123"
    assert "69123" in [t.code for t in found.candidates]


def test_paris_arrondissement_and_commune_deleguee(index: TerritoryIndex) -> None:
    assert index.part_parent("75112") == index.get("commune", "75056")
    assert index.part_parent("13201") == index.get("commune", "13055")
    # A commune déléguée: Arbignieu is part of Arboys en Bugey (01015).
    found = index.resolve("commune", "Arbignieu")
    assert found.territory is not None and found.territory.code == "01015"
    assert index.part_parent("69123") is None  # a commune is no part


def body(**fields: object) -> dict[str, object]:
    return {
        "given_name": "Anne",
        "family_name": "Martin",
        "email": "anne.martin@mairie-exemple.fr",
        "mandate": "maire",
        "public": True,
        **fields,
    }


def test_the_api_takes_an_arrondissement_code(index: TerritoryIndex) -> None:
    req, errors = check_signing(body(territory_code="69383"), index)
    assert not errors and req is not None and req.territory.code == "69123"


def test_an_ambiguous_form_entry_offers_its_candidates(index: TerritoryIndex) -> None:
    req, errors = check_signing(
        body(territory_code="Saint-Martin"), index, strict_bool=False, resolve_names=True
    )
    assert req is None and "Plusieurs territoires correspondent" in errors["territory_code"]
    choices = territory_choices(index, "maire", "Saint-Martin")
    assert "Saint-Martin (65)" in [t.label for t in choices]
    assert territory_choices(index, "maire", "Lyon") == []  # not ambiguous
    assert territory_choices(index, "inconnu", "Saint-Martin") == []
    # The level follows the mandate: "Loire" is one département.
    assert territory_choices(index, "depute", "Loire") == []
