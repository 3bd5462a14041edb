"""Runs one recorded job: its handler with a JobContext, then records how it ended.

The executors call ``JobRunner.run(job_id, attempt)`` (the wiring in app/services.py hands them that callable);
they decide when and where a job runs, the runner what running it means. Both modes run jobs the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.config import Settings
from app.jobs.context import JobContext, describe_error
from app.jobs.registry import Registry
from app.jobs.store import JobRef, JobStore
from app.storage.files import FileStore
from app.storage.models import Status
from app.threads import Threads

log = logging.getLogger('app.jobs')
HandOn = Callable[[], str | None]  # asked when a run is cancelled: what its step says if it goes on elsewhere


class HandedOn(Exception):
    """Raised out of a run that stopped with its node and goes on with another worker (the executor retries it)."""


class JobRunner:
    def __init__(
        self, *, store: JobStore, files: FileStore, settings: Settings, threads: Threads, registry: Registry
    ) -> None:
        self._store = store
        self._files = files
        self._settings = settings
        self._threads = threads
        self._registry = registry

    async def run(self, job_id: int, attempt: int, *, hand_on: HandOn | None = None) -> None:
        """Run a recorded job; a new attempt (``attempt`` > 1) starts from a clean slate.

        Cancelled (its node stops), the job ends Failed as Interrupted, unless ``hand_on`` says it goes on with
        another worker: then it stays In Progress and HandedOn is raised for the executor to queue it again.
        """
        job = await self._store.job_for_run(job_id)
        if job is None or job['status'] != Status.IN_PROGRESS:
            log.warning('job %s is gone or already ended; not running it again', job_id)
            return
        ref = JobRef(job_id, job['run_by_id'], job['category'])
        if attempt > 1:
            for relative_path in await self._store.start_attempt(ref, attempt=attempt):
                await self._threads.run(self._files.delete, relative_path)  # the outputs are made again
        kind = self._registry.get(job['job_type'])
        ctx = JobContext(ref, params=job['params'], store=self._store, files=self._files, settings=self._settings,
                         threads=self._threads)  # fmt: skip
        error: str | None = None
        handed_on: str | None = None
        try:
            await kind.run(ctx)
            error = ctx.failure
        except asyncio.CancelledError as cancelled:
            handed_on = hand_on() if hand_on is not None else None
            error = describe_error(cancelled)
        except Exception as exception:
            log.exception('job %s (%s) failed', job_id, kind.name)
            error = describe_error(exception)
        finally:
            await ctx.flush_progress()
            if handed_on is not None:
                await self._store.interrupt_attempt(ref, message=handed_on)
            else:
                await self._store.finish_job(ref, error=error)
        if handed_on is not None:
            raise HandedOn(handed_on)
