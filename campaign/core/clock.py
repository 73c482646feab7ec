"""The service's idea of "now", one per process (on the runtime).

Everything public that depends on the time of day — the embargo on names, which opens by itself at
the launch instant, the countdown, the hour of the counts' history — asks `runtime.clock.now()`
on each request, never a value computed at start. In production the clock is the system's. Tests
move it: `clock.offset = timedelta(hours=2)` (or `clock.move_to(moment)`) on the runtime of an app
they started, which crosses a launch instant without waiting and without a restart. There is no
environment variable and no HTTP route to move it: only code in the same process can.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


def loop_time() -> float:
    """The running event loop's monotonic clock, in seconds (for in-memory caches' ages)."""
    return asyncio.get_running_loop().time()


class Clock:
    def __init__(self, offset: timedelta | None = None) -> None:
        self.offset = offset or timedelta(0)

    def now(self) -> datetime:
        """The current instant (aware, UTC), shifted by `offset`."""
        return datetime.now(UTC) + self.offset

    def move_to(self, moment: datetime) -> None:
        """From now on, `now()` reads `moment` and runs on from there."""
        self.offset = moment - datetime.now(UTC)

    def reset(self) -> None:
        self.offset = timedelta(0)
