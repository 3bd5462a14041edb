"""The one way off the event loop: a thread pool for blocking work (queries, file I/O, CSV parsing).

The wiring point builds it once (``Services.threads``). The job runtime uses nothing else: the job store's reads
(``app.jobs.store``), ``JobContext.run_blocking``/``start_blocking`` (imports, backups, reports), file deletes, the
cluster executor's database calls and the hourly statistics refresh; pages are to use it too (``threads.run``).
Only the group-commit writer (``app.jobs.writer``) keeps a thread of its own. Unlike NiceGUI's ``run.io_bound``,
this pool keeps working while the app shuts down: running jobs still record how they ended.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar('T')
# Long imports hold a thread for minutes; the pool is large enough that page reads never queue behind them.
MAX_THREADS = 32


class Threads:
    def __init__(self, max_workers: int = MAX_THREADS) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix='jobs-thread')

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` in a worker thread and wait for its result."""
        return await asyncio.wrap_future(self.submit(function, *args, **kwargs))

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Start ``function`` in a worker thread; the future outlives a cancelled caller (wait for it to clean up)."""
        return self._pool.submit(functools.partial(function, *args, **kwargs))

    def stop(self) -> None:
        """Drop work not started; threads under way finish on their own (jobs were given their grace already)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
