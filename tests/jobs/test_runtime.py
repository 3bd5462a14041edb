"""The job runtime: subtasks, failures, outputs, change feed order, crash recovery, responsiveness."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import sqlalchemy as sa

from app.jobs.context import PROGRESS_INTERVAL
from app.jobs.events import Change, DetailChanged, JobChanged
from app.services import Services, build_services
from app.storage import jobs as queries
from app.storage.models import Job, Status, Subtask, User
from app.storage.users import create_user
from tests.conftest import make_settings


def admin(services: Services) -> User:
    return create_user(services.engine, username='boss', password='pw', is_admin=True)


async def started(services: Services, viewer: User, job_id: int) -> None:
    """Wait until a worker has started the job (its first subtask shows)."""
    for _ in range(500):
        detail = queries.get_job(services.engine, viewer=viewer, job_id=job_id)
        if detail is not None and detail['subtasks']:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f'job {job_id} did not start')


async def run_job(services: Services, job_type: str = 'test_steps', **params: object) -> int:
    owner = create_user(services.engine, username=f'u{time.monotonic_ns()}', password='pw')
    assert owner.id is not None
    job_id = await services.jobs.launch(
        job_type, description='a test job', run_by_id=owner.id, run_at='/somewhere', params=dict(params)
    )
    await services.jobs.wait_idle()
    return job_id


async def test_successful_job_completes_with_subtasks_and_output(services: Services) -> None:
    job_id = await run_job(services)
    detail = queries.get_job(services.engine, viewer=admin(services), job_id=job_id)
    assert detail is not None
    assert detail['status'] == 'completed'
    assert detail['error'] is None and detail['failed_at'] is None
    assert detail['ended_at'] >= detail['started_at']
    assert [(s['name'], s['status']) for s in detail['subtasks']] == [
        ('Step 1', 'completed'),
        ('Step 2', 'completed'),
        ('Step 3', 'completed'),
    ]
    assert [(f['role'], f['filename']) for f in detail['files']] == [('output', 'steps.txt')]
    assert detail['run_at'] == '/somewhere' and detail['job'] == 'Test Steps'


async def test_failure_in_second_step_stops_the_job_there(services: Services) -> None:
    job_id = await run_job(services, fail_at=2)
    detail = queries.get_job(services.engine, viewer=admin(services), job_id=job_id)
    assert detail is not None
    assert detail['status'] == 'failed'
    assert detail['error'] == 'Step 2 broke'
    assert detail['failed_at'] is not None and detail['ended_at'] == detail['failed_at']
    assert [(s['name'], s['status'], s['message']) for s in detail['subtasks']] == [
        ('Step 1', 'completed', ''),
        ('Step 2', 'failed', 'Step 2 broke'),
    ]
    assert detail['files'] == []


async def test_changes_are_published_in_order_and_only_after_commit(services: Services) -> None:
    seen: list[tuple[str, str, bool]] = []

    def record(change: Change) -> None:
        # Every event must already be visible to a fresh connection: committed before it was published.
        with services.engine.connect() as connection:
            status = connection.execute(sa.select(Job.status).where(Job.id == change.job_id)).scalar()
            subtasks = connection.execute(
                sa.select(sa.func.count()).select_from(Subtask).where(Subtask.job_id == change.job_id)
            ).scalar()
        if isinstance(change, JobChanged):
            seen.append(('job', change.row['status'], status == change.row['status']))
        else:
            assert isinstance(change, DetailChanged)
            seen.append(('detail', str(subtasks), True))

    services.feed.subscribe(record)
    await run_job(services, steps=2)
    services.feed.unsubscribe(record)
    kinds = [(kind, value) for kind, value, _ in seen if kind == 'job']
    assert kinds[0] == ('job', 'in_progress')
    assert kinds[-1] == ('job', 'completed')
    assert all(committed for _, _, committed in seen)
    details = [value for kind, value, _ in seen if kind == 'detail']
    assert details[:4] == ['1', '1', '2', '2']  # step 1 started, finished; step 2 started, finished


async def test_jobs_left_in_progress_by_a_crash_fail_at_start(services: Services) -> None:
    owner = admin(services)
    assert owner.id is not None
    row = queries.create_job(
        services.engine,
        job_type='test_steps',
        name='Test Steps',
        category='general',
        description='running when the server died',
        run_by_id=owner.id,
        run_at='/x',
        params={},
    )
    queries.start_subtask(services.engine, job_id=row['id'], name='Half done')
    restarted = build_services(services.settings)
    restarted.start()
    try:
        detail = queries.get_job(services.engine, viewer=owner, job_id=row['id'])
        assert detail is not None
        assert detail['status'] == 'failed'
        assert detail['error'] == 'Interrupted: the server stopped while this job was running'
        assert detail['subtasks'][0]['status'] == 'failed'
        assert detail['subtasks'][0]['message'] == detail['error']
        job_id = await run_job(restarted)  # and new jobs run normally
        assert queries.get_job(services.engine, viewer=owner, job_id=job_id)['status'] == 'completed'  # type: ignore[index]
    finally:
        await restarted.stop()


async def test_stop_interrupts_jobs_that_outlive_the_grace_period(settings) -> None:  # type: ignore[no-untyped-def]
    """One node (SQLite): the job ends Failed as Interrupted. A cluster node (PostgreSQL): it goes on elsewhere."""
    services = build_services(settings)
    services.start()
    owner = admin(services)
    assert owner.id is not None
    job_id = await services.jobs.launch(
        'test_steps', description='slow', run_by_id=owner.id, run_at='/', params={'delay': 30}
    )
    await started(services, owner, job_id)
    await services.jobs.stop(grace=0.2)
    detail = queries.get_job(services.engine, viewer=owner, job_id=job_id)
    assert detail is not None
    if services.engine.dialect.name == 'sqlite':
        assert detail['status'] == Status.FAILED
        assert detail['error'].startswith('Interrupted')
    else:
        assert detail['status'] == Status.IN_PROGRESS
        assert detail['subtasks'][-1]['status'] == Status.FAILED
        assert detail['subtasks'][-1]['message'] == (
            'Interrupted: the node running this job stopped; going on with another worker (attempt 2 of 3)'
        )
        with services.engine.connect() as connection:
            queued = 'SELECT status, attempts FROM procrastinate_jobs WHERE id = (SELECT engine_job_id FROM job)'
            assert tuple(connection.execute(sa.text(queued)).one()) == ('todo', 1)
    await services.stop()  # the rest: writer, thread pool, engine


async def test_stop_lets_a_job_end_that_needs_less_than_the_grace_period(settings) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM with JOBS_SHUTDOWN_GRACE_SECONDS=10: a job 3 s from its end completes instead of being interrupted."""
    services = build_services(settings)
    services.start()
    try:
        owner = admin(services)
        assert owner.id is not None
        job_id = await services.jobs.launch(
            'test_steps', description='nearly done', run_by_id=owner.id, run_at='/', params={'delay': 1}
        )
        await started(services, owner, job_id)
        stop_called = time.monotonic()
        await services.jobs.stop(grace=10)
        assert time.monotonic() - stop_called > 2
        detail = queries.get_job(services.engine, viewer=owner, job_id=job_id)
        assert detail is not None
        assert (detail['status'], detail['error']) == (Status.COMPLETED, None)
        assert [s['status'] for s in detail['subtasks']] == ['completed'] * 3
    finally:
        await services.stop()


