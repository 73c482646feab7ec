"""What the group commits share (campaign/signing_batch.py, campaign/confirm_batch.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

import asyncpg

# A batch's own failure, not the database's: worth retrying its items one by one.
DATA_ERRORS = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.TransactionRollbackError,  # a deadlock or serialisation failure
)


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
