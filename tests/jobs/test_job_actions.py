"""Cancelling jobs at each phase, rerunning them, one progress scale and the job log, on SQLite and PostgreSQL.

A cancel is requested the way the API does it (the job row's flag, in the database); the runner of the job sees it
by polling, and the handler stops at its next check. The hooks below ask for the cancel at a chosen point and wait
until the runner has seen it, so each phase is hit for sure.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.jobs import contacts_csv, imports, integrity
from app.jobs.context import JobContext
from app.jobs.events import Change, JobChanged
from app.services import Services
from app.storage import job_actions
from app.storage import jobs as queries
from app.storage.contacts import count_contacts
from app.storage.jobs import NewFile
from app.storage.models import FileRole
from tests.jobs.test_imports import admin_user, run_import

BAD_LINES = (12, 250)  # data rows with an invalid e-mail (their file line numbers)


def contacts_csv_bytes(rows: int, *, bad: tuple[int, ...] = BAD_LINES, prefix: str = 'p') -> bytes:
    lines = ['name,email,phone,company']
    for line in range(2, rows + 2):
        email = 'not-an-address' if line in bad else f'{prefix}{line}@example.org'
        lines.append(f'Person {line},{email},+1 555 {line:07},Acme')
    return ('\n'.join(lines) + '\n').encode()


@pytest.fixture
def cancel_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``cancel_at['step'] = name`` (and ``['after']`` reports): ask to cancel there, and wait until it is seen."""
    plan: dict[str, Any] = {'step': None, 'after': 1, 'calls': 0, 'engine': None}
    original = JobContext.progress

    def progress(self: JobContext, done: int, total: int, step: str | None = None) -> None:
        if plan['step'] == (step or self.step) and not self.cancel_requested:
            plan['calls'] += 1
            if plan['calls'] >= plan['after']:
                admin = next(u for u in _users(self) if u.is_admin and u.username == 'admin')
                job_actions.request_cancel(self.engine, viewer=admin, job_id=self.job_id)
                deadline = time.monotonic() + 5
                while not self.cancel_requested and time.monotonic() < deadline:  # a worker thread: may wait
                    time.sleep(0.02)
        original(self, done, total, step)

    monkeypatch.setattr(JobContext, 'progress', progress)
    yield plan


def _users(ctx: JobContext) -> list[Any]:
    from app.storage.users import list_users

    return list_users(ctx.engine)


def subtasks(run_detail: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(s['name'], s['status'], s['message']) for s in run_detail['subtasks']]


