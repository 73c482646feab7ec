"""Account roles. The back office's roles form a ladder, from least to most trusted: each may do
what the ones below it do. `catalyst` stands outside the ladder: a territorial catalyst may use
the routes that ask for `catalyst` (its console, /console) and nothing else, and no back-office
role may use those (they are about the catalyst's own territory and relay)."""

from __future__ import annotations

from typing import Final, Literal

Role = Literal["viewer", "organiser", "admin"]
ROLES: Final[tuple[Role, ...]] = ("viewer", "organiser", "admin")
RANK: Final[dict[str, int]] = {role: rank for rank, role in enumerate(ROLES)}
CATALYST: Final = "catalyst"
ACCOUNT_ROLES: Final[tuple[str, ...]] = (*ROLES, CATALYST)
LABELS: Final[dict[str, str]] = {
    "viewer": "Lecture seule",
    "organiser": "Organisateur·rice",
    "admin": "Administrateur·rice",
    CATALYST: "Catalyseur·rice territorial·e",
}


def declared(required: object) -> bool:
    """Whether a route's declared role is one the guard knows."""
    return required in RANK or required == CATALYST


def allows(role: str, required: str) -> bool:
    """Whether an account of `role` may use a route that requires `required`."""
    if required == CATALYST or role == CATALYST:
        return role == required
    return role in RANK and required in RANK and RANK[role] >= RANK[required]
