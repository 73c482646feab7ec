"""What the group commits share (campaign/signing/batch.py, campaign/signing/confirm_batch.py,
the outbox's `SentLog`): the one path a batch takes when it cannot be written as one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg

# A batch's own failure, not the database's: worth retrying its items one by one.
DATA_ERRORS = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.TransactionRollbackError,  # a deadlock or serialisation failure
)


class Waiting(Protocol):
    """An item of a batch: `done` is what its caller awaits."""

    @property
    def done(self) -> asyncio.Future[Any]: ...


W = TypeVar("W", bound=Waiting)
R = TypeVar("R")


async def write_batch(
    batch: Sequence[W],
    write_all: Callable[[], Awaitable[R]],
    write_one: Callable[[int], Awaitable[object]],
    *,
    log: logging.Logger,
    what: str,
    interrupted: str | None,
) -> R | None:
    """`write_all()`'s result, or None when the batch was not written as one; its waiters are
    then answered here or by `write_one`:

    - it failed on its data (DATA_ERRORS): each item is written again alone (`write_one(n)` for
      the n-th, which answers its waiter), so that one bad item fails alone; a lone item gets
      the error;
    - it failed otherwise (the database is down or slow): each waiter gets the error;
    - it was interrupted (the process stops): nothing is known to be written; each waiter gets
      a ConnectionError(`interrupted`), or has its wait cancelled when `interrupted` is None,
      and the interruption goes on.
    """
    try:
        return await write_all()
    except DATA_ERRORS as exc:
        if len(batch) == 1:
            fail((item.done for item in batch), exc)
            return None
        log.warning("a batch of %d %s failed (%s): one by one", len(batch), what, exc)
        for n in range(len(batch)):
            await write_one(n)
        return None
    except Exception as exc:
        fail((item.done for item in batch), exc)
        return None
    except BaseException:
        if interrupted is None:
            for item in batch:
                item.done.cancel()
        else:
            fail((item.done for item in batch), ConnectionError(interrupted))
        raise


def fail(waiting: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    """Each request of a batch that could not be written gets the error (a 503 for most)."""
    for done in waiting:
        if not done.done():
            done.set_exception(exc)


def spawn(
    tasks: set[asyncio.Task[None]], work: Coroutine[object, object, None]
) -> asyncio.Task[None]:
    """A background task, kept in `tasks` until it ends (the loop holds tasks weakly)."""
    task = asyncio.create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task
