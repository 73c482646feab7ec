"""The one failure path of the group commits (campaign/core/group_commit.py: `write_batch`),
on its own: what each waiter of a batch gets when the batch cannot be written as one. The
batchers' own tests (signing, confirmations, the outbox's sent log) drive it against PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg
import pytest

from campaign.core import group_commit

log = logging.getLogger("tests.group_commit")


@dataclass(eq=False)
class Item:
    value: int
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


async def write(batch: list[Item], error: BaseException, alone: list[int]) -> list[int] | None:
    """Writes the batch; `error` when it holds a negative value."""

    async def write_all() -> list[int]:
        if any(i.value < 0 for i in batch):
            raise error
        return [i.value * 10 for i in batch]

    async def write_one(n: int) -> None:
        alone.append(batch[n].value)
        written = await write([batch[n]], error, alone)
        if written is not None:
            batch[n].done.set_result(written[0])

    return await group_commit.write_batch(
        batch, write_all, write_one, log=log, what="items", interrupted="stopped"
    )


async def test_written_as_one() -> None:
    batch = [Item(1), Item(2)]
    assert await write(batch, asyncpg.DataError("bad"), []) == [10, 20]


async def test_a_data_error_writes_each_alone_and_the_bad_one_fails_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = [Item(1), Item(-2), Item(3)]
    alone: list[int] = []
    assert await write(batch, asyncpg.DataError("bad"), alone) is None
    assert alone == [1, -2, 3]
    assert batch[0].done.result() == 10 and batch[2].done.result() == 30
    assert isinstance(batch[1].done.exception(), asyncpg.DataError)
    assert "a batch of 3 items failed" in caplog.text


async def test_any_other_error_fails_every_waiter() -> None:
    batch = [Item(1), Item(-2)]
    alone: list[int] = []
    error = ConnectionError("database down")
    assert await write(batch, error, alone) is None
    assert alone == []
    assert all(i.done.exception() is error for i in batch)


@pytest.mark.parametrize("interrupted", ["stopped", None])
async def test_an_interruption_fails_or_cancels_the_waits_and_goes_on(
    interrupted: str | None,
) -> None:
    batch = [Item(1), Item(2)]

    async def write_all() -> list[int]:
        raise asyncio.CancelledError

    async def write_one(n: int) -> None:
        raise AssertionError("not retried")

    with pytest.raises(asyncio.CancelledError):
        await group_commit.write_batch(
            batch, write_all, write_one, log=log, what="items", interrupted=interrupted
        )
    for item in batch:
        if interrupted is None:
            assert item.done.cancelled()
        else:
            error = item.done.exception()
            assert isinstance(error, ConnectionError) and str(error) == "stopped"
