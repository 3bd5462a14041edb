"""JobContext on its own: a real store and file store, no service, executor or handler registry."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.jobs.context import PROGRESS_INTERVAL, JobContext
from app.jobs.events import DetailChanged, JobChanged
from app.jobs.store import JobRef
from app.storage.files import FileStore
from tests.conftest import make_settings
from tests.jobs.conftest import Runtime


def context(runtime: Runtime, job: JobRef, tmp_path: Path, engine: sa.Engine) -> JobContext:
    files = FileStore(tmp_path / 'files')
    files.prepare()
    settings = make_settings(tmp_path, str(engine.url))
    return JobContext(job, params={'size': 3}, store=runtime.store, files=files, settings=settings,
                      threads=runtime.threads)  # fmt: skip


def subtasks(engine: sa.Engine, job: JobRef) -> list[tuple[str, str, str]]:
    query = sa.text('SELECT name, status, message FROM subtask WHERE job_id = :id ORDER BY position')
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query, {'id': job.job_id})]  # type: ignore[misc]


async def test_subtasks_show_in_progress_then_how_they_ended_each_change_published_after_commit(
    runtime: Runtime, tmp_path: Path, engine: sa.Engine
) -> None:
    job = await runtime.record()
    ctx = context(runtime, job, tmp_path, engine)
    async with ctx.subtask('Read') as step:
        assert subtasks(engine, job) == [('Read', 'in_progress', '')]
        step.message = '3 rows'
    async with ctx.subtask('Check') as step:
        step.fail('1 of 3 rows rejected')  # the step fails, the job goes on
    with pytest.raises(RuntimeError, match='disk full'):
        async with ctx.subtask('Write'):
            raise RuntimeError('disk full')
    assert subtasks(engine, job) == [
        ('Read', 'completed', '3 rows'),
        ('Check', 'failed', '1 of 3 rows rejected'),
        ('Write', 'failed', 'disk full'),
    ]
    details = [seen for change, seen in zip(runtime.log.changes, runtime.log.seen, strict=True)
               if isinstance(change, DetailChanged)]  # fmt: skip
    assert details == [('in_progress', 1), ('in_progress', 1), ('in_progress', 2), ('in_progress', 2),
                       ('in_progress', 3), ('in_progress', 3)]  # fmt: skip
    assert all(change.owner_id == runtime.owner_id for change in runtime.log.changes)


async def test_progress_from_a_worker_thread_lands_in_the_row_and_on_the_feed(
    runtime: Runtime, tmp_path: Path, engine: sa.Engine
) -> None:
    job = await runtime.record()
    ctx = context(runtime, job, tmp_path, engine)
    await ctx.run_blocking(lambda: [ctx.progress(done, 10) for done in range(1, 8)])
    await ctx.flush_progress()
    rows = [change.row for change in runtime.log.changes if isinstance(change, JobChanged)]
    assert (rows[-1]['progress_done'], rows[-1]['progress_total']) == (7, 10)
    assert len(rows) <= 3  # the launch, then at most one write per interval, not one per report
    ctx.progress(9, 10)  # the job has ended: a report now is dropped
    await asyncio.sleep(2 * PROGRESS_INTERVAL)
    assert [change.row['progress_done'] for change in runtime.log.changes[-1:]] == [7]  # type: ignore[union-attr]


async def test_outputs_are_stored_under_generated_names_and_listed_on_the_job(
    runtime: Runtime, tmp_path: Path, engine: sa.Engine
) -> None:
    job = await runtime.record()
    ctx = context(runtime, job, tmp_path, engine)
    built = ctx.temp_path()
    built.write_text('line,error\n')
    output = await ctx.add_output('result.csv', b'a,b\n')
    report = await ctx.add_error_report('people-errors.csv', built)
    assert ctx.path_of(output).read_bytes() == b'a,b\n'
    assert ctx.path_of(report).read_text() == 'line,error\n' and not built.exists()  # moved in, not copied
    assert output.relative_path != 'result.csv'
    assert [(f.role, f.filename) for f in (output, report)] == [('output', 'result.csv'),
                                                                 ('error_report', 'people-errors.csv')]  # fmt: skip
    assert await ctx.input_files() == []
    assert isinstance(runtime.log.changes[-1], DetailChanged)


async def test_blocking_work_runs_in_the_shared_pool_and_log_lines_name_the_job(
    runtime: Runtime, tmp_path: Path, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    job = await runtime.record()
    ctx = context(runtime, job, tmp_path, engine)
    assert (await ctx.run_blocking(lambda: threading.current_thread().name)).startswith('jobs-thread')
    assert await ctx.db(lambda bound: bound is engine)
    with caplog.at_level(logging.INFO, logger='app.jobs'):
        ctx.log('12 contacts written')
    assert [record.getMessage() for record in caplog.records] == [f'job {job.job_id}: 12 contacts written']
    assert ctx.params == {'size': 3} and ctx.category == 'import'
