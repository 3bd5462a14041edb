"""The PostgreSQL executor in one process: jobs whose worker died, and other nodes' changes reaching the feed.

A dead worker is simulated through procrastinate's own API: a worker registers, claims the job, starts a
subtask, and its heartbeat is aged. Job ids start at a random high number in each test, because NOTIFY is
database-wide and other test runs on the same database (each in its own schema) send notifications too.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from procrastinate.exceptions import AppNotOpen
from procrastinate.manager import JobManager

from app.jobs.cluster import QUEUE, ClusterExecutor
from app.jobs.events import Change, ChangeFeed, JobChanged, Resync
from app.services import Services, build_services
from app.storage import jobs as queries
from app.storage.db import create_engine
from app.storage.models import User
from app.storage.queue import take_over
from app.storage.users import create_user
from tests.conftest import make_settings, postgres_schema

WORKER_STOPPED = 'the worker running this job stopped'


async def test_a_job_whose_worker_died_is_retried_and_then_completed_by_a_live_worker(
    tmp_path: Path, postgres_url: str
) -> None:
    async with started(tmp_path, postgres_url, web_worker=False) as services:  # records jobs, runs none
        boss = admin(services)
        job_id = await launch(services, boss)
        queue_id = await abandon(services, job_id)
        await cluster(services).recover_stalled()
        detail = job_detail(services, boss, job_id)
        assert detail['status'] == 'in_progress'
        assert len(detail['subtasks']) == 1
        subtask = detail['subtasks'][0]
        assert subtask['status'] == 'failed'
        assert WORKER_STOPPED in subtask['message'] and 'attempt 2 of 3' in subtask['message']
        assert queue_entry(services, queue_id) == ('todo', 1)

    async with started(tmp_path, postgres_url) as services:  # a node with a worker picks the job up
        await services.jobs.wait_idle()
        detail = job_detail(services, boss, job_id)
        assert detail['status'] == 'completed'
        assert detail['attempts'] == 2
        assert detail['error'] is None
        assert [(s['name'], s['status']) for s in detail['subtasks']] == [
            ('Half done', 'failed'),  # the interrupted attempt's history stays visible
            ('Step 1', 'completed'),
            ('Step 2', 'completed'),
            ('Step 3', 'completed'),
        ]
        assert [(f['role'], f['filename']) for f in detail['files']] == [('output', 'steps.txt')]


async def test_a_job_whose_worker_died_on_its_last_attempt_fails(tmp_path: Path, postgres_url: str) -> None:
    async with started(tmp_path, postgres_url, web_worker=False, max_attempts=1) as services:
        boss = admin(services)
        job_id = await launch(services, boss)
        queue_id = await abandon(services, job_id)
        feed = FeedRecorder(services.feed)
        await cluster(services).recover_stalled()
        detail = job_detail(services, boss, job_id)
        assert detail['status'] == 'failed'
        assert detail['error'].startswith(f'Interrupted: {WORKER_STOPPED}')
        assert detail['error'] == f'{queries.WORKER_LOST} (attempt 1 of 1)'
        assert [(s['status'], s['message']) for s in detail['subtasks']] == [('failed', detail['error'])]
        assert [row['status'] for row in feed.rows(job_id)] == ['failed']  # open pages show it at once
        assert queue_entry(services, queue_id) == ('failed', 1)  # no worker will start it again


async def test_two_nodes_recovering_the_same_job_at_once_retry_it_once(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        started(tmp_path, postgres_url, web_worker=False) as first,
        started(tmp_path, postgres_url, web_worker=False) as second,
    ):
        boss = admin(first)
        job_id = await launch(first, boss)
        queue_id = await abandon(first, job_id)
        await opened_queue(second)
        with caplog.at_level(logging.WARNING, logger='app.jobs'):
            await asyncio.gather(cluster(first).recover_stalled(), cluster(second).recover_stalled())
        assert queue_entry(first, queue_id) == ('todo', 1)
        detail = job_detail(first, boss, job_id)
        assert detail['status'] == 'in_progress'
        assert [(s['status'], 'attempt 2 of 3' in s['message']) for s in detail['subtasks']] == [('failed', True)]
        lost = [record for record in caplog.records if 'lost its worker' in record.getMessage()]
        assert len(lost) == 1, [record.getMessage() for record in lost]


async def test_other_nodes_changes_reach_the_feed_and_own_changes_are_not_repeated(
    tmp_path: Path, postgres_url: str
) -> None:
    async with started(tmp_path, postgres_url) as services, other_node(postgres_url) as other:
        boss = admin(services)
        await relay_listening(services)
        feed = FeedRecorder(services.feed)

        foreign_id = change_elsewhere(other, boss)
        await feed.wait_for(lambda c: is_row(c, foreign_id, 'completed'))

        own_id = await launch(services, boss, steps=2)
        await services.jobs.wait_idle()
        published_here = feed.rows(own_id)
        assert [row['status'] for row in published_here].count('completed') == 1
        # Notifications reach the relay in commit order: once a later change from the other node is through,
        # a repeat of this node's own changes would have been published too.
        barrier_id = change_elsewhere(other, boss)
        await feed.wait_for(lambda c: is_row(c, barrier_id, 'completed'))
        await asyncio.sleep(0.3)  # and any read-back of an earlier burst has landed
        assert feed.rows(own_id) == published_here


async def test_the_relay_listens_again_after_losing_its_connection_and_asks_pages_to_resync(
    tmp_path: Path, postgres_url: str
) -> None:
    async with started(tmp_path, postgres_url, web_worker=False) as services, other_node(postgres_url) as other:
        boss = admin(services)
        await relay_listening(services)
        feed = FeedRecorder(services.feed)
        relay_name = f'{services.jobs.node}-relay'[:63]
        with other.connect() as connection:
            terminated = connection.execute(
                sa.text('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name'),
                {'name': relay_name},
            ).scalars()
            assert list(terminated) == [True]
        await feed.wait_for(lambda change: isinstance(change, Resync), timeout=5)
        job_id = change_elsewhere(other, boss)
        await feed.wait_for(lambda change: is_row(change, job_id, 'completed'))


async def test_a_stale_stalled_list_does_not_queue_a_job_a_live_worker_has_claimed_since(
    tmp_path: Path, postgres_url: str
) -> None:
    async with started(tmp_path, postgres_url, web_worker=False) as services:
        boss = admin(services)
        job_id = await launch(services, boss)
        queue_id = await abandon(services, job_id)
        manager = await opened_queue(services)
        [stalled] = await manager.get_stalled_jobs(seconds_since_heartbeat=30)  # this node reads the list ...
        await cluster(services).recover_stalled()  # ... another node queues the job again first ...
        live = await manager.register_worker()
        assert (await manager.fetch_job(queues=[QUEUE], worker_id=live)) is not None  # ... and a live worker has it
        assert stalled.id is not None
        taken = await services.threads.run(take_over, services.engine, engine_job_id=stalled.id,
                                           worker_id=stalled.worker_id, retry=True, job_id=job_id,
                                           message='should not be written')  # fmt: skip
        assert taken is None
        assert queue_entry(services, queue_id) == ('doing', 1)  # still the live worker's, not queued twice
        assert 'should not be written' not in str(job_detail(services, boss, job_id)['subtasks'])


async def test_changes_from_another_schema_of_the_same_database_are_not_relayed(
    tmp_path: Path, postgres_url: str
) -> None:
    with postgres_schema() as elsewhere_url:
        await relayed_only_from_own_schema(tmp_path, postgres_url, elsewhere_url)


async def relayed_only_from_own_schema(tmp_path: Path, postgres_url: str, elsewhere_url: str) -> None:
    async with (
        started(tmp_path, postgres_url) as services,
        started(tmp_path / 'elsewhere', elsewhere_url) as elsewhere,
    ):
        boss = admin(services)
        admin(elsewhere)
        stranger = admin(elsewhere)  # a user id that does not exist here
        assert stranger.id != boss.id
        await relay_listening(services)
        for engine in (services.engine, elsewhere.engine):  # both schemas hand out the same next job id
            with engine.begin() as connection:
                connection.execute(sa.text("SELECT setval(pg_get_serial_sequence('job', 'id'), 5000)"))
        own_id = await launch(services, boss, steps=1)  # job 5001 here
        await services.jobs.wait_idle()
        feed = FeedRecorder(services.feed)
        async with other_node(elsewhere_url) as other:
            foreign_id = change_elsewhere(other, stranger)  # job 5001 of the other schema, the stranger's
        assert foreign_id == own_id
        await asyncio.sleep(0.5)  # time for a wrong relay to land
        assert [change for change in feed.changes if getattr(change, 'job_id', None) == own_id] == []


async def test_a_worker_whose_database_connections_were_cut_starts_again(tmp_path: Path, postgres_url: str) -> None:
    async with started(tmp_path, postgres_url) as services, other_node(postgres_url) as other:
        boss = admin(services)
        await opened_queue(services)
        await asyncio.sleep(0.5)  # the worker is up and listening
        with other.connect() as connection:
            cut = connection.execute(
                sa.text('SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n'),
                {'n': f'{services.jobs.node}-queue'[:63]},
            ).scalar_one()
        assert cut >= 1
        job_id = await launch(services, boss, steps=1)
        await services.jobs.wait_idle(timeout=20)
        assert job_detail(services, boss, job_id)['status'] == 'completed'


@asynccontextmanager
async def started(tmp_path: Path, postgres_url: str, **overrides: object) -> AsyncIterator[Services]:
    """Services of one node, started on the running loop (a web node: it relays other nodes' changes)."""
    services = build_services(make_settings(tmp_path, postgres_url, **overrides))
    services.start()
    try:
        spread_job_ids(services.engine)
        yield services
    finally:
        await services.stop()


@asynccontextmanager
async def other_node(postgres_url: str) -> AsyncIterator[sa.Engine]:
    """Another process's connections to the same database (the relay tells nodes apart by application_name)."""
    engine = create_engine(postgres_url, application_name='other-node')
    try:
        yield engine
    finally:
        engine.dispose()


def spread_job_ids(engine: sa.Engine) -> None:
    """Start job ids at a random high number, so no other schema's notification names one of ours."""
    query = "SELECT setval(pg_get_serial_sequence('job', 'id'), :start) WHERE NOT EXISTS (SELECT 1 FROM job)"
    with engine.begin() as connection:
        connection.execute(sa.text(query), {'start': 100_000_000 + secrets.randbelow(1_900_000_000)})


def admin(services: Services) -> User:
    return create_user(services.engine, username=f'boss-{secrets.token_hex(3)}', password='pw', is_admin=True)


async def launch(services: Services, owner: User, **params: object) -> int:
    assert owner.id is not None
    return await services.jobs.launch(
        'test_steps', description='a cluster job', run_by_id=owner.id, run_at='/somewhere', params=dict(params)
    )


def cluster(services: Services) -> ClusterExecutor:
    executor = services.jobs.executor
    assert isinstance(executor, ClusterExecutor)
    return executor


async def opened_queue(services: Services) -> JobManager:
    """procrastinate's job manager, once the executor has opened its connection pool (it does so in a task)."""
    manager = cluster(services).app.job_manager
    for _ in range(500):
        try:
            await manager.check_connection_async()
            return manager
        except AppNotOpen:
            await asyncio.sleep(0.01)
    raise TimeoutError('the executor did not open its queue')


async def abandon(services: Services, job_id: int) -> int:
    """A worker claims the job, starts a subtask and dies (stops sending heartbeats); returns the queue entry id."""
    manager = await opened_queue(services)
    worker_id = await manager.register_worker()
    claimed = await manager.fetch_job(queues=[QUEUE], worker_id=worker_id)
    assert claimed is not None and claimed.id is not None
    assert claimed.task_kwargs == {'job_id': job_id}
    queries.start_subtask(services.engine, job_id=job_id, name='Half done')
    with services.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = :id"),
            {'id': worker_id},
        )
    return claimed.id


