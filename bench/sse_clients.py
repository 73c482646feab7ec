"""Many SSE subscribers in one process, on raw asyncio protocols (spawned by bench_sse.py).

    sse_clients.py HOST PORT PATH COUNT OUT_FILE

Opens COUNT connections to GET PATH, prints `READY <n>` once each has its first event (the
snapshot), records the receipt time (time.monotonic, system-wide on Linux) and the `total` of every
event, and when its stdin closes writes what it saw to OUT_FILE (JSON) and exits.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import time
from pathlib import Path

import uvloop

TOTAL = re.compile(rb'"total":(\d+),')


class Subscriber(asyncio.Protocol):
    def __init__(self, request: bytes, first: asyncio.Future[None]) -> None:
        self.request = request
        self.first = first
        self.buf = b""
        self.status: bytes | None = None
        self.events: list[tuple[float, int]] = []
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.status is None:
            self.status = data[9:12]
        buf = self.buf + data
        end = 0
        for match in TOTAL.finditer(buf):
            self.events.append((now, int(match.group(1))))
            end = match.end()
        self.buf = buf[end:][-64:]  # a match may straddle two reads
        if self.events and not self.first.done():
            self.first.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.first.done():
            self.first.set_exception(ConnectionError("lost before the first event"))


async def main() -> None:
    host, port, path, count, out = (
        sys.argv[1],
        int(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
        sys.argv[5],
    )
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    subscribers: list[Subscriber] = []
    connect_errors = 0

    async def one() -> None:
        nonlocal connect_errors
        first: asyncio.Future[None] = loop.create_future()
        sub = Subscriber(request, first)
        try:
            await loop.create_connection(lambda: sub, host, port)
            await asyncio.wait_for(first, 60)
            subscribers.append(sub)
        except (OSError, TimeoutError, ConnectionError):
            connect_errors += 1

    start = time.monotonic()
    batch = 200  # below the listen backlog
    for i in range(0, count, batch):
        await asyncio.gather(*(one() for _ in range(min(batch, count - i))))
    print(f"READY {len(subscribers)} {connect_errors} {time.monotonic() - start:.1f}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the driver closes our stdin
    report = {
        "connected": len(subscribers),
        "connect_errors": connect_errors,
        "lost": sum(s.lost for s in subscribers),
        "bad_status": sum(s.status != b"200" for s in subscribers),
        "events": [s.events for s in subscribers],
    }
    Path(out).write_text(json.dumps(report))  # noqa: ASYNC240 (the run is over)


if __name__ == "__main__":
    uvloop.run(main())
