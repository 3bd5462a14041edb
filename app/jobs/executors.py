"""The executor seam: who runs a recorded job, and who fires the schedules.

JobService records every job the same way and hands it to an executor chosen by the database:

- ``LocalExecutor`` (SQLite, one process): APScheduler 3 in the web process, as the app always ran.
- ``ClusterExecutor`` (PostgreSQL, app.jobs.cluster): procrastinate workers in any number of processes.

An executor is built by the wiring (app/services.py) with a ``run(job_id, attempt)`` callable (the runner's) and
calls nothing else of the runtime: handlers, ``JobContext``, the job table and the pages are the same with both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.cron import crontab_trigger
from app.jobs.runner import HandOn
from app.jobs.store import JobStore


class Run(Protocol):
    """Runs a recorded job and records how it ended (``JobRunner.run``)."""

    def __call__(self, job_id: int, attempt: int, *, hand_on: HandOn | None = None) -> Awaitable[None]: ...


class Executor(Protocol):
    def start(self, *, run_jobs: bool) -> None:
        """Start (on the running event loop); without ``run_jobs`` this process only records and schedules."""

    async def stop(self, grace: float) -> None:
        """Stop taking jobs; running ones get ``grace`` seconds, then are cancelled (see ``hand_on``)."""

    def enqueue(self, connection: sa.Connection, job_id: int) -> int | None:
        """Called inside the transaction that records the job; returns the executor's id for the run."""

    def submitted(self, job_id: int) -> None:
        """Called once the job row is committed."""

    def schedule(self, job_type: str, cron: str, launch: Callable[[], Awaitable[None]]) -> None:
        """Call ``launch`` on a crontab schedule (once per period, whatever the number of processes)."""

    async def wait_idle(self, timeout: float) -> None:
        """Wait until no recorded job is left to run (tests and tools)."""


class LocalExecutor:
    """Runs jobs on the web process's event loop through APScheduler; a restart fails what was running."""

    def __init__(self, *, run: Run, store: JobStore) -> None:
        self._run_job = run
        self._store = store
        self.scheduler = AsyncIOScheduler(job_defaults={'misfire_grace_time': None, 'coalesce': True})
        self._running: dict[int, asyncio.Task[None]] = {}
        self._pending: set[int] = set()

    def start(self, *, run_jobs: bool) -> None:  # one process: it always runs its jobs
        self._store.fail_interrupted()
        self.scheduler.start()

    async def stop(self, grace: float) -> None:
        # Paused, the scheduler starts nothing new; shut down, it would cancel the runs under way at once, so that
        # waits until they have had their grace.
        if self.scheduler.running:
            self.scheduler.pause()
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def enqueue(self, connection: sa.Connection, job_id: int) -> int | None:
        return None

    def submitted(self, job_id: int) -> None:
        self._pending.add(job_id)
        self.scheduler.add_job(self._run, args=[job_id], id=f'job-{job_id}')

    async def _run(self, job_id: int) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running[job_id] = task
        try:
            await self._run_job(job_id, 1)  # one process: a cancelled run is never handed on
        finally:
            self._running.pop(job_id, None)
            self._pending.discard(job_id)

    def schedule(self, job_type: str, cron: str, launch: Callable[[], Awaitable[None]]) -> None:
        self.scheduler.add_job(launch, crontab_trigger(cron), id=f'schedule-{job_type}', replace_existing=True)

    async def wait_idle(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending:
            if loop.time() > deadline:
                raise TimeoutError(f'jobs still running: {sorted(self._pending)}')
            await asyncio.sleep(0.02)


def next_fire_time(cron: str) -> datetime | None:
    """When a crontab schedule fires next (UTC), or None for an empty schedule."""
    if not cron.strip():
        return None
    fire_time: datetime | None = crontab_trigger(cron).get_next_fire_time(None, datetime.now(UTC))
    return fire_time