@pytest.mark.parametrize('step', ['Read file', 'Validate rows', 'Write contacts'])
async def test_cancelling_an_import_in_each_phase_keeps_what_it_got_through(
    services: Services, cancel_at: dict[str, Any], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    monkeypatch.setattr(contacts_csv, 'VALID_BATCH', 50)
    monkeypatch.setattr(contacts_csv, 'BLOCK', 1000)  # about 20 lines a block: progress after each
    cancel_at['step'], cancel_at['after'] = step, 3 if step != 'Read file' else 1
    run = await run_import(services, contacts_csv_bytes(300), 'people.csv')
    assert (run.detail['status'], run.detail['error']) == ('failed', 'Cancelled by admin')
    assert run.detail['cancelled_by'] == 'admin'
    steps = subtasks(run.detail)
    names = [name for name, *_ in steps]
    # Validate rows and Write contacts run at the same time: whichever of them was under way is Cancelled too.
    assert names == ['Read file', 'Validate rows', 'Write contacts'][: len(names)]  # Write reports never started
    assert steps[names.index(step)][1:] == ('failed', 'Cancelled')
    assert all(status == 'completed' or message == 'Cancelled' for _, status, message in steps)
    written = count_contacts(services.engine)
    if step == 'Read file':
        assert names == ['Read file'] and run.files == {} and written == 0
        return
    assert written < 298 and written % 50 == 0  # whole batches, committed
    result = run.rows('people-result.csv')[1:] if written else []
    assert len(result) == written  # the result lists exactly the rows written
    problems = [row[0] for row in run.rows('people-errors.csv')[1:]]  # the rows validated before the cancel
    if step == 'Validate rows':
        assert problems == ['12']
    else:
        assert written > 0 and problems in (['12'], ['12', '250'])


async def test_cancelling_a_system_task_keeps_its_partial_report(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_user(services)
    assert admin.id is not None
    owner = queries.create_job(services.engine, job_type='test_steps', name='Test Steps', category='general',
                               description='files', run_by_id=admin.id, run_at='/x', params={})  # fmt: skip
    for number in range(30):  # recorded files whose stored file is gone: each is a problem
        stored = services.files.save_bytes(f'file {number}'.encode())
        queries.add_file(services.engine, job_id=owner['id'], new_file=NewFile(FileRole.OUTPUT, f'f{number}', stored))
        services.files.delete(stored.relative_path)
    monkeypatch.setattr(integrity, 'BATCH', 2)
    original = integrity.check_files

    def slow_check(*args: Any) -> Any:
        time.sleep(0.15)
        return original(*args)

    monkeypatch.setattr(integrity, 'check_files', slow_check)
    job_id = await services.jobs.launch('storage_integrity_check', description='check', run_by_id=admin.id,
                                        run_at='/settings/maintenance/tasks', exclusive=True)  # fmt: skip
    for _ in range(200):
        detail = queries.get_job(services.engine, viewer=admin, job_id=job_id)
        assert detail is not None
        if any(s['name'] == 'Check recorded files' for s in detail['subtasks']) and detail['progress']:
            break
        await asyncio.sleep(0.02)
    assert await services.actions.cancel(admin, job_id) is not None
    started = time.monotonic()
    await services.jobs.wait_idle()
    assert time.monotonic() - started < 5
    detail = queries.get_job(services.engine, viewer=admin, job_id=job_id)
    assert detail is not None
    assert (detail['status'], detail['error']) == ('failed', f'Cancelled by {admin.username}')
    assert subtasks(detail) == [
        ('List stored files', 'completed', subtasks(detail)[0][2]),
        ('Check recorded files', 'failed', 'Cancelled'),
    ]
    [report] = [f for f in detail['files'] if f['role'] == 'output']
    job_file = queries.get_file(services.engine, viewer=admin, file_id=report['id'])
    assert job_file is not None
    rows = list(csv.reader(io.StringIO(services.files.path(job_file.relative_path).read_text())))
    assert rows[0] == list(integrity.HEADER)
    assert 0 < len(rows) - 1 < 30 and all(row[0] == 'missing' for row in rows[1:])  # the part it checked
    lines, _dropped = job_actions.read_log(services.engine, viewer=admin, job_id=job_id) or ([], 0)
    assert any(line.message.startswith('missing: ') for line in lines)  # each problem is logged
    assert lines[-1].message == f'Cancelled by {admin.username}'


async def test_rerun_of_an_import_gives_the_same_error_report(services: Services) -> None:
    admin = admin_user(services)
    first = await run_import(services, contacts_csv_bytes(40, bad=(5, 30)), 'mixed.csv')
    assert first.detail['status'] == 'failed'
    new_id = await services.actions.rerun(admin, first.detail['id'])
    assert new_id is not None
    await services.jobs.wait_idle()
    again = queries.get_job(services.engine, viewer=admin, job_id=new_id)
    assert again is not None
    assert again['rerun_of'] == first.detail['id'] and again['error'] == first.detail['error']
    reports = {}
    for detail in (first.detail, again):
        [report] = [f for f in detail['files'] if f['role'] == 'error_report']
        job_file = queries.get_file(services.engine, viewer=admin, file_id=report['id'])
        assert job_file is not None and report['filename'] == 'mixed-errors.csv'
        reports[detail['id']] = services.files.path(job_file.relative_path).read_bytes()
    assert reports[first.detail['id']] == reports[new_id]
    assert b'Not a valid e-mail address' in reports[new_id]


async def test_progress_only_goes_forward_over_a_whole_200k_row_import(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contacts_csv, 'VALID_BATCH', 5000)  # 40 batches in the write step
    write_batch = imports.write_batch

    def steady_write(engine: Any, batch: Any) -> Any:  # two seconds at least, however fast the machine
        time.sleep(0.05)
        return write_batch(engine, batch)

    monkeypatch.setattr(imports, 'write_batch', steady_write)
    seen: list[tuple[float, float]] = []  # (time, percent) of every published row of the job
    etas: list[float] = []
    steps: set[str | None] = set()

    def record(change: Change) -> None:
        if isinstance(change, JobChanged) and change.row['progress'] is not None:
            seen.append((time.monotonic(), change.row['progress']['percent']))
            steps.add(change.row['progress_step'])
            if change.row['progress']['eta_seconds'] is not None:
                etas.append(change.row['progress']['eta_seconds'])

    services.feed.subscribe(record)
    rows = 200_000
    started = time.monotonic()
    run = await run_import(services, contacts_csv_bytes(rows, bad=()), 'big.csv')
    took = time.monotonic() - started
    assert run.detail['status'] == 'completed'
    percents = [percent for _, percent in seen]
    assert percents == sorted(percents), 'the percent went back'
    assert percents[-1] == 100.0 and run.detail['progress'] == {'percent': 100.0, 'eta_seconds': None}
    assert len(set(percents)) >= 5 and percents[0] < 20  # it moved through the steps, not in one jump
    assert etas and all(eta >= 0 for eta in etas)  # an ETA from the observed rate while it ran
    assert 'Validate rows, Write contacts' in steps  # which steps are under way (at once), for people
    assert run.detail['progress_step'] is None  # once ended
    assert len(seen) <= 8 * took + 20  # progress writes stay throttled (4 a second, plus step ends and logs)


async def test_cancelling_a_backup_while_it_compresses_stores_nothing_half_made(
    sqlite_services: Services, cancel_at: dict[str, Any]
) -> None:
    cancel_at['step'] = 'Compress snapshot'
    admin = admin_user(sqlite_services)
    assert admin.id is not None
    job_id = await sqlite_services.jobs.launch('database_backup', description='backup', run_by_id=admin.id,
                                               run_at='/settings/maintenance/tasks', exclusive=True)  # fmt: skip
    await sqlite_services.jobs.wait_idle()
    detail = queries.get_job(sqlite_services.engine, viewer=admin, job_id=job_id)
    assert detail is not None
    assert (detail['status'], detail['error']) == ('failed', 'Cancelled by admin')
    assert [(s['name'], s['status']) for s in detail['subtasks']] == [
        ('Snapshot database', 'completed'),
        ('Compress snapshot', 'failed'),
    ]  # "Verify backup" and "Store backup" never started
    assert detail['files'] == []  # a backup that was not verified is not kept
    assert list(sqlite_services.files.root.rglob('*.gz')) == []
