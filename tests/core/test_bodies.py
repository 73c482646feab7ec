"""The pages kept per process (campaign/core/bodies.py, `Pages`): built once per change of their
state, the counts' part followed at most once per interval, one build at a time."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from campaign.core.bodies import PageBody, Pages


class World:
    def __init__(self) -> None:
        self.urgent = "campaign v1"
        self.counts = 0
        self.settled = True
        self.builds = 0
        self.time = 100.0

    def state(self) -> tuple[str, int]:
        return self.urgent, self.counts

    async def build(self) -> tuple[PageBody, bool]:
        self.builds += 1
        await asyncio.sleep(0.01)
        return PageBody.of(f"<p>{self.urgent} {self.counts} #{self.builds}</p>"), self.settled


async def test_a_page_is_built_once_per_change() -> None:
    world = World()
    pages = Pages(min_interval=1.0, monotonic=lambda: world.time)
    assert pages.current("/") is None and not pages.kept("/")
    # Many requests at once: one build, every one gets it.
    got = await asyncio.gather(*(pages.get("/", world.state, world.build) for _ in range(20)))
    assert world.builds == 1 and len({g.etag for g in got}) == 1
    page = got[0]
    assert gzip.decompress(page.compressed) == page.body
    assert pages.kept("/") and pages.current("/") == page.etag
    assert await pages.get("/", world.state, world.build) is page
    # The counts move: followed once the interval has passed, not before.
    world.counts = 1
    assert pages.current("/") == page.etag
    assert await pages.get("/", world.state, world.build) is page
    world.time += 1.0
    assert pages.current("/") is None
    moved = await pages.get("/", world.state, world.build)
    assert moved.etag != page.etag and world.builds == 2
    # The campaign changes: at once.
    world.urgent = "campaign v2"
    assert pages.current("/") is None
    again = await pages.get("/", world.state, world.build)
    assert b"campaign v2" in again.body and world.builds == 3


async def test_an_unsettled_page_is_built_again_and_a_failed_build_retried() -> None:
    world = World()
    pages = Pages(min_interval=1.0, monotonic=lambda: world.time)
    world.settled = False  # its lists lag behind the counts
    await pages.get("/", world.state, world.build)
    world.time += 1.0
    world.settled = True
    await pages.get("/", world.state, world.build)
    assert world.builds == 2
    world.time += 1.0
    await pages.get("/", world.state, world.build)
    assert world.builds == 2  # settled now: kept

    async def broken() -> tuple[PageBody, bool]:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        await pages.get("/autre", world.state, broken)
    assert pages.current("/autre") is None
    page = await pages.get("/autre", world.state, world.build)
    assert pages.current("/autre") == page.etag
