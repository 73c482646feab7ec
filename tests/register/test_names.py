"""Names as matching keys (campaign/names.py): case, accents, hyphens, particles, forenames."""

from __future__ import annotations

import pytest

from campaign.register.names import family_key, given_key, given_names_match


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("Lefèvre", "LEFEVRE"),
        ("de Villepin", "DE VILLEPIN"),
        ("Villepin", "de Villepin"),
        ("de la Fontaine", "DE LA FONTAINE"),
        ("d’Estaing", "D'ESTAING"),
        ("Estaing", "d'Estaing"),
        ("Martin-Dupont", "MARTIN DUPONT"),
        ("Martin – Dupont", "martin-dupont"),
        ("Le Gall", "LE GALL"),
        ("Cœur", "COEUR"),
        ("  Du   Pont ", "Pont"),
    ],
)
def test_family_names_that_match(typed: str, registered: str) -> None:
    assert family_key(typed) == family_key(registered)


@pytest.mark.parametrize(
    ("typed", "registered"),
    [("Le Gall", "Gall"), ("Martin", "Martine"), ("Dupont", "Dupond")],
)
def test_family_names_that_differ(typed: str, registered: str) -> None:
    assert family_key(typed) != family_key(registered)


def test_a_name_of_particles_only_is_kept() -> None:
    assert family_key("Du") == "du"


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("Jean-Pierre", "Jean-Pierre"),
        ("Jean-Pierre", "JEAN PIERRE"),
        ("jean pierre", "Jean-Pierre"),
        ("Jean-Pierre", "Jean—Pierre"),
        ("Hélène", "HELENE"),
        ("Betty", "Betty Véronique"),  # the first of several forenames
        ("Betty Véronique", "Betty"),
        ("Marie-Do", "Marie-Do Anne"),
    ],
)
def test_given_names_that_match(typed: str, registered: str) -> None:
    assert given_names_match(given_key(typed), given_key(registered))


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("Jean", "Jean-Pierre"),  # a compound name is one name
        ("Jean-Pierre", "Jean"),
        ("Véronique", "Betty Véronique"),  # not the first forename
        ("Jeanne", "Jean"),
        ("", "Jean"),
    ],
)
def test_given_names_that_differ(typed: str, registered: str) -> None:
    assert not given_names_match(given_key(typed), given_key(registered))
