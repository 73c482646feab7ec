"""Mandates an elected official may sign with, and the level of territory each one names."""

from __future__ import annotations

from typing import Final, Literal, get_args

import msgspec

Level = Literal["region", "departement", "commune"]
Mandate = Literal[
    "maire",
    "adjoint",
    "conseiller_municipal",
    "president_intercommunalite",
    "conseiller_departemental",
    "president_departement",
    "conseiller_regional",
    "president_region",
    "depute",
    "senateur",
]

# (code, French label, level of the territory the mandate is held in)
_MANDATES: Final[tuple[tuple[str, str, Level], ...]] = (
    ("maire", "Maire", "commune"),
    ("adjoint", "Adjoint·e au maire", "commune"),
    ("conseiller_municipal", "Conseiller·ère municipal·e", "commune"),
    ("president_intercommunalite", "Président·e d’intercommunalité", "commune"),
    ("conseiller_departemental", "Conseiller·ère départemental·e", "departement"),
    ("president_departement", "Président·e de conseil départemental", "departement"),
    ("conseiller_regional", "Conseiller·ère régional·e", "region"),
    ("president_region", "Président·e de conseil régional", "region"),
    ("depute", "Député·e", "departement"),
    ("senateur", "Sénateur·rice", "departement"),
)

MANDATES: Final[tuple[str, ...]] = tuple(code for code, _, _ in _MANDATES)
assert get_args(Mandate) == MANDATES
LABELS: Final[dict[str, str]] = {code: label for code, label, _ in _MANDATES}
LEVELS: Final[dict[str, Level]] = {code: level for code, _, level in _MANDATES}

LEVEL_LABELS: Final[dict[str, str]] = {
    "commune": "commune",
    "departement": "département",
    "region": "région",
}

# "une commune", "un département": French needs the article with the gender.
LEVEL_WITH_ARTICLE: Final[dict[str, str]] = {
    "commune": "une commune",
    "departement": "un département",
    "region": "une région",
}
LEVEL_NONE: Final[dict[str, str]] = {
    "commune": "Aucune commune",
    "departement": "Aucun département",
    "region": "Aucune région",
}


def level_for(mandate: str) -> Level:
    return LEVELS[mandate]


class MandateHolder(msgspec.Struct, frozen=True, kw_only=True):
    """Someone by their mandate: names, mandate, and the territory it is held in."""

    given_name: str
    family_name: str
    mandate: str
    territory_level: str
    territory_code: str
