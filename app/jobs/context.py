"""What a job handler sees: subtasks, progress, logging and output files. Handlers never write job rows."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from app.config import Settings
from app.storage import jobs as queries
from app.storage.files import FileStore, StoredFile
from app.storage.models import FileRole, JobFile, Status

if TYPE_CHECKING:
    from app.jobs.service import JobService

T = TypeVar('T')
PROGRESS_INTERVAL = 0.25  # seconds between progress writes; the grid cannot show faster changes anyway
log = logging.getLogger('app.jobs')


class SubtaskHandle:
    """Yielded by ``JobContext.subtask``; ``fail`` ends the step Failed without stopping the job."""

    def __init__(self) -> None:
        self.failure: str | None = None
        self.message = ''

    def fail(self, message: str) -> None:
        self.failure = message


class JobContext:
    def __init__(
        self, service: JobService, *, job_id: int, owner_id: int, category: str, params: dict[str, Any]
    ) -> None:
        self._service = service
        self.job_id = job_id
        self.owner_id = owner_id
        self.category = category
        self.params = params
        self.failure: str | None = None
        self._loop = asyncio.get_running_loop()
        self._progress = (0, 0)
        self._progress_pending = False
        self._last_progress = 0.0
        self._progress_task: asyncio.Future[None] | None = None
        self._ended = False  # set by flush_progress: the job's row is about to be final, no later progress writes

    @property
    def engine(self) -> sa.Engine:
        return self._service.engine

    @property
    def files(self) -> FileStore:
        return self._service.files

    @property
    def settings(self) -> Settings:
        return self._service.settings

    @asynccontextmanager
    async def subtask(self, name: str) -> AsyncIterator[SubtaskHandle]:
        """Run a step: In Progress, then Completed, or Failed with the error (which propagates)."""
        subtask_id = await self.write(queries.start_subtask, job_id=self.job_id, name=name)
        self._service.publish_detail(self.job_id, self.owner_id, self.category)
        handle = SubtaskHandle()
        try:
            yield handle
        except BaseException as error:
            message = describe_error(error)
            await self.write(queries.finish_subtask, subtask_id=subtask_id, status=Status.FAILED, message=message)
            self._service.publish_detail(self.job_id, self.owner_id, self.category)
            raise
        status = Status.FAILED if handle.failure is not None else Status.COMPLETED
        message = handle.failure if handle.failure is not None else handle.message
        await self.write(queries.finish_subtask, subtask_id=subtask_id, status=status, message=message)
        self._service.publish_detail(self.job_id, self.owner_id, self.category)

    def progress(self, done: int, total: int) -> None:
        """Report progress; safe to call from any thread, written at most every 250 ms."""
        self._progress = (done, total)
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
        row = await self.write(queries.set_progress, job_id=self.job_id, done=done, total=total)
        self._service.publish_row(row, self.owner_id)

    async def flush_progress(self) -> None:
        """Write the latest progress now (the runtime calls this before a job ends); later reports are dropped."""
        self._ended = True
        if self._progress_task is not None:
            await asyncio.shield(self._progress_task)
        if self._progress_pending:
            await self._write_progress()

    def log(self, message: str) -> None:
        log.info('job %s: %s', self.job_id, message)

    def fail(self, message: str) -> None:
        """End the job Failed with ``message`` once the handler returns (partial results stay)."""
        self.failure = message

    async def input_files(self) -> list[JobFile]:
        return await self.db(queries.job_files, job_id=self.job_id, role=FileRole.INPUT)

    def path_of(self, job_file: JobFile) -> Path:
        return self.files.path(job_file.relative_path)

    def temp_path(self) -> Path:
        """A temp file path for building a large output; hand it to ``add_output``."""
        return self.files.temp_path()

    async def add_output(self, filename: str, source: bytes | Path) -> JobFile:
        return await self._add_file(FileRole.OUTPUT, filename, source)

    async def add_error_report(self, filename: str, source: bytes | Path) -> JobFile:
        return await self._add_file(FileRole.ERROR_REPORT, filename, source)

    async def _add_file(self, role: FileRole, filename: str, source: bytes | Path) -> JobFile:
        stored: StoredFile = await self.run_blocking(
            self.files.save_bytes if isinstance(source, bytes) else self.files.adopt, source
        )
        new_file = queries.NewFile(role=role, filename=filename, stored=stored)
        job_file = await self.write(queries.add_file, job_id=self.job_id, new_file=new_file)
        self._service.publish_detail(self.job_id, self.owner_id, self.category)
        return job_file

    async def db(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a storage query off the event loop."""
        return await self._service.db(function, **kwargs)

    async def write(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a storage write in the runtime's next group commit."""
        return await self._service.write(function, **kwargs)

    async def run_blocking(self, function: Callable[..., T], /, *args: Any) -> T:
        """Run blocking or CPU-heavy work in a worker thread, keeping the UI responsive."""
        return await asyncio.wrap_future(self.start_blocking(function, *args))

    def start_blocking(self, function: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        """Like ``run_blocking``, but hands back the thread's future (to wait for it after a cancellation)."""
        return self._service.workers.submit(function, *args)


def describe_error(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError):
        return queries.INTERRUPTED
    return str(error) or type(error).__name__
