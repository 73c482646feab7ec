"""Lists read from the database and kept in memory until the counts move (the newest signatories,
the published list): how long such a copy stands."""

from __future__ import annotations

from dataclasses import dataclass

Version = tuple[int, int, int]
"""A campaign's confirmed, verified and register-matching totals in memory: when they move, its
lists may have changed."""

UNREAD: Version = (-1, -1, -1)
"""The version of a copy kept only because the database was away: read again at the next chance."""


@dataclass(frozen=True)
class Refresh:
    """A copy read at the counts' `version` stands `max_age` seconds while they stay there; once
    they move it is read again, at most once every `min_interval` seconds, or at once for a
    reader that must `wait` for a copy as new as the counts."""

    min_interval: float = 1.0
    max_age: float = 30.0

    def fresh(self, read: Version, age: float, version: Version, *, wait: bool = False) -> bool:
        if read == version:
            return age < self.max_age
        return not wait and age < self.min_interval
