"""What a person can do to a job: cancel it, or run it again. Pages and the API call these; both check visibility."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from app.jobs.imports import REFUSED
from app.jobs.registry import Registry
from app.jobs.store import JobStore
from app.storage import job_actions
from app.storage.files import FileStore, UnsafePath
from app.storage.jobs import NewFile
from app.storage.models import FileRole, JobFile, Status, User
from app.threads import Threads

NotRunning = job_actions.NotRunning


class Launch(Protocol):
    """Records and starts a job (``JobService.launch``, handed in by the wiring)."""

    def __call__(
        self,
        job_type: str,
        *,
        description: str,
        run_by_id: int,
        run_at: str,
        params: dict[str, Any] | None = None,
        input_files: Sequence[NewFile] = (),
        exclusive: bool = False,
        rerun_of: int | None = None,
    ) -> Awaitable[int]: ...


class StillRunning(RuntimeError):
    """A job is run again only once it has ended."""


class InputMissing(RuntimeError):
    """A stored input file of the job to run again is gone from the storage directory."""


class JobActions:
    def __init__(
        self, *, store: JobStore, launch: Launch, files: FileStore, threads: Threads, registry: Registry
    ) -> None:
        self._store = store
        self._launch = launch
        self._files = files
        self._threads = threads
        self._registry = registry

    async def cancel(self, viewer: User, job_id: int) -> dict[str, Any] | None:
        """Ask to cancel a running job; its worker (on any node) stops it within a few seconds.

        Returns the job's row, None if ``viewer`` may not see the job; raises NotRunning when it has ended.
        """
        return await self._store.request_cancel(viewer, job_id)

    def may_rerun(self, viewer: User, job_type: str) -> bool:
        """Owners and admins may run a job again; system tasks only admins."""
        try:
            system = self._registry.get(job_type).system
        except KeyError:
            return False
        return viewer.is_admin or not system

    async def rerun(self, viewer: User, job_id: int) -> int | None:
        """Start a new job of the same type with copies of the same input files and the same parameters, run by
        ``viewer``; returns its id, or None if ``viewer`` may not see (or not rerun) the job.

        Raises StillRunning while the job runs, and AlreadyRunning when a system task of its type is running.
        """
        source = await self._store.read(job_actions.rerun_source, viewer=viewer, job_id=job_id)
        if source is None or not self.may_rerun(viewer, source.job_type):
            return None
        if source.status == Status.IN_PROGRESS:
            raise StillRunning(f'Job {job_id} is still running')
        if source.params.get(REFUSED):  # an import whose file was refused: nothing was stored to import again
            raise InputMissing(f'Job {job_id} has no file to import again (it was refused): upload the file again')
        kind = self._registry.get(source.job_type)
        inputs: list[NewFile] = []
        try:
            for job_file in source.inputs:
                inputs.append(await self._threads.run(self._copy, job_file))
        except (OSError, UnsafePath) as error:
            for new_file in inputs:
                await self._threads.run(self._files.delete, new_file.stored.relative_path)
            raise InputMissing(f'The input files of job {job_id} are no longer stored') from error
        try:
            return await self._launch(kind.key, description=source.description, run_by_id=viewer.id or 0,
                                           run_at=source.run_at, params=source.params, input_files=inputs,
                                           exclusive=kind.system, rerun_of=source.job_id)  # fmt: skip
        except BaseException:
            for new_file in inputs:
                await self._threads.run(self._files.delete, new_file.stored.relative_path)
            raise

    def _copy(self, job_file: JobFile) -> NewFile:
        """A copy of a stored input: each job owns its files, so purging one never breaks the other."""
        temp = self._files.temp_path()
        shutil.copyfile(self._files.path(job_file.relative_path), temp)
        return NewFile(role=FileRole.INPUT, filename=job_file.filename, stored=self._files.adopt(temp))
