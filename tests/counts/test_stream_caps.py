"""Live streams are bounded: per client network, per process, and closed when idle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from campaign.counts.streamgate import StreamGate
from tests.support.app import app_server
from tests.support.mail import Mailbox

EVENTS = "/api/v1/campaigns/jouer-collectif/events"


@contextlib.asynccontextmanager
async def capped_server(dsn: str, mailbox: Mailbox, **env: str) -> AsyncIterator[str]:
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with app_server(
        DATABASE_URL=dsn, SMTP_URL=smtp_url, TRUSTED_PROXIES="127.0.0.1", **env
    ) as base:
        yield base


async def open_stream(
    stack: contextlib.AsyncExitStack, client: httpx.AsyncClient, address: str
) -> httpx.Response:
    response = await stack.enter_async_context(
        client.stream("GET", EVENTS, headers={"X-Forwarded-For": address})
    )
    return response  # headers came: the stream is admitted (or refused) and the body follows


async def test_streams_past_a_networks_cap_or_the_process_cap_get_503_and_retry_after(
    dsn: str, mailbox: Mailbox
) -> None:
    env = {"SSE_MAX_PER_NETWORK": "2", "SSE_MAX_STREAMS": "3"}
    async with (
        capped_server(dsn, mailbox, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        async with contextlib.AsyncExitStack() as stack:
            first = await open_stream(stack, client, "203.0.113.10")
            second = await open_stream(stack, client, "203.0.113.11")
            assert (first.status_code, second.status_code) == (200, 200)
            # A third address of the same /24: the network's cap.
            refused = await open_stream(stack, client, "203.0.113.12")
            assert refused.status_code == 503
            await refused.aread()
            assert int(refused.headers["retry-after"]) > 0
            assert "compteurs" in refused.json()["detail"]
            other = await open_stream(stack, client, "198.51.100.7")
            assert other.status_code == 200
            # Three held in all: the process's cap, whatever the network.
            full = await open_stream(stack, client, "192.0.2.1")
            assert full.status_code == 503 and "retry-after" in full.headers
            # The counts stay available to the refused client: what the page polls.
            assert (await client.get("/api/v1/campaigns/jouer-collectif/counts")).status_code == 200
        # Every stream gone: their places come back.
        for _ in range(100):
            async with client.stream(
                "GET", EVENTS, headers={"X-Forwarded-For": "203.0.113.12"}
            ) as response:
                status = response.status_code
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert status == 200


async def test_an_idle_stream_is_closed_after_the_idle_delay(dsn: str, mailbox: Mailbox) -> None:
    env = {"SSE_IDLE_SECONDS": "1", "SSE_KEEPALIVE_SECONDS": "0.25"}
    async with (
        capped_server(dsn, mailbox, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        lines = []

        async def read() -> None:
            async with client.stream("GET", EVENTS) as response:
                async for line in response.aiter_lines():
                    lines.append(line)

        await asyncio.wait_for(read(), 5)  # ends by itself: the server closed the stream
        assert any(line.startswith("data:") for line in lines)  # the snapshot came first
        assert any(line.startswith(":") for line in lines)  # then keep-alives only


def test_the_gate_forgets_a_network_with_its_last_stream_and_logs_refusals_once_a_burst(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    gate = StreamGate(per_network=1, total=0, clock=lambda: now[0])
    lease = gate.admit("a")
    assert lease is not None and gate.held() == 1
    with caplog.at_level(logging.WARNING, logger="campaign.counts.streamgate"):
        for _ in range(500):
            assert gate.admit("a") is None
        now[0] = 61.0
        assert gate.admit("a") is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # the first refusal, then one line for the next 500
    assert "refused 1 " in lines[0] and "refused 500 " in lines[1]
    lease.release()
    lease.release()  # idempotent
    assert gate.held() == 0 and gate.networks() == 0
    # A stream that never started: its lease is collected, and its place comes back.
    assert gate.admit("b") is not None
    gc.collect()
    assert gate.held() == 0 and gate.networks() == 0
