"""A real HTTP server on 127.0.0.1 that receives webhooks: records every request and answers
the statuses it is told to (the first ones), then 200."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    fail_first: list[int] = field(default_factory=list)
    """The statuses of the first requests (then 200)."""
    received: list[Received] = field(default_factory=list)

    def ok(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status = self.fail_first.pop(0) if self.fail_first else 200
            self.received.append(Received(path, headers, body, status))
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode()
            )
            await writer.drain()
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiver(fail_first: list[int] | None = None) -> AsyncIterator[Receiver]:
    r = Receiver(fail_first=list(fail_first or []))
    server = await asyncio.start_server(r.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    r.url = f"http://127.0.0.1:{port}/hooks/campagne"
    try:
        yield r
    finally:
        server.close()
        await server.wait_closed()
