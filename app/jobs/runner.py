"""Runs one recorded job: its handler with a JobContext, then records how it ended.

The executors call ``JobRunner.run(job_id, attempt)`` (the wiring in app/services.py hands them that callable);
they decide when and where a job runs, the runner what running it means. Both modes run jobs the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.config import Settings
from app.jobs.context import Cancelled, JobContext, describe_error
from app.jobs.registry import Registry
from app.jobs.store import JobRef, JobStore
from app.storage.files import FileStore
from app.storage.job_actions import cancel_requests
from app.storage.jobs import cancelled_message
from app.storage.models import Status
from app.threads import Threads

log = logging.getLogger('app.jobs')
CANCEL_POLL = 0.5  # seconds between looks at the rows of the jobs this process runs, for cancel requests
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
        self._running: dict[int, JobContext] = {}
        self._poller: asyncio.Task[None] | None = None

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
                         threads=self._threads, log_seq=job['log_seq'], cancelled_by=job['cancelled_by'])  # fmt: skip
        error: str | None = None
        handed_on: str | None = None
        self._watch(ctx)
        try:
            await kind.run(ctx)
            error = ctx.failure
        except Cancelled as cancelled:
            ctx.log(f'Cancelled by {cancelled.by}', 'warning')
            error = cancelled_message(cancelled.by)
        except asyncio.CancelledError as cancelled:
            handed_on = hand_on() if hand_on is not None else None
            error = describe_error(cancelled)
        except Exception as exception:
            log.exception('job %s (%s) failed', job_id, kind.name)
            error = describe_error(exception)
        finally:
            self._running.pop(job_id, None)
            await ctx.flush_progress()
            if handed_on is not None:
                await self._store.interrupt_attempt(ref, message=handed_on)
            else:
                await self._store.finish_job(ref, error=error)
        if handed_on is not None:
            raise HandedOn(handed_on)

    def _watch(self, ctx: JobContext) -> None:
        """Look for cancel requests of this run too (one query every CANCEL_POLL for all of this process's runs)."""
        self._running[ctx.job_id] = ctx
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_cancel_requests(), name='cancel requests')

    async def _poll_cancel_requests(self) -> None:
        while self._running:
            await asyncio.sleep(CANCEL_POLL)
            running = dict(self._running)
            if not running:
                break
            try:
                requests = await self._store.read(cancel_requests, job_ids=list(running))
            except Exception:
                log.exception('could not read cancel requests; trying again')
                continue
            for job_id, by in requests.items():
                if job_id in running:
                    running[job_id].request_cancel(by)
