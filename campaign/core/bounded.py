"""Small in-memory bounds of one process: a per-key rate (fixed one-minute windows) and a cache
whose entries live a few seconds. Both hold a bounded number of keys, so a flood of distinct keys
costs a bounded amount of memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class RatePerMinute:
    """At most `limit` events per key in each minute (0: no limit); `retry_after` says how long
    to wait (0: go ahead, and the event is counted)."""

    def __init__(
        self, limit: int, *, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self.clock = clock
        self._windows: dict[Hashable, tuple[float, int]] = {}

    def retry_after(self, key: Hashable) -> int:
        if not self.limit:
            return 0
        now = self.clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= 60:
            start, count = now, 0
        if count >= self.limit:
            return max(1, int(start + 60 - now + 0.999))
        if key not in self._windows and len(self._windows) >= self.max_keys:
            self._forget(now)
        self._windows[key] = (start, count + 1)
        return 0

    def _forget(self, now: float) -> None:
        self._windows = {k: w for k, w in self._windows.items() if now - w[0] < 60}
        if len(self._windows) >= self.max_keys:  # a flood of live keys: start afresh
            self._windows.clear()

    def keys(self) -> int:
        return len(self._windows)


class TTLCache(Generic[V]):
    """The last `size` values, each for `ttl` seconds."""

    def __init__(
        self, size: int, ttl: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if self.clock() - item[0] >= self.ttl:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = (self.clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
