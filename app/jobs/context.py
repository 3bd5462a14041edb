"""What a job handler sees: subtasks, progress, logging and output files. Handlers never write job rows.

A context writes through the job store (which publishes each change once committed) and runs blocking work
in the app's thread pool (``app.threads``); it knows nothing of the service or executor that runs the job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from app.config import Settings
from app.jobs.progress import ProgressScale
from app.jobs.store import JobRef, JobStore
from app.storage import jobs as queries
from app.storage.files import FileStore, StoredFile
from app.storage.job_actions import LogLine
from app.storage.models import FileRole, JobFile, Status, utcnow
from app.threads import Threads

T = TypeVar('T')
PROGRESS_INTERVAL = 0.25  # seconds between progress writes; the grid cannot show faster changes anyway
LOG_INTERVAL = 0.3  # seconds between log writes: lines show within a second, bursts cost one insert
LEVELS = ('debug', 'info', 'warning', 'error')
log = logging.getLogger('app.jobs')


class Cancelled(Exception):
    """Raised where a job checks for cancellation after someone asked to cancel it; the runner fails the job."""

    def __init__(self, by: str) -> None:
        super().__init__('Cancelled')
        self.by = by


class SubtaskHandle:
    """Yielded by ``JobContext.subtask``; ``fail`` ends the step Failed without stopping the job."""

    def __init__(self) -> None:
        self.failure: str | None = None
        self.message = ''

    def fail(self, message: str) -> None:
        """End this step Failed with ``message``; the job goes on."""
        self.failure = message


class JobContext:
    def __init__(
        self,
        job: JobRef,
        *,
        params: dict[str, Any],
        store: JobStore,
        files: FileStore,
        settings: Settings,
        threads: Threads,
        log_seq: int = 0,
        cancelled_by: str | None = None,
    ) -> None:
        self.job = job
        self.job_id = job.job_id
        self.owner_id = job.owner_id
        self.category = job.category
        self.params = params
        self.files = files
        self.settings = settings
        self._store = store
        self._threads = threads
        self.failure: str | None = None
        self._loop = asyncio.get_running_loop()
        self._progress = (0, 0)
        self._progress_pending = False
        self._last_progress = 0.0
        self._progress_task: asyncio.Future[None] | None = None
        self._ended = False  # set by flush_progress: the job's row is about to be final, no later progress writes
        self.scale = ProgressScale()
        self.step = ''  # the subtask under way (or the last one); of several at once, the one that started last
        self._running: list[str] = []  # the subtasks under way, in the order they started
        self._cancel = threading.Event()
        self.cancelled_by: str | None = None
        if cancelled_by is not None:
            self.request_cancel(cancelled_by)
        self._log_lock = threading.Lock()
        self._log_seq = log_seq
        self._log_lines: list[LogLine] = []
        self._log_task: asyncio.Future[None] | None = None

    @property
    def engine(self) -> sa.Engine:
        """The database, for handlers that write their own tables from a worker thread (imports)."""
        return self._store.engine

    @asynccontextmanager
    async def subtask(self, name: str) -> AsyncIterator[SubtaskHandle]:
        """Run a step: In Progress, then Completed, or Failed with the error (which propagates).

        A cancelled job starts no more steps: Cancelled is raised instead.
        """
        self.check_cancelled()
        subtask_id = await self._store.start_subtask(self.job, name)
        self.step = name
        self._running.append(name)
        self.scale.enter(name)
        self._note_progress()  # the step's name and start reach the pages with the next write
        handle = SubtaskHandle()
        try:
            yield handle
        except BaseException as error:
            self._running.remove(name)
            await self._store.finish_subtask(self.job, subtask_id, Status.FAILED, describe_error(error))
            raise
        self._running.remove(name)
        if self.cancel_requested:  # the step under way when the cancel came is the one it stopped
            await self._store.finish_subtask(self.job, subtask_id, Status.FAILED, 'Cancelled')
            self.check_cancelled()
        status = Status.FAILED if handle.failure is not None else Status.COMPLETED
        message = handle.failure if handle.failure is not None else handle.message
        await self._store.finish_subtask(self.job, subtask_id, status, message)
        self.scale.leave(name)
        self._note_progress()

    @property
    def steps_shown(self) -> str:
        """What people see as the step under way: the subtasks running, or the last one."""
        return ', '.join(self._running) or self.step

    def plan(self, weights: Mapping[str, float]) -> None:
        """Declare the job's steps (subtask names) and their weights: progress then fills one scale for the job."""
        self.scale.plan(weights)

    def request_cancel(self, by: str) -> None:
        """Someone asked to cancel the job (the runner polls the job rows); the next check raises Cancelled."""
        if self.cancelled_by is None:
            self.cancelled_by = by
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise Cancelled if someone asked to cancel the job; long loops call it between batches (any thread)."""
        if self._cancel.is_set():
            raise Cancelled(self.cancelled_by or 'unknown')

    def progress(self, done: int, total: int, step: str | None = None) -> None:
        """Report progress of ``step`` (by default the step under way, or the job without a plan); safe from any
        thread, written at most every 250 ms. The job's percent never goes back. Of steps running at the same time,
        the counts shown are those of the one that started last."""
        if step is None or step == self.step:
            self._progress = (done, total)
        self.scale.report(done, total, step)
        self._note_progress()

    def _note_progress(self) -> None:
        if not self.scale.reported:
            return
        if not self._progress_pending:
            self._progress_pending = True
            self._loop.call_soon_threadsafe(self._schedule_progress)

    def _schedule_progress(self) -> None:
        delay = max(0.0, self._last_progress + PROGRESS_INTERVAL - self._loop.time())
        self._loop.call_later(delay, self._start_progress_write)

    def _start_progress_write(self) -> None:
        if self._ended:  # flush_progress wrote the latest progress already
            return
        self._progress_task = asyncio.ensure_future(self._write_progress())

    async def _write_progress(self) -> None:
        self._progress_pending = False
        self._last_progress = self._loop.time()
        done, total = self._progress
        await self._store.set_progress(
            self.job, done, total, percent=self.scale.percent, eta=self.scale.eta(), step=self.steps_shown or None
        )

    async def flush_progress(self) -> None:
        """Write the latest progress and log lines now (the runtime calls this before a job ends); later progress
        reports are dropped."""
        self._ended = True
        if self._progress_task is not None:
            await asyncio.shield(self._progress_task)
        if self._progress_pending:
            await self._write_progress()
        if self._log_task is not None:
            await asyncio.shield(self._log_task)
        await self._write_log()

    def log(self, message: str, level: str = 'info') -> None:
        """Keep a timestamped line in the job's log (shown live on its detail page); safe from any thread."""
        level = level.lower() if level.lower() in LEVELS else 'info'
        log.log(logging.getLevelNamesMapping()[level.upper()], 'job %s: %s', self.job_id, message)
        with self._log_lock:
            self._log_seq += 1
            self._log_lines.append(LogLine(self._log_seq, utcnow(), level, message))
            first = len(self._log_lines) == 1
        if first:
            self._loop.call_soon_threadsafe(self._schedule_log)

    def _schedule_log(self) -> None:
        self._loop.call_later(LOG_INTERVAL, self._start_log_write)

    def _start_log_write(self) -> None:
        self._log_task = asyncio.ensure_future(self._write_log())

    async def _write_log(self) -> None:
        with self._log_lock:
            lines, self._log_lines = self._log_lines, []
        if lines:
            await self._store.append_log(self.job, lines)

    def fail(self, message: str) -> None:
        """End the job Failed with ``message`` once the handler returns (partial results stay)."""
        self.failure = message

    async def input_files(self) -> list[JobFile]:
        """The files the job was launched with."""
        return await self._store.job_files(self.job_id, FileRole.INPUT)

    def path_of(self, job_file: JobFile) -> Path:
        """Where a job file is stored."""
        return self.files.path(job_file.relative_path)

    def temp_path(self) -> Path:
        """A temp file path for building a large output; hand it to ``add_output``."""
        return self.files.temp_path()

    async def add_output(self, filename: str, source: bytes | Path) -> JobFile:
        """Store ``source`` (bytes, or a finished temp file, which is moved in) as an output file."""
        return await self._add_file(FileRole.OUTPUT, filename, source)

    async def add_error_report(self, filename: str, source: bytes | Path) -> JobFile:
        """Store ``source`` as an error report, like ``add_output``."""
        return await self._add_file(FileRole.ERROR_REPORT, filename, source)

    async def _add_file(self, role: FileRole, filename: str, source: bytes | Path) -> JobFile:
        stored: StoredFile = await self.run_blocking(
            self.files.save_bytes if isinstance(source, bytes) else self.files.adopt, source
        )
        return await self._store.add_file(self.job, queries.NewFile(role=role, filename=filename, stored=stored))

    async def db(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a storage query (a function of ``engine``) off the event loop."""
        return await self._store.read(function, **kwargs)

    async def run_blocking(self, function: Callable[..., T], /, *args: Any) -> T:
        """Run blocking or CPU-heavy work in a worker thread, keeping the UI responsive."""
        return await asyncio.wrap_future(self.start_blocking(function, *args))

    def start_blocking(self, function: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        """Like ``run_blocking``, but hands back the thread's future (to wait for it after a cancellation)."""
        return self._threads.submit(function, *args)


def describe_error(error: BaseException) -> str:
    """How an error reads in a job's or subtask's message."""
    if isinstance(error, asyncio.CancelledError):
        return queries.INTERRUPTED
    if isinstance(error, Cancelled):
        return 'Cancelled'
    return str(error) or type(error).__name__
