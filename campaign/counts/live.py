"""Live counts: one LISTEN connection per process feeds the in-memory counts and the SSE clients.

PostgreSQL NOTIFYs every change of a counter (channel `territory_counts`, new absolute value) and of
the campaigns (channel `campaigns`). After the listening connection drops, this reconnects and
reloads everything, so no change is missed. Changes are coalesced: each client gets at most a few
events per second, through its own bounded queue, so a slow or vanished client harms nobody.
Each event is encoded once, as a whole SSE frame, and the same bytes go to every client; idle
streams get keep-alive comments from here too, so a client costs no timer of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from dataclasses import KW_ONLY, dataclass

import asyncpg
import msgspec

from campaign.core.db import DB_ERRORS
from campaign.counts.cache import CountsCache, Key, stored_of
from campaign.counts.streamgate import StreamGate
from campaign.letter.campaigns import CampaignRegistry

log = logging.getLogger(__name__)

COUNTS_CHANNEL = "territory_counts"
CAMPAIGNS_CHANNEL = "campaigns"
OFFICIALS_CHANNEL = "officials"  # the register was loaded again: coverage changes everywhere
LISTENER_NAME = "campaign-listener"


class ChangedTerritory(msgspec.Struct, frozen=True):
    level: str
    code: str
    name: str
    count: int
    verified: int = 0  # proven
    coverage: float | None = None  # share of the territory's maires who signed (proven)
    register_match: int = 0
    coverage_declared: float | None = None  # share of its maires who signed (declared)


class CountsEvent(msgspec.Struct, frozen=True):
    """The `data` of an SSE `counts` event."""

    total: int
    changed: list[ChangedTerritory]


_encoder = msgspec.json.Encoder()

KEEPALIVE_FRAME = b": keep-alive\r\n\r\n"


def counts_frame(data: bytes) -> bytes:
    """An SSE `counts` event around its JSON data (one line: msgspec writes no newline)."""
    return b"event: counts\r\ndata: " + data + b"\r\n\r\n"


@dataclass(eq=False)
class Broadcaster:
    dsn: str
    counts: CountsCache
    campaigns: CampaignRegistry
    _: KW_ONLY
    interval: float = 0.25
    queue_size: int = 64
    keepalive: float = 15.0
    max_per_network: int = 0
    max_streams: int = 0
    idle_close: float = 0.0
    """Seconds without a counts event after which a stream ends (0: never)."""

    def __post_init__(self) -> None:
        self.gate = StreamGate(self.max_per_network, self.max_streams)
        self.connected = asyncio.Event()
        self._pending: dict[int, set[Key]] = defaultdict(set)
        self._wake = asyncio.Event()
        # Queues of SSE frames; None ends a stream (the process stops).
        self._subscribers: dict[int, set[asyncio.Queue[bytes | None]]] = defaultdict(set)
        self._snapshots: dict[int, bytes] = {}  # SSE frames, dropped whenever counts change
        self._last_frame: dict[int, float] = {}  # when each campaign's streams last got a frame
        self._conn: asyncpg.Connection | None = None
        self._campaigns_dirty = False
        self._register_dirty = False

    # -- subscribers -------------------------------------------------------------------------
    def subscribe(self, campaign_id: int) -> asyncio.Queue[bytes | None]:
        """A queue of SSE frames for one client: read `snapshot_frame` first, then the queue."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.queue_size)
        subscribers = self._subscribers[campaign_id]
        if not subscribers:
            self._last_frame[campaign_id] = asyncio.get_running_loop().time()
        subscribers.add(queue)
        return queue

    def unsubscribe(self, campaign_id: int, queue: asyncio.Queue[bytes | None]) -> None:
        subscribers = self._subscribers.get(campaign_id)
        if subscribers is not None:
            subscribers.discard(queue)
            if not subscribers:  # nothing outlives the last client of a campaign
                del self._subscribers[campaign_id]
                self._last_frame.pop(campaign_id, None)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def snapshot(self, campaign_id: int) -> bytes:
        """Total and every non-zero région and département: the first event a client gets."""
        counts = self.counts.campaign(campaign_id)
        keys = [
            (level, code)
            for level in ("region", "departement")
            for code, n in counts.rolled[level].items()
            if n
        ]
        return self._event(campaign_id, keys)

    def snapshot_frame(self, campaign_id: int) -> bytes:
        """`snapshot` as an SSE frame, built once for all the clients that arrive meanwhile."""
        frame = self._snapshots.get(campaign_id)
        if frame is None:
            frame = self._snapshots[campaign_id] = counts_frame(self.snapshot(campaign_id))
        return frame

    def _event(self, campaign_id: int, keys: list[Key] | set[Key]) -> bytes:
        counts = self.counts.campaign(campaign_id)
        index = self.counts.index
        changed = []
        for level, code in sorted(keys):
            territory = index.get(level, code)
            changed.append(
                ChangedTerritory(
                    level=level,
                    code=code,
                    name=territory.name if territory else code,
                    count=counts.count(level, code),
                    verified=counts.metric("verified", level, code),
                    coverage=counts.coverage(self.counts.register, level, code),
                    register_match=counts.metric("register_match", level, code),
                    coverage_declared=counts.coverage(
                        self.counts.register, level, code, "maires_declared"
                    ),
                )
            )
        return _encoder.encode(CountsEvent(total=counts.total, changed=changed))

    def _publish(self, campaign_id: int, data: bytes) -> None:
        self._send(campaign_id, counts_frame(data))

    def _send(self, campaign_id: int, frame: bytes | None) -> None:
        """The same frame to every client of the campaign (None: the end of the streams)."""
        self._last_frame[campaign_id] = asyncio.get_running_loop().time()
        for queue in list(self._subscribers.get(campaign_id, ())):
            if queue.full():  # a client that does not read: it gets the latest state only
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(frame if frame is None else self.snapshot_frame(campaign_id))
            else:
                queue.put_nowait(frame)

    def _send_keepalives(self) -> None:
        now = asyncio.get_running_loop().time()
        for campaign_id, queues in self._subscribers.items():
            if queues and now - self._last_frame.get(campaign_id, now) >= self.keepalive:
                self._send(campaign_id, KEEPALIVE_FRAME)

    # -- notifications -----------------------------------------------------------------------
    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        if channel == CAMPAIGNS_CHANNEL:
            self._campaigns_dirty = True
            self._wake.set()
            return
        if channel == OFFICIALS_CHANNEL:
            self._register_dirty = True
            self._wake.set()
            return
        try:
            change = json.loads(payload)
            change["confirmed"] = int(change["confirmed"])  # required: KeyError otherwise
            changed = self.counts.apply_stored(
                int(change["campaign_id"]), (change["level"], change["code"]), stored_of(change)
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed %s notification", channel)
            return
        if changed:
            self._pending[int(change["campaign_id"])].update(changed)
            self._snapshots.pop(int(change["campaign_id"]), None)
            self._wake.set()

    async def _flush(self) -> None:
        if self._campaigns_dirty and self._conn is not None:
            self._campaigns_dirty = False
            await self.campaigns.reload(self._conn)
        if self._register_dirty and self._conn is not None:
            self._register_dirty = False
            await self.counts.reload_register(self._conn)
            self._snapshots.clear()
            for campaign_id in self.counts.all_campaigns():
                self._publish(campaign_id, self.snapshot(campaign_id))
        pending, self._pending = self._pending, defaultdict(set)
        for campaign_id, keys in pending.items():
            self._publish(campaign_id, self._event(campaign_id, keys))

    # -- the loop ----------------------------------------------------------------------------
    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": LISTENER_NAME})
        await conn.add_listener(COUNTS_CHANNEL, self._on_notify)
        await conn.add_listener(CAMPAIGNS_CHANNEL, self._on_notify)
        await conn.add_listener(OFFICIALS_CHANNEL, self._on_notify)
        # Listening first, then reading: a change made in between arrives as a notification too.
        for campaign_id, keys in (await self.counts.reload(conn)).items():
            self._pending[campaign_id].update(keys)
        self._snapshots.clear()
        await self.campaigns.reload(conn)
        return conn

    async def run(self, stop: asyncio.Event, *, health_every: float = 10.0) -> None:
        keepalives = asyncio.create_task(self._keepalives(stop))
        try:
            await self._listen(stop, health_every)
        finally:
            keepalives.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalives
            for campaign_id in list(self._subscribers):  # the streams end with the process
                self._send(campaign_id, None)

    async def _keepalives(self, stop: asyncio.Event) -> None:
        """Comments on idle streams (also while the listener reconnects)."""
        while not stop.is_set():
            await _sleep_or_stop(stop, min(1.0, self.keepalive / 4))
            self._send_keepalives()

    async def _listen(self, stop: asyncio.Event, health_every: float) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                self._conn = await self._connect()
            except DB_ERRORS as exc:
                log.warning("counts listener cannot connect (%s); retrying", type(exc).__name__)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self.connected.set()
            self._wake.set()
            try:
                await self._serve(stop, health_every)
            except DB_ERRORS as exc:
                log.warning("counts listener lost its connection (%s)", type(exc).__name__)
            finally:
                self.connected.clear()
                conn, self._conn = self._conn, None
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)

    async def _serve(self, stop: asyncio.Event, health_every: float) -> None:
        assert self._conn is not None
        loop = asyncio.get_running_loop()
        next_check = loop.time() + health_every
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            if self._wake.is_set():
                self._wake.clear()
                await self._flush()
                await asyncio.sleep(self.interval)  # coalesce what arrives meanwhile
            if self._conn.is_closed():
                raise OSError("listening connection closed")
            if loop.time() >= next_check:
                next_check = loop.time() + health_every
                await asyncio.wait_for(self._conn.fetchval("SELECT 1"), timeout=5)


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
