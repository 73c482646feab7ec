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


@pytest.mark.parametrize(
    ("postal", "commune"),
    [
        ("13001", "13055"),
        ("13016", "13055"),
        ("69001", "69123"),
        ("69003", "69123"),
        ("75116", "75056"),
        ("75001", "75056"),
        ("75020", "75056"),
    ],
)
def test_the_postal_code_of_an_arrondissement(
    index: TerritoryIndex, postal: str, commune: str
) -> None:
    # 13001 is Marseille 1er's postal code and Aix-en-Provence's INSEE code, 69001 Lyon 1er's and
    # Affoux's: a person who types it in the form means the postal code.
    assert index.search(postal, "commune", 3)[0].code == commune
    found = index.resolve("commune", postal)
    assert found.territory is not None and found.territory.code == commune
    assert index.get("commune", postal) != found.territory  # the INSEE reading is another one


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
    assert req is None and errors["territory_code"] == (
        "Plusieurs communes correspondent à « Saint-Martin » : choisissez la vôtre ci-dessous."
    )
    choices = territory_choices(index, "maire", "Saint-Martin")
    assert "Saint-Martin (65)" in [t.label for t in choices]
    assert territory_choices(index, "maire", "Lyon") == []  # not ambiguous
    assert territory_choices(index, "inconnu", "Saint-Martin") == []
    # The level follows the mandate: "Loire" is one département.
    assert territory_choices(index, "depute", "Loire") == []


@pytest.mark.parametrize("typed", ["saint-eti", "Saint Eti", "st-éti", "ST ETI"])
def test_the_start_of_a_name_offers_what_the_autocomplete_shows(
    index: TerritoryIndex, typed: str
) -> None:
    req, errors = check_signing(
        body(territory_code=typed), index, strict_bool=False, resolve_names=True
    )
    assert req is None and list(errors) == ["territory_code"]
    assert errors["territory_code"] == (
        f"Aucune commune ne s’appelle exactement « {typed} » : choisissez la vôtre parmi les "
        "suggestions ci-dessous, ou complétez le nom."
    )
    choices = territory_choices(index, "maire", typed)
    assert choices == index.search(typed, "commune", 8) and len(choices) == 8
    assert choices[0].label == "Saint-Étienne (42)"
    assert all(t.name.startswith("Saint-Étienne") for t in choices)
    # A département's name, started.
    assert [t.label for t in territory_choices(index, "depute", "rhô")][:1] == ["Rhône (69)"]


@pytest.mark.parametrize("typed", ["saint-eti", "Saint-Étienne (42)", "42000", "Rhône"])
def test_a_missing_mandate_is_the_error_and_the_territory_waits(
    index: TerritoryIndex, typed: str
) -> None:
    fields = {k: v for k, v in body(territory_code=typed).items() if k != "mandate"}
    req, errors = check_signing(fields, index, strict_bool=False, resolve_names=True)
    assert req is None and errors == {"mandate": "Choisissez votre mandat."}
    # Once the mandate is known, the same text resolves (or offers its choices).
    req, errors = check_signing(
        {**fields, "mandate": "maire"}, index, strict_bool=False, resolve_names=True
    )
    assert (req is not None) == (typed in ("Saint-Étienne (42)", "42000")), errors
    # A text that names nothing at any level is wrong whatever the mandate.
    _, errors = check_signing(
        {**fields, "territory_code": "xqzwv"}, index, strict_bool=False, resolve_names=True
    )
    assert set(errors) == {"mandate", "territory_code"}


@pytest.mark.parametrize(("postal", "code"), [("13001", "13055"), ("69001", "69123")])
def test_the_form_takes_an_arrondissement_postal_code(
    index: TerritoryIndex, postal: str, code: str
) -> None:
    req, errors = check_signing(
        body(territory_code=postal), index, strict_bool=False, resolve_names=True
    )
    assert not errors and req is not None and req.territory.code == code
    # The API takes INSEE codes: 13001 is Aix-en-Provence there.
    req, errors = check_signing(body(territory_code=postal), index)
    assert req is not None and req.territory.code == postal


def test_a_shared_postal_code_is_a_choice_not_a_guess(index: TerritoryIndex) -> None:
    # 42100: Saint-Étienne's postal code, and La Gimond's INSEE code.
    for typed in ("42100", "01400"):
        req, errors = check_signing(
            body(territory_code=typed), index, strict_bool=False, resolve_names=True
        )
        assert req is None
        assert errors["territory_code"].startswith(
            f"Plusieurs communes correspondent à « {typed} »"
        )
        assert len(territory_choices(index, "maire", typed)) > 1
    assert {t.code for t in territory_choices(index, "maire", "42100")} == {"42218", "42100"}
