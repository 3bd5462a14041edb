"""JobService: what pages and tools call to launch jobs, schedule system tasks and ask what runs.

It records a launch through the job store (which publishes it) and hands the job to the executor; the executor,
built in app/services.py with the runner's ``run`` callable, decides when and where it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.jobs.executors import Executor, next_fire_time
from app.jobs.registry import Registry
from app.jobs.store import AlreadyRunning, JobStore
from app.storage import jobs as queries

log = logging.getLogger('app.jobs')


class JobService:
    def __init__(
        self, *, store: JobStore, registry: Registry, executor: Executor, node: str, shutdown_grace: float
    ) -> None:
        self.node = node  # this process among the nodes sharing the database
        self.executor = executor
        self._store = store
        self._registry = registry
        self._shutdown_grace = shutdown_grace
        self._schedules: dict[str, str] = {}

    def start(self, *, run_jobs: bool = True) -> None:
        """Start the executor (on the running loop); single-node mode first fails what a crash left In Progress.

        Without ``run_jobs`` (a web-only node of a cluster), jobs are recorded and queued here but run elsewhere.
        """
        self.executor.start(run_jobs=run_jobs)

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking jobs; running jobs get ``grace`` seconds (JOBS_SHUTDOWN_GRACE_SECONDS), then end Failed as
        Interrupted, or, on a cluster node with attempts left, are queued again for another worker."""
        await self.executor.stop(self._shutdown_grace if grace is None else grace)

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
        rerun_of: int | None = None,
    ) -> int:
        """Record a job (In Progress, now) with its inputs and hand it to the executor; returns its id.

        The job row and the executor's queue entry are committed together, so a launch runs exactly once.
        With ``exclusive``, raises AlreadyRunning when a job of this type is In Progress (on any node).
        """
        job_id = await self._store.create_job(self._registry.get(job_type), description=description,
                                              run_by_id=run_by_id, run_at=run_at, params=params or {},
                                              input_files=input_files, exclusive=exclusive,
                                              enqueue=self.executor.enqueue, rerun_of=rerun_of)  # fmt: skip
        self.executor.submitted(job_id)
        return job_id

    async def running_types(self, job_types: Sequence[str]) -> set[str]:
        """Which of these job types have a job In Progress (on any node)."""
        return await self._store.running_types(job_types)

    def schedule(self, job_type: str, cron: str, *, run_by_id: int, run_at: str, description: str) -> None:
        """Launch ``job_type`` on a crontab schedule (minute hour day month weekday), run by ``run_by_id``."""

        async def launch_scheduled() -> None:
            try:
                await self.launch(job_type, description=description, run_by_id=run_by_id, run_at=run_at, exclusive=True)
            except AlreadyRunning:
                log.info('scheduled %s skipped: the previous run is still going', job_type)

        self._schedules[job_type] = cron
        self.executor.schedule(job_type, cron, launch_scheduled)

    def next_run(self, job_type: str) -> datetime | None:
        """When the schedule of ``job_type`` fires next (UTC), or None if it has none."""
        return next_fire_time(self._schedules.get(job_type, ''))

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every launched job has ended (tests and tools)."""
        await self.executor.wait_idle(timeout)


__all__ = ['AlreadyRunning', 'JobService']