def queue_entry(services: Services, queue_id: int) -> tuple[str, int]:
    """procrastinate's status and attempt count for a queue entry."""
    with services.engine.connect() as connection:
        query = sa.text('SELECT status, attempts FROM procrastinate_jobs WHERE id = :id')
        status, attempts = connection.execute(query, {'id': queue_id}).one()
    return str(status), int(attempts)


def job_detail(services: Services, viewer: User, job_id: int) -> dict[str, Any]:
    detail = queries.get_job(services.engine, viewer=viewer, job_id=job_id)
    assert detail is not None
    return detail


def change_elsewhere(engine: sa.Engine, owner: User) -> int:
    """Another node records a job and finishes it; returns its id."""
    assert owner.id is not None
    row = queries.create_job(
        engine,
        job_type='test_steps',
        name='Test Steps',
        category='general',
        description='run by another node',
        run_by_id=owner.id,
        run_at='/elsewhere',
        params={},
    )
    queries.finish_job(engine, job_id=row['id'])
    job_id: int = row['id']
    return job_id


async def relay_listening(services: Services) -> None:
    assert services.relay is not None
    await asyncio.wait_for(services.relay.connected.wait(), timeout=10)


def is_row(change: Change, job_id: int, status: str) -> bool:
    return isinstance(change, JobChanged) and change.job_id == job_id and change.row['status'] == status


class FeedRecorder:
    """Everything published on a change feed from now on."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.changes: list[Change] = []
        feed.subscribe(self._record)

    def _record(self, change: Change) -> None:
        self.changes.append(change)

    def rows(self, job_id: int) -> list[dict[str, Any]]:
        """The rows published for a job, in order."""
        return [c.row for c in self.changes if isinstance(c, JobChanged) and c.job_id == job_id]

    async def wait_for(self, predicate: Callable[[Change], bool], timeout: float = 10) -> Change:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for change in self.changes:
                if predicate(change):
                    return change
            await asyncio.sleep(0.02)
        raise AssertionError(f'not published within {timeout} s; published: {self.changes}')
