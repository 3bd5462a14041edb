"""The PostgreSQL executor: procrastinate workers in any number of processes run each launched job once.

- A launch inserts the job row and procrastinate's queue entry in one transaction (``enqueue``), so a job is
  never recorded without being queued, nor queued without a row.
- Every process that runs a worker (``serve`` embeds one, ``worker`` runs one alone) claims jobs with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and runs them through the ``run`` callable it was built with (the
  runner's), which updates the job row and subtasks exactly as in single-node mode.
- Workers send heartbeats. A job whose worker stopped sending them (killed, machine lost) is found by any
  other worker, given back to the queue and started again (attempt 2, 3, ...), or failed after the last attempt.
- Schedules are procrastinate periodic tasks: one launch per period across the cluster, whatever the number
  of processes (procrastinate records each period, a ``queueing_lock`` keeps launches from piling up).

procrastinate is used through its public API; the few SQL calls it cannot make inside our own transactions
are in app.storage.queue. The app's database work here goes through the job store, so in the thread pool.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import psycopg_pool
import sqlalchemy as sa
from procrastinate import App, PsycopgConnector, RetryStrategy, SyncPsycopgConnector, job_context
from procrastinate.exceptions import AppNotOpen, ConnectorException
from procrastinate.worker import Worker

from app.config import Settings
from app.jobs.executors import Run
from app.jobs.runner import HandedOn
from app.jobs.store import JobStore
from app.storage import jobs as queries
from app.storage.db import libpq_url

log = logging.getLogger('app.jobs')
QUEUE = 'jobs'
RUN_TASK = 'jobs.run'
LAUNCH_TASK = 'jobs.launch_scheduled'
NODE_STOPPED = 'Interrupted: the node running this job stopped'
MAX_RESTART_DELAY = 30.0  # seconds between attempts to start a worker that died


class ClusterExecutor:
    def __init__(self, *, run: Run, store: JobStore, settings: Settings, node: str) -> None:
        self._run_job = run
        self._store = store
        self._node = node
        self._stalled_after = float(settings.stalled_after_seconds)
        self._max_attempts = settings.max_attempts
        self._concurrency = settings.worker_concurrency
        self.run_worker = True  # False in a web node that only serves pages (JOBS_WEB_WORKER=false)
        connector = PsycopgConnector(
            conninfo=libpq_url(store.engine.url, password=True),
            kwargs={'application_name': f'{node}-queue'[:63]},
            min_size=1,
            max_size=self._concurrency + 2,
            pool_factory=_pool,
        )
        self.app = App(connector=connector)
        # Deferring on a connection of ours needs the synchronous connector; this app never opens a pool of its own.
        self._deferrer = App(connector=SyncPsycopgConnector())
        # A job cancelled by its node stopping raises HandedOn (see _hand_on): procrastinate queues it again at once.
        hand_on = RetryStrategy(max_attempts=self._max_attempts - 1, retry_exceptions={HandedOn})
        retry = hand_on if self._max_attempts > 1 else False  # (max_attempts=0 would mean "no limit")
        self.app.task(name=RUN_TASK, queue=QUEUE, pass_context=True, retry=retry)(self._run)
        self._launch_task = self.app.task(name=LAUNCH_TASK, queue=QUEUE)(self._launch_scheduled)
        self._launchers: dict[str, Callable[[], Awaitable[None]]] = {}
        self._worker: Worker | None = None
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, *, run_jobs: bool) -> None:
        """Fail jobs no worker will ever run (synchronously, as single-node start-up does), then start working."""
        self.run_worker = run_jobs
        self._store.fail_orphaned()
        self._tasks.append(asyncio.create_task(self._work(), name='procrastinate worker'))

    async def _work(self) -> None:
        """Run the worker until stopped; if it dies (say, the database went away), start it again."""
        delay = 1.0
        while not self._stopping:
            try:
                await self.app.open_async()
                if not self.run_worker:
                    return
                await self._run_worker()
                return
            except Exception:
                log.exception('the job worker stopped unexpectedly; starting it again in %.0f s', delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_DELAY)

    async def _run_worker(self) -> None:
        if self._stopping:
            return
        self._worker = Worker(
            self.app,
            queues=[QUEUE],
            name=self._node,
            concurrency=self._concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=max(0.5, self._stalled_after / 3),
            stalled_worker_timeout=self._stalled_after,
            fetch_job_polling_interval=2.0,
            delete_jobs='successful',  # the job table keeps the history; procrastinate's stays small
        )
        if len(self._tasks) == 1:
            self._tasks.append(asyncio.create_task(self._recover_stalled_forever(), name='stalled job recovery'))
        await self._worker.run()

    async def stop(self, grace: float) -> None:
        self._stopping = True
        if self._worker is not None:
            self._worker.shutdown_graceful_timeout = grace
            self._worker.stop()
        for task in self._tasks[1:]:  # the side tasks; the worker itself ends its running jobs first
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.app.close_async()

    def enqueue(self, connection: sa.Connection, job_id: int) -> int | None:
        """Queue the run in the transaction that records the job (procrastinate joins it); returns its queue id."""
        ours = connection.connection.driver_connection  # the psycopg connection under SQLAlchemy's transaction
        return self._deferrer.configure_task(RUN_TASK, queue=QUEUE, connection=ours).defer(job_id=job_id)

    def submitted(self, job_id: int) -> None:
        """Nothing to do: the queue entry was committed with the job, and its NOTIFY wakes a worker."""

    async def _run(self, context: job_context.JobContext, job_id: int) -> None:
        assert context.job is not None
        attempt = context.job.attempts + 1
        await self._run_job(job_id, attempt, hand_on=functools.partial(self._hand_on, attempt))

    def _hand_on(self, attempt: int) -> str | None:
        """A run cancelled because this node stops goes on with another worker while attempts are left."""
        if not self._stopping or attempt >= self._max_attempts:
            return None
        return f'{NODE_STOPPED}; going on with another worker (attempt {attempt + 1} of {self._max_attempts})'

    def schedule(self, job_type: str, cron: str, launch: Callable[[], Awaitable[None]]) -> None:
        self._launchers[job_type] = launch
        self.app.periodic(cron=cron, periodic_id=job_type, queueing_lock=f'schedule:{job_type}',
                          task_kwargs={'job_type': job_type})(self._launch_task)  # fmt: skip

    async def _launch_scheduled(self, timestamp: int, job_type: str) -> None:  # timestamp: the period's start
        launch = self._launchers.get(job_type)
        if launch is None:
            log.warning('no schedule for %s on this node; skipping its periodic launch', job_type)
            return
        await launch()

    async def _recover_stalled_forever(self) -> None:
        while True:
            await asyncio.sleep(self._stalled_after / 2)
            try:
                await self.recover_stalled()
                await self._store.fail_orphaned_async()
            except Exception:
                log.exception('looking for stalled jobs failed; trying again later')

    async def recover_stalled(self) -> None:
        """Start again, or fail after the last attempt, every job whose worker stopped sending heartbeats."""
        for stalled in await self.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=self._stalled_after):
            attempt = stalled.attempts + 1
            retry = attempt < self._max_attempts
            if retry:
                message = f'{queries.WORKER_LOST}; starting attempt {attempt + 1} of {self._max_attempts}'
            else:
                message = f'{queries.WORKER_LOST} (attempt {attempt} of {self._max_attempts})'
            job_id = stalled.task_kwargs.get('job_id')
            assert stalled.id is not None
            taken = await self._store.take_over(engine_job_id=stalled.id, worker_id=stalled.worker_id,
                                                retry=retry, job_id=job_id, message=message)  # fmt: skip
            if taken:  # else another node got there first
                log.warning('job %s lost its worker during attempt %s of %s', job_id, attempt, self._max_attempts)

    async def wait_idle(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await self._idle():
            if loop.time() > deadline:
                raise TimeoutError('jobs still queued or running')
            await asyncio.sleep(0.05)

    async def _idle(self) -> bool:
        try:
            queues = await self.app.job_manager.list_queues_async(queue=QUEUE)
        except (AppNotOpen, ConnectorException):  # opened by the worker task after start; a lost connection is replaced
            return False
        return not any(entry['todo'] or entry['doing'] for entry in queues)


def _pool(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    """procrastinate's pool, checking a connection with a round trip only after it sat idle (a lost server is
    noticed then); a check on every checkout cost a round trip per query, a tenth of a worker's time."""
    return psycopg_pool.AsyncConnectionPool(
        **(options | {'check': _check_if_idle, 'reset': _mark_returned, 'configure': _configure})
    )


async def _configure(connection: psycopg.AsyncConnection[Any]) -> None:
    """The queue's own bookkeeping (claiming, finishing) commits without waiting for the disk: a commit lost to a
    database crash only makes a run look unclaimed or unfinished, and runs are at-least-once anyway (the job
    rows, and the queue entry made with them, are written by the app's own connections, which do wait). Waiting
    for the disk on every claim and finish halved the jobs per second at a million jobs."""
    await connection.set_autocommit(True)
    await connection.execute('SET synchronous_commit = off')
    await connection.set_autocommit(False)


_returned_at: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = weakref.WeakKeyDictionary()
IDLE_CHECK_AFTER = 10.0  # seconds


async def _mark_returned(connection: psycopg.AsyncConnection[Any]) -> None:
    _returned_at[connection] = time.monotonic()


async def _check_if_idle(connection: psycopg.AsyncConnection[Any]) -> None:
    if connection.broken or connection.closed:
        raise psycopg.OperationalError('connection lost')
    if time.monotonic() - _returned_at.get(connection, 0.0) > IDLE_CHECK_AFTER:
        await psycopg_pool.AsyncConnectionPool.check_connection(connection)
