"""JobService: records jobs, runs them through APScheduler, and publishes every committed change."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.config import Settings
from app.cron import crontab_trigger
from app.jobs.context import JobContext, describe_error
from app.jobs.events import ChangeFeed, DetailChanged, JobChanged
from app.jobs.registry import Registry
from app.jobs.writer import Writer
from app.storage import jobs as queries
from app.storage.files import FileStore
from app.storage.models import Status

T = TypeVar('T')
log = logging.getLogger('app.jobs')
SHUTDOWN_GRACE_SECONDS = 10.0


class AlreadyRunning(RuntimeError):
    """An exclusive launch found a job of the same type running."""


class JobService:
    def __init__(
        self, *, settings: Settings, engine: sa.Engine, files: FileStore, registry: Registry, feed: ChangeFeed
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.files = files
        self.registry = registry
        self.feed = feed
        # Job writes must still land during shutdown, so they use threads of their own, not run.io_bound.
        self.writer = Writer(engine)
        self.db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix='jobs-db')
        self.workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix='jobs-work')
        self.scheduler = AsyncIOScheduler(job_defaults={'misfire_grace_time': None, 'coalesce': True})
        self._running: dict[int, asyncio.Task[None]] = {}
        self._running_types: dict[int, str] = {}
        self._launching: set[str] = set()

    def start(self) -> None:
        """Fail what a crash left In Progress, then start the scheduler (on the running loop)."""
        for row in queries.fail_interrupted(self.engine):
            log.warning('job %s was interrupted by a restart', row['id'])
        self.scheduler.start()

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop scheduling; running jobs get ``grace`` seconds, then end Failed as Interrupted."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
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
        """Record a job (In Progress, now) with its inputs and hand it to the scheduler; returns its id.

        With ``exclusive``, raises AlreadyRunning when a job of this type is running or being launched.
        """
        kind = self.registry.get(job_type)
        if exclusive:
            if self.is_running(job_type):
                raise AlreadyRunning(f'{kind.name} is already running')
            self._launching.add(job_type)  # reserved before the first await, so two launches cannot both pass
        try:
            row = await self.write(
                queries.create_job,
                job_type=kind.key,
                name=kind.name,
                category=kind.category,
                description=description,
                run_by_id=run_by_id,
                run_at=run_at,
                params=params or {},
                input_files=input_files,
            )
            job_id: int = row['id']
            self._running_types[job_id] = kind.key
        finally:
            if exclusive:
                self._launching.discard(job_type)
        self.publish_row(row, run_by_id)
        self.scheduler.add_job(self._run, args=[job_id, kind.key, run_by_id, params or {}], id=f'job-{job_id}')
        return job_id

    def is_running(self, job_type: str) -> bool:
        """Whether a job of this type is running in this process."""
        return job_type in self._launching or job_type in self._running_types.values()

    def schedule(self, job_type: str, cron: str, *, run_by_id: int, run_at: str, description: str) -> None:
        """Launch ``job_type`` on a crontab schedule (minute hour day month weekday), run by ``run_by_id``."""

        async def launch_scheduled() -> None:
            try:
                await self.launch(job_type, description=description, run_by_id=run_by_id, run_at=run_at, exclusive=True)
            except AlreadyRunning:
                log.info('scheduled %s skipped: the previous run is still going', job_type)

        self.scheduler.add_job(
            launch_scheduled, crontab_trigger(cron), id=f'schedule-{job_type}', replace_existing=True
        )

    def next_run(self, job_type: str) -> Any:
        scheduled = self.scheduler.get_job(f'schedule-{job_type}')
        return getattr(scheduled, 'next_run_time', None) if scheduled else None

    async def _run(self, job_id: int, job_type: str, owner_id: int, params: dict[str, Any]) -> None:
        kind = self.registry.get(job_type)
        task = asyncio.current_task()
        assert task is not None
        self._running[job_id] = task
        ctx = JobContext(self, job_id=job_id, owner_id=owner_id, category=kind.category, params=params)
        error: str | None = None
        try:
            await kind.run(ctx)
            error = ctx.failure
        except asyncio.CancelledError as cancelled:
            error = describe_error(cancelled)
        except Exception as exception:
            log.exception('job %s (%s) failed', job_id, kind.name)
            error = describe_error(exception)
        finally:
            await ctx.flush_progress()
            row = await self.write(queries.finish_job, job_id=job_id, error=error)
            self.publish_row(row, owner_id)
            self._running.pop(job_id, None)
            self._running_types.pop(job_id, None)

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
        """Wait until no job runs (tests and tools)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._running_types:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f'jobs still running: {sorted(self._running_types)}')
            await asyncio.sleep(0.02)


__all__ = ['JobService', 'Status']
