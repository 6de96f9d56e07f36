"""Group commit for the webhook listener.

Requests that arrive while a batch is being written wait together and are written as the next
batch: one transaction (one WAL flush, a handful of statements) for all of them, and each is
answered only after that transaction commits. Under light load a batch is one event and nothing
waits; under heavy load batches grow by themselves.

One pattern needs a nudge: when a large batch commits, its senders are answered at once and
come back together, but the queue then holds only the few that arrived meanwhile. Written at
once, those make a tiny batch that costs a whole transaction, the large group waits behind it,
and the two alternate (1, 63, 1, 63… with 64 senders). So after a batch of B events the writer
waits for about half as many to queue up, but never later than ``linger`` seconds after that
batch was answered, before taking the next; after a batch of one (light load) it never waits.
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
        linger: float = 0.0,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._linger = linger
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._wanted = 0  # queue length a lingering writer waits for (0: none waits)
        self._grown: asyncio.Event | None = None
        self._last_size, self._last_done = 0, 0.0  # the last batch answered: size, loop time

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._grown is not None and len(self._queue) >= self._wanted:
            self._grown.set()
        if len(self._writers) < self._max_in_flight:
            writer = asyncio.create_task(self._write())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # Shielded: a client that hangs up does not cancel what is being written for it.
        return await asyncio.shield(future)

    async def _gather(self) -> None:
        """After a batch of B items, wait until B/2 are queued, at most until ``linger``
        seconds after that batch was answered (its senders, if they come back, are back)."""
        wanted = min(self._last_size, self._max_batch) // 2
        if len(self._queue) >= wanted or self._grown is not None:
            return
        timeout = self._last_done + self._linger - asyncio.get_running_loop().time()
        if timeout <= 0:
            return
        self._wanted, self._grown = wanted, asyncio.Event()
        try:
            await asyncio.wait_for(self._grown.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._wanted, self._grown = 0, None

    async def _write(self) -> None:
        while self._queue:
            await self._gather()
            if not self._queue:  # another writer took them meanwhile
                break
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
            self._last_size, self._last_done = len(batch), asyncio.get_running_loop().time()
