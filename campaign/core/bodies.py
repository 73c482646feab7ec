"""Bodies prepared once for many readers: a validator that follows the content, a gzip that
gives the same bytes for the same body, the last body built, the public pages kept per process."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, NamedTuple, TypeVar

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


class PageBody(NamedTuple):
    """A page as every visitor gets it: its HTML, the HTML's ETag and its gzip."""

    body: bytes
    etag: str
    compressed: bytes

    @classmethod
    def of(cls, html: str) -> PageBody:
        body = html.encode()
        return cls(body, etag_of(body), gzipped(body))


PageState = tuple[Hashable, Hashable]
"""What a page shows depends on: (what must show at once, what may lag `min_interval`)."""


class _Page:
    __slots__ = ("building", "built_at", "page", "state", "state_of")

    def __init__(self, state_of: Callable[[], PageState]) -> None:
        self.state_of = state_of
        self.state: PageState = (_UNSETTLED, _UNSETTLED)
        self.page: PageBody | None = None
        self.built_at = 0.0
        self.building: asyncio.Future[PageBody] | None = None


_UNSETTLED = object()
"""The state of a page built from lists older than the counts: built again at the next chance."""


class Pages:
    """The public pages, rendered once per change of what they show and kept per process (on the
    runtime): per slot (a path), the last body built, the state it was built for, and how to read
    the current state, in two parts. The first (the campaign, what its dates open or close) is
    followed at once; the second (the counts, moving with each signature in a rush) at most once
    every `min_interval` seconds. While one request builds the new body, the others get the last
    one."""

    def __init__(self, min_interval: float = 1.0, monotonic: Callable[[], float] = time.monotonic):
        self.min_interval = min_interval
        self.monotonic = monotonic
        self._slots: dict[str, _Page] = {}
        self.builds = 0
        """Bodies built so far (to watch the cache work)."""

    def _due(self, slot: _Page) -> bool:
        """A new body is to be built (by the caller) for this slot."""
        if slot.page is None:
            return True
        if slot.building is not None:
            return False
        urgent, lagging = slot.state_of()
        if urgent != slot.state[0]:
            return True
        if self.monotonic() - slot.built_at < self.min_interval:
            return False
        return bool(lagging != slot.state[1])

    def kept(self, key: str) -> bool:
        """A body is kept for this slot (a page served from here)."""
        return key in self._slots

    def current(self, key: str) -> str | None:
        """The ETag of the body `get` would answer now, or None when it would build one."""
        slot = self._slots.get(key)
        if slot is None or slot.page is None or self._due(slot):
            return None
        return slot.page.etag

    async def get(
        self,
        key: str,
        state_of: Callable[[], PageState],
        build: Callable[[], Awaitable[tuple[PageBody, bool]]],
    ) -> PageBody:
        """The slot's body; `build` returns a new one and whether it is settled (its lists as
        new as its state: otherwise it is built again at the next chance)."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Page(state_of)
        slot.state_of = state_of
        if slot.building is not None:
            if slot.page is not None:
                return slot.page
            return await asyncio.shield(slot.building)
        if not self._due(slot):
            assert slot.page is not None
            return slot.page
        state = state_of()
        slot.building = asyncio.get_running_loop().create_future()
        try:
            page, settled = await build()
        except BaseException as exc:
            slot.building.set_exception(exc)
            slot.building.exception()  # retrieved: waiting requests get it, no warning
            raise
        else:
            slot.building.set_result(page)
            self.builds += 1
            slot.page, slot.built_at = page, self.monotonic()
            slot.state = state if settled else (state[0], _UNSETTLED)
            return page
        finally:
            slot.building = None
