"""How many live streams a process holds: at most so many per client network and in all.

A refused client gets a 503 and falls back to polling the counts, which cost one cached body. The
count per network is a plain dict whose entries vanish with their last stream, so memory returns
when clients leave. Refusals are logged once per burst (at most one line a minute, with a count),
never once each: a flood of refusals must not become a flood of log lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LOG_EVERY = 60.0  # seconds between two lines about refused streams


class Lease:
    """One admitted stream; `release` (idempotent) gives its place back, and so does the
    garbage collector when the stream never started (a client gone before the first byte)."""

    __slots__ = ("_gate", "_key")

    def __init__(self, gate: StreamGate, key: Hashable) -> None:
        self._gate: StreamGate | None = gate
        self._key = key

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._release(self._key)

    def __del__(self) -> None:
        self.release()


@dataclass(eq=False)
class StreamGate:
    per_network: int
    """Streams one client network may hold (0: no limit)."""
    total: int
    """Streams the process holds at most (0: no limit)."""
    clock: Callable[[], float] = time.monotonic
    _held: dict[Hashable, int] = field(default_factory=dict)
    _count: int = 0
    _refused: int = 0  # since the last line about them
    _logged_at: float | None = None

    def admit(self, network: Hashable) -> Lease | None:
        """A lease for one more stream from `network`, or None (refused: answer 503)."""
        held = self._held.get(network, 0)
        if (self.total and self._count >= self.total) or (
            self.per_network and held >= self.per_network
        ):
            full = bool(self.total and self._count >= self.total)
            self._refuse("per process" if full else "per network")
            return None
        self._held[network] = held + 1
        self._count += 1
        return Lease(self, network)

    def _release(self, network: Hashable) -> None:
        held = self._held.get(network, 0)
        if held <= 1:
            self._held.pop(network, None)
        else:
            self._held[network] = held - 1
        self._count = max(0, self._count - 1)

    def _refuse(self, whose: str) -> None:
        self._refused += 1
        now = self.clock()
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY:
            log.warning(
                "refused %d live stream(s) since the last report (last limit reached: %s; "
                "%d streams held)",
                self._refused,
                whose,
                self._count,
            )
            self._refused = 0
            self._logged_at = now

    def held(self) -> int:
        return self._count

    def networks(self) -> int:
        """How many networks hold streams (memory: no entry outlives its last stream)."""
        return len(self._held)
