"""JobService: records jobs, hands them to the executor, runs handlers, and publishes every committed change."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa

from app.config import Settings
from app.jobs.context import JobContext, describe_error
from app.jobs.events import ChangeFeed, DetailChanged, JobChanged
from app.jobs.executors import Executor, HandedOn, LocalExecutor, next_fire_time
from app.jobs.registry import Registry
from app.jobs.writer import Writer
from app.storage import jobs as queries
from app.storage.files import FileStore
from app.storage.models import Status

T = TypeVar('T')
log = logging.getLogger('app.jobs')


class AlreadyRunning(RuntimeError):
    """An exclusive launch found a job of the same type running."""


class JobService:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: sa.Engine,
        files: FileStore,
        registry: Registry,
        feed: ChangeFeed,
        node: str = 'job-management',
    ) -> None:
        self.settings = settings
        self.node = node  # this process among the nodes sharing the database
        self.engine = engine
        self.files = files
        self.registry = registry
        self.feed = feed
        # Job writes must still land during shutdown, so they use threads of their own, not run.io_bound.
        self.writer = Writer(engine)
        self.db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix='jobs-db')
        self.workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix='jobs-work')
        self.executor: Executor = _executor_for(self)
        self._schedules: dict[str, str] = {}

    def start(self, *, run_jobs: bool = True) -> None:
        """Start the executor (on the running loop); single-node mode first fails what a crash left In Progress.

        Without ``run_jobs`` (a web-only node of a cluster), jobs are recorded and queued here but run elsewhere.
        """
        self.executor.start(run_jobs=run_jobs)

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking jobs; running jobs get ``grace`` seconds (JOBS_SHUTDOWN_GRACE_SECONDS), then end Failed as
        Interrupted, or, on a cluster node with attempts left, are queued again for another worker."""
        await self.executor.stop(self.settings.shutdown_grace_seconds if grace is None else grace)
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.db_pool.shutdown(wait=True)
        self.writer.stop()

    async def launch(
        self,
        job_type: str,
        *,
        description: str,
        run_by_id: int,
        run_at: str,
        params: dict[str, Any] | None = None,
        input_files: Sequence[queries.NewFile] = (),
        exclusive: bool = False,
    ) -> int:
        """Record a job (In Progress, now) with its inputs and hand it to the executor; returns its id.

        The job row and the executor's queue entry are committed together, so a launch runs exactly once.
        With ``exclusive``, raises AlreadyRunning when a job of this type is In Progress (on any node).
        """
        kind = self.registry.get(job_type)

        def record(connection: sa.Connection) -> dict[str, Any]:
            # The writer commits one transaction at a time, so the check and the insert cannot interleave with
            # another launch of this process; on PostgreSQL a lock per job type keeps other nodes out too.
            if exclusive and queries.is_running(connection, job_type=kind.key, lock=True):
                raise AlreadyRunning(f'{kind.name} is already running')
            row = queries.create_job(
                connection,
                job_type=kind.key,
                name=kind.name,
                category=kind.category,
                description=description,
                run_by_id=run_by_id,
                run_at=run_at,
                params=params or {},
                input_files=input_files,
            )
            engine_job_id = self.executor.enqueue(connection, row['id'])
            if engine_job_id is not None:
                queries.set_engine_job_id(connection, job_id=row['id'], engine_job_id=engine_job_id)
            return row

        row = await self.writer.write(record)
        job_id: int = row['id']
        self.publish_row(row, run_by_id)
        self.executor.submitted(job_id, kind.key, run_by_id, params or {})
        return job_id

    async def is_running(self, job_type: str) -> bool:
        """Whether a job of this type is In Progress (on any node)."""
        return await self.db(queries.is_running, job_type=job_type)

    async def running_types(self, job_types: Sequence[str]) -> set[str]:
        """Which of these job types have a job In Progress (on any node)."""
        return await self.db(queries.running_types, job_types=job_types)

    def schedule(self, job_type: str, cron: str, *, run_by_id: int, run_at: str, description: str) -> None:
        """Launch ``job_type`` on a crontab schedule (minute hour day month weekday), run by ``run_by_id``."""

        async def launch_scheduled() -> None:
            try:
                await self.launch(job_type, description=description, run_by_id=run_by_id, run_at=run_at, exclusive=True)
            except AlreadyRunning:
                log.info('scheduled %s skipped: the previous run is still going', job_type)

        self._schedules[job_type] = cron
        self.executor.schedule(job_type, cron, launch_scheduled)

    def next_run(self, job_type: str) -> Any:
        return next_fire_time(self._schedules.get(job_type, ''))

    async def run_recorded(self, job_id: int, *, attempt: int) -> None:
        """Run a recorded job by id (a cluster worker's entry point); a new attempt starts from a clean slate."""
        job = await self.db(queries.job_for_run, job_id=job_id)
        if job is None or job['status'] != Status.IN_PROGRESS:
            log.warning('job %s is gone or already ended; not running it again', job_id)
            return
        if attempt > 1:
            row, old_files = await self.write(queries.start_attempt, job_id=job_id, attempt=attempt)
            for relative_path in old_files:  # outputs of the interrupted attempt are made again
                await asyncio.get_running_loop().run_in_executor(self.db_pool, self.files.delete, relative_path)
            self.publish_row(row, job['run_by_id'])
            self.publish_detail(job_id, job['run_by_id'], job['category'])
        await self.run_job(job_id, job['job_type'], job['run_by_id'], job['params'])

    async def run_job(self, job_id: int, job_type: str, owner_id: int, params: dict[str, Any]) -> None:
        """Run the handler of a recorded job and record how it ended (the executors call this)."""
        kind = self.registry.get(job_type)
        ctx = JobContext(self, job_id=job_id, owner_id=owner_id, category=kind.category, params=params)
        error: str | None = None
        handed_on: str | None = None
        try:
            await kind.run(ctx)
            error = ctx.failure
        except asyncio.CancelledError as cancelled:
            handed_on = self.executor.hand_on(job_id)  # a stopping cluster node gives the job to another worker
            error = describe_error(cancelled)
        except Exception as exception:
            log.exception('job %s (%s) failed', job_id, kind.name)
            error = describe_error(exception)
        finally:
            await ctx.flush_progress()
            if handed_on is not None:
                await self.write(queries.interrupt_attempt, job_id=job_id, message=handed_on)
                self.publish_detail(job_id, owner_id, kind.category)
            else:
                row = await self.write(queries.finish_job, job_id=job_id, error=error)
                self.publish_row(row, owner_id)
        if handed_on is not None:
            raise HandedOn(handed_on)

    def publish_row(self, row: dict[str, Any], owner_id: int) -> None:
        self.feed.publish(JobChanged(job_id=row['id'], owner_id=owner_id, category=row['category'], row=row))

    def publish_detail(self, job_id: int, owner_id: int, category: str) -> None:
        self.feed.publish(DetailChanged(job_id=job_id, owner_id=owner_id, category=category))

    async def db(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a storage query (which takes ``engine``) in the job runtime's own thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db_pool, functools.partial(function, self.engine, **kwargs))

    async def write(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a storage write (which takes a connection) in the writer's next group commit."""
        return await self.writer.write(functools.partial(function, **kwargs))

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every launched job has ended (tests and tools)."""
        await self.executor.wait_idle(timeout)


def _executor_for(service: JobService) -> Executor:
    """SQLite runs jobs in this process; PostgreSQL hands them to procrastinate workers on any node."""
    if service.engine.dialect.name == 'postgresql':
        from app.jobs.cluster import ClusterExecutor

        return ClusterExecutor(service)
    return LocalExecutor(service)


__all__ = ['JobService', 'Status']