async def test_event_loop_keeps_answering_while_a_cpu_bound_job_runs(services: Services) -> None:
    owner = admin(services)
    assert owner.id is not None
    await services.jobs.launch('test_cpu', description='burn', run_by_id=owner.id, run_at='/', params={'seconds': 1.5})
    await asyncio.sleep(0.1)
    gaps = []
    for _ in range(10):
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        gaps.append(time.perf_counter() - started)
    assert await services.jobs.running_types(['test_cpu', 'test_steps']) == {'test_cpu'}
    assert max(gaps) < 0.2, gaps  # a blocked loop would stall for the whole 1.5 s
    await services.jobs.wait_idle()


def test_unknown_settings_fail_clearly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, f'sqlite:///{tmp_path}/x.db', extra_job_types='')
    services = build_services(settings)
    try:
        services.registry.get('nope')
    except KeyError as error:
        assert 'nope' in str(error)
    else:
        raise AssertionError('expected KeyError')


async def test_a_job_row_is_not_written_again_after_the_job_ends(tmp_path: Path, sqlite_url: str) -> None:
    services = build_services(make_settings(tmp_path, sqlite_url))
    services.start()
    rows: list[dict[str, object]] = []

    def record(change: Change) -> None:
        if isinstance(change, JobChanged):
            rows.append(change.row)

    services.feed.subscribe(record)
    try:
        job_id = await run_job(services, steps=2)  # step 2 reports progress too soon after step 1: it is deferred
        await asyncio.sleep(2 * PROGRESS_INTERVAL)
    finally:
        await services.stop()
    statuses = [row['status'] for row in rows if row['id'] == job_id]
    assert statuses[-1] == 'completed'
    assert statuses.count('completed') == 1, statuses  # a deferred progress write must not land after the end
