"""Group commit for the webhook listener.

Requests that arrive while a batch is being written wait together and are written as the next
batch: one transaction (one WAL flush, a handful of statements) for all of them, and each is
answered only after that transaction commits. Under light load a batch is one event and nothing
waits; under heavy load batches grow by themselves, so no timer or tuning is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommitter(Generic[Item, Result]):
    """Runs ``apply`` (blocking: in a worker thread) over the items queued since the last call.

    ``apply`` returns one result per item, in order; if it raises, every item of that batch gets
    the exception. At most ``max_in_flight`` batches are written at once (each on its own
    connection), at most ``max_batch`` items each.
    """

    def __init__(
        self,
        apply: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        max_batch: int,
        max_in_flight: int = 1,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writers: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if len(self._writers) < self._max_in_flight:
            writer = asyncio.create_task(self._write())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # Shielded: a client that hangs up does not cancel what is being written for it.
        return await asyncio.shield(future)

    async def _write(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                results = await run_in_threadpool(self._apply, [item for item, _ in batch])
            except BaseException as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
