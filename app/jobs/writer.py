"""Group commit: every job-row write goes through one thread that commits whatever has queued up in one transaction.

Hundreds of running jobs each write a few small rows; committing them one by one makes them queue for the
database's write lock (SQLite sleeps and retries). One writer that drains the queue into a single transaction
turns a burst of writes into one commit, and each caller still gets its own result or its own error.

The job store (``app.jobs.store``) owns the writer and publishes each write once it is committed. Its thread is
the runtime's only one besides the shared pool (``app.threads``): commits must not wait behind long imports.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar('T')
MAX_BATCH = 500  # writes per transaction: bounds how long one commit holds the write lock
log = logging.getLogger('app.jobs')


@dataclass(slots=True)
class _Write:
    function: Callable[[sa.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class Writer:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name='jobs-writer', daemon=True)
        self._thread.start()

    async def write(self, function: Callable[[sa.Connection], T]) -> T:
        """Run ``function`` inside the writer's next transaction; returns its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Write(function, loop, future))
        return await future

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < MAX_BATCH:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch.append(following)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[_Write]) -> None:
        try:
            with self._engine.begin() as connection:
                results = [write.function(connection) for write in batch]
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error=error)
            else:  # one bad write must not take the others down: run each on its own
                for write in batch:
                    self._commit([write])
            return
        for write, result in zip(batch, results, strict=True):
            _settle(write, result=result)


def _settle(write: _Write, *, result: Any = None, error: Exception | None = None) -> None:
    def resolve() -> None:
        if write.future.done():  # the caller was cancelled; what it wrote stays written
            return
        if error is not None:
            write.future.set_exception(error)
        else:
            write.future.set_result(result)

    try:
        write.loop.call_soon_threadsafe(resolve)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        log.debug('job write finished after its event loop closed')
