"""Bodies prepared once for many readers: a validator that follows the content, a gzip that
gives the same bytes for the same body."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


def etag_of(body: bytes) -> str:
    """A strong validator that follows the content."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def gzipped(body: bytes) -> bytes:
    """Deterministic (no timestamp in the header), so the same body gives the same bytes."""
    return gzip.compress(body, compresslevel=6, mtime=0)


class LastBuilt(Generic[V]):
    """Per slot (a page and its variant), the last value built and the state it was built for:
    built again only when the state changed. One per process, on the runtime."""

    def __init__(self) -> None:
        self._slots: dict[Hashable, tuple[Any, V]] = {}

    def get(self, slot: Hashable, state: Any, build: Callable[[], V]) -> V:
        kept = self._slots.get(slot)
        if kept is not None and kept[0] == state:
            return kept[1]
        value = build()
        self._slots[slot] = (state, value)
        return value
