"""The job store: job rows, subtasks and files for the runtime, and the one place job changes reach the feed.

- Reads run in the app's thread pool (``app.threads``), never on the event loop.
- Writes go through the group-commit writer (``app.jobs.writer``): its one thread commits bursts together.
- Every write method publishes its change once committed (``JobChanged`` with the job's row, ``DetailChanged``
  for its subtasks and files), so no caller publishes by hand, nor before the commit.
- Changes other nodes committed come in through the relay (``app.jobs.relay``) and are published here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from app.jobs.events import ChangeFeed, DetailChanged, JobChanged, Resync
from app.jobs.registry import JobType
from app.jobs.writer import Writer
from app.storage import job_actions, queue
from app.storage import jobs as queries
from app.storage.job_actions import LogLine
from app.storage.models import JobFile, Status, User
from app.threads import Threads

T = TypeVar('T')
log = logging.getLogger('app.jobs')
Enqueue = Callable[[sa.Connection, int], int | None]  # the executor's part of recording a job (Executor.enqueue)


class AlreadyRunning(RuntimeError):
    """An exclusive launch found a job of the same type running."""


@dataclass(frozen=True, slots=True)
class JobRef:
    """A recorded job as its changes are published: who may see them (its owner, admins) and in which tab."""

    job_id: int
    owner_id: int
    category: str


class JobStore:
    """Reads and writes of jobs, subtasks and job files; each write published once committed."""

    def __init__(self, *, engine: sa.Engine, feed: ChangeFeed, threads: Threads) -> None:
        self.engine = engine
        self._feed = feed
        self._threads = threads
        self._writer = Writer(engine)

    def stop(self) -> None:
        """Commit the writes still queued and end the writer's thread."""
        self._writer.stop()

    async def read(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a storage query (a function of ``engine``) in the thread pool."""
        return await self._threads.run(function, self.engine, **kwargs)

    async def running_types(self, job_types: Sequence[str]) -> set[str]:
        """Which of these job types have a job In Progress (on any node)."""
        return await self.read(queries.running_types, job_types=job_types)

    async def job_for_run(self, job_id: int) -> dict[str, Any] | None:
        """What a worker needs to run a recorded job (None if it is gone)."""
        return await self.read(queries.job_for_run, job_id=job_id)

    async def job_files(self, job_id: int, role: str) -> list[JobFile]:
        """A job's files of one role, oldest first."""
        return await self.read(queries.job_files, job_id=job_id, role=role)

    async def create_job(
        self,
        kind: JobType,
        *,
        description: str,
        run_by_id: int,
        run_at: str,
        params: dict[str, Any],
        input_files: Sequence[queries.NewFile],
        exclusive: bool,
        enqueue: Enqueue,
        rerun_of: int | None = None,
    ) -> int:
        """Record an In Progress job with its inputs, ``enqueue`` it in the same transaction; returns its id.

        With ``exclusive``, raises AlreadyRunning when a job of this type is In Progress (on any node).
        """

        def record(connection: sa.Connection) -> dict[str, Any]:
            # The writer commits one transaction at a time, so the check and the insert cannot interleave with
            # another launch of this process; on PostgreSQL a lock per job type keeps other nodes out too.
            if exclusive and queries.is_running(connection, job_type=kind.key, lock=True):
                raise AlreadyRunning(f'{kind.name} is already running')
            row = queries.create_job(connection, job_type=kind.key, name=kind.name, category=kind.category,
                                     description=description, run_by_id=run_by_id, run_at=run_at, params=params,
                                     input_files=input_files, rerun_of=rerun_of)  # fmt: skip
            engine_job_id = enqueue(connection, row['id'])
            if engine_job_id is not None:
                queries.set_engine_job_id(connection, job_id=row['id'], engine_job_id=engine_job_id)
            return row

        row = await self._writer.write(record)
        self._publish_row(row, run_by_id)
        job_id: int = row['id']
        return job_id

    async def start_subtask(self, job: JobRef, name: str) -> int:
        """Append an In Progress subtask to the job; returns its id."""
        subtask_id = await self._write(queries.start_subtask, job_id=job.job_id, name=name)
        self._publish_detail(job)
        return subtask_id

    async def finish_subtask(self, job: JobRef, subtask_id: int, status: Status, message: str) -> None:
        """End a subtask Completed or Failed with ``message``."""
        await self._write(queries.finish_subtask, subtask_id=subtask_id, status=status, message=message)
        self._publish_detail(job)

    async def set_progress(
        self,
        job: JobRef,
        done: int,
        total: int,
        *,
        percent: float | None = None,
        eta: float | None = None,
        step: str | None = None,
    ) -> None:
        """Record how far the job got (``percent`` of the whole job, which the database never lets go back)."""
        row = await self._write(queries.set_progress, job_id=job.job_id, done=done, total=total, percent=percent,
                                eta=eta, step=step)  # fmt: skip
        self._publish_row(row, job.owner_id)

    async def append_log(self, job: JobRef, lines: Sequence[LogLine]) -> None:
        """Store log lines of the job; its row (with the last line's number) is published, so pages fetch them."""
        row = await self._write(job_actions.append_log, job_id=job.job_id, lines=lines)
        self._publish_row(row, job.owner_id)

    async def request_cancel(self, viewer: User, job_id: int) -> dict[str, Any] | None:
        """Ask to cancel a job ``viewer`` may see (None if not); raises NotRunning when it has ended."""
        found = await self._write(job_actions.request_cancel, viewer=viewer, job_id=job_id)
        if found is None:
            return None
        row, owner_id = found
        self._publish_row(row, owner_id)
        return row

    async def add_file(self, job: JobRef, new_file: queries.NewFile) -> JobFile:
        """Attach a stored file to the job."""
        job_file = await self._write(queries.add_file, job_id=job.job_id, new_file=new_file)
        self._publish_detail(job)
        return job_file

    async def finish_job(self, job: JobRef | int, *, error: str | None = None) -> dict[str, Any]:
        """End the job Completed, or Failed with ``error`` (its open subtasks too); returns its row.

        Given only an id, the owner is read in the same transaction.
        """

        def finish(connection: sa.Connection) -> tuple[JobRef, dict[str, Any]]:
            ref = _ref(connection, job)
            return ref, queries.finish_job(connection, job_id=ref.job_id, error=error)

        ref, row = await self._writer.write(finish)
        self._publish_row(row, ref.owner_id)
        return row

    async def start_attempt(self, job: JobRef | int, *, attempt: int) -> list[str]:
        """Count a new attempt of a job whose worker died and drop the last one's outputs from the job; returns
        the stored paths to delete (their rows are gone, so they are orphans until deleted)."""

        def start(connection: sa.Connection) -> tuple[JobRef, dict[str, Any], list[str]]:
            ref = _ref(connection, job)
            return ref, *queries.start_attempt(connection, job_id=ref.job_id, attempt=attempt)

        ref, row, old_paths = await self._writer.write(start)
        self._publish_row(row, ref.owner_id)
        self._publish_detail(ref)
        return old_paths

    async def interrupt_attempt(self, job: JobRef, *, message: str) -> None:
        """End the attempt under way, its step failed with ``message``; the job stays In Progress for the next."""
        await self._write(queries.interrupt_attempt, job_id=job.job_id, message=message)
        self._publish_detail(job)

    def fail_interrupted(self) -> None:
        """Single-node start-up (blocking, on the event loop): fail every job a crash left In Progress."""
        for row, owner_id in queries.fail_interrupted(self.engine):
            log.warning('job %s was interrupted by a restart', row['id'])
            self._publish_row(row, owner_id)

    def fail_orphaned(self) -> None:
        """Cluster start-up (blocking, on the event loop): fail In Progress jobs no queue entry will run."""
        self._publish_rows(queue.fail_orphaned(self.engine))

    async def fail_orphaned_async(self) -> None:
        """``fail_orphaned`` in the thread pool, for the checks a cluster node makes now and then."""
        self._publish_rows(await self.read(queue.fail_orphaned))

    async def take_over(self, **stalled: Any) -> bool:
        """Retry or fail a run whose worker died (see ``app.storage.queue.take_over``); False if another node did."""
        taken = await self.read(queue.take_over, **stalled)
        if taken is None:
            return False
        if taken.row is not None:
            self._publish_row(taken.row, taken.owner_id)
        elif taken.owner_id:
            self._publish_detail(JobRef(taken.job_id, taken.owner_id, taken.category))
        return True

    async def relay_rows(self, owners: dict[int, int]) -> None:
        """Publish the rows of jobs another node changed (job id -> owner id), read back in one query."""
        for row in await self.read(queries.job_rows, job_ids=list(owners)):
            self._publish_row(row, owners[row['id']])

    def relay_detail(self, job: JobRef) -> None:
        """Publish that another node changed a job's subtasks or files."""
        self._publish_detail(job)

    def resync(self) -> None:
        """Changes may have been missed (the relay lost its connection): tell every page to read again."""
        self._feed.publish(Resync())

    async def _write(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        return await self._writer.write(lambda connection: function(connection, **kwargs))

    def _publish_row(self, row: dict[str, Any], owner_id: int) -> None:
        self._feed.publish(JobChanged(job_id=row['id'], owner_id=owner_id, category=row['category'], row=row))

    def _publish_rows(self, rows: list[tuple[dict[str, Any], int]]) -> None:
        for row, owner_id in rows:
            self._publish_row(row, owner_id)

    def _publish_detail(self, job: JobRef) -> None:
        self._feed.publish(DetailChanged(job_id=job.job_id, owner_id=job.owner_id, category=job.category))


def _ref(connection: sa.Connection, job: JobRef | int) -> JobRef:
    if isinstance(job, JobRef):
        return job
    found = queries.job_for_run(connection, job_id=job)
    if found is None:
        raise LookupError(f'No job with id {job}')
    return JobRef(job, found['run_by_id'], found['category'])
