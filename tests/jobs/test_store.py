"""The job store publishes every write itself, once it is committed, with the owner pages filter on."""

from __future__ import annotations

import pytest

from app.jobs.events import DetailChanged, JobChanged
from app.jobs.store import AlreadyRunning
from app.storage import jobs as queries
from app.storage.files import StoredFile
from app.storage.models import Status
from tests.jobs.conftest import KIND, Runtime


async def test_a_launch_is_published_once_committed_with_its_owner(runtime: Runtime) -> None:
    job = await runtime.record()
    [change] = runtime.log.changes
    assert isinstance(change, JobChanged)
    assert (change.job_id, change.owner_id, change.category) == (job.job_id, runtime.owner_id, 'import')
    assert change.row['status'] == 'in_progress' and change.row['description'] == 'a unit job'
    assert runtime.log.seen == [('in_progress', 0)]  # a fresh connection already saw the row


async def test_finishing_by_bare_id_reads_the_owner_and_fails_open_subtasks(runtime: Runtime) -> None:
    job = await runtime.record()
    await runtime.store.start_subtask(job, 'Halfway')
    row = await runtime.store.finish_job(job.job_id, error='failed on purpose')
    assert (row['status'], row['error']) == ('failed', 'failed on purpose')
    last = runtime.log.changes[-1]
    assert isinstance(last, JobChanged) and (last.owner_id, last.row['status']) == (runtime.owner_id, 'failed')
    assert runtime.log.seen[-1] == ('failed', 1)
    with pytest.raises(LookupError):
        await runtime.store.finish_job(999_999)


async def test_a_new_attempt_is_published_as_row_and_detail_and_hands_back_old_outputs(runtime: Runtime) -> None:
    job = await runtime.record()
    stored = queries.NewFile(role='output', filename='old.csv', stored=StoredFile('ab/abc', 3, 'x'))
    await runtime.store.add_file(job, stored)
    before = len(runtime.log.changes)
    assert await runtime.store.start_attempt(job.job_id, attempt=2) == ['ab/abc']
    row_change, detail_change = runtime.log.changes[before:]
    assert isinstance(row_change, JobChanged) and row_change.row['attempts'] == 2
    assert isinstance(detail_change, DetailChanged) and detail_change.owner_id == runtime.owner_id


async def test_an_exclusive_launch_is_refused_while_one_runs_and_nothing_is_published(runtime: Runtime) -> None:
    await runtime.record()
    with pytest.raises(AlreadyRunning, match='Unit Job is already running'):
        await runtime.store.create_job(KIND, description='second', run_by_id=runtime.owner_id, run_at='/', params={},
                                       input_files=(), exclusive=True, enqueue=lambda _c, _j: None)  # fmt: skip
    assert len(runtime.log.changes) == 1
    assert await runtime.store.running_types(['unit', 'other']) == {'unit'}


async def test_jobs_a_crash_left_running_are_failed_at_start_and_published(runtime: Runtime) -> None:
    job = await runtime.record()
    runtime.store.fail_interrupted()
    last = runtime.log.changes[-1]
    assert isinstance(last, JobChanged) and last.job_id == job.job_id
    assert (last.row['status'], last.row['error']) == (Status.FAILED, queries.INTERRUPTED)
