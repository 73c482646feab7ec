"""Organiser roles, from least to most trusted: each role may do what the ones below it do."""

from __future__ import annotations

from typing import Final, Literal

Role = Literal["viewer", "organiser", "admin"]
ROLES: Final[tuple[Role, ...]] = ("viewer", "organiser", "admin")
RANK: Final[dict[str, int]] = {role: rank for rank, role in enumerate(ROLES)}
LABELS: Final[dict[str, str]] = {
    "viewer": "Lecture seule",
    "organiser": "Organisateur·rice",
    "admin": "Administrateur·rice",
}


def allows(role: str, required: str) -> bool:
    """Whether an account of `role` may use a route that requires `required`."""
    return role in RANK and RANK[role] >= RANK[required]
