"""Cancel on PostgreSQL with the job in another process: a web node records it, `python main.py worker` runs it.

The request reaches the worker only through the database (the job row's flag, which the worker polls); the log
and progress reach the web node's feed only through the relay (NOTIFY), as on a real cluster.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.jobs.events import JobChanged
from app.services import Services
from app.storage import jobs as queries
from app.storage.contacts import count_contacts
from app.storage.jobs import NewFile
from app.storage.models import FileRole, User
from tests.jobs.test_cluster import admin, started
from tests.jobs.test_job_actions import contacts_csv_bytes

ROOT = Path(__file__).parents[2]


@pytest.fixture
def worker_process(tmp_path: Path, postgres_url: str) -> Iterator[Any]:
    """A factory: start `python main.py worker` sharing the database and storage of ``services``."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(services: Services) -> None:
        data_dir = tmp_path / 'worker' / 'data'
        data_dir.mkdir(parents=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTEST_', 'JOBS_', 'NICEGUI_'))}
        env.update(JOBS_DATA_DIR=str(data_dir), JOBS_DATABASE_URL=postgres_url,
                   JOBS_STORAGE_DIR=str(services.settings.resolved_storage_dir), JOBS_EXTRA_JOB_TYPES='tests.job_types',
                   JOBS_BACKUP_CRON='', JOBS_PURGE_CRON='', JOBS_INTEGRITY_CRON='', PYTHONPATH=str(ROOT))  # fmt: skip
        log = tmp_path / 'worker.log'
        with log.open('wb') as output:
            processes.append(
                subprocess.Popen([sys.executable, 'main.py', 'worker'], cwd=ROOT, env=env, stdout=output, stderr=output)
            )
        deadline = time.monotonic() + 30
        while 'is running jobs' not in log.read_text():
            assert time.monotonic() < deadline, f'the worker did not start: {log.read_text()}'
            assert processes[-1].poll() is None, f'the worker stopped: {log.read_text()}'
            time.sleep(0.1)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, 'not in time'
        await asyncio.sleep(0.05)


def detail(services: Services, viewer: User, job_id: int) -> dict[str, Any]:
    found = queries.get_job(services.engine, viewer=viewer, job_id=job_id)
    assert found is not None
    return found


async def test_a_job_running_in_a_worker_process_is_cancelled_from_the_web_node(
    tmp_path: Path, postgres_url: str, worker_process: Any
) -> None:
    async with started(tmp_path, postgres_url, web_worker=False) as services:  # records jobs, runs none
        worker_process(services)
        boss = admin(services)
        assert boss.id is not None
        rows: list[dict[str, Any]] = []
        services.feed.subscribe(lambda change: rows.append(change.row) if isinstance(change, JobChanged) else None)
        job_id = await services.jobs.launch('test_steps', description='long', run_by_id=boss.id, run_at='/x',
                                            params={'steps': 40, 'delay': 0.25})  # fmt: skip
        await until(lambda: len(detail(services, boss, job_id)['subtasks']) >= 3, timeout=30)
        assert await services.actions.cancel(boss, job_id) is not None
        asked = time.monotonic()
        await until(lambda: detail(services, boss, job_id)['status'] != 'in_progress', timeout=5)
        assert time.monotonic() - asked < 5
        ended = detail(services, boss, job_id)
        assert ended['error'] == f'Cancelled by {boss.username}'
        assert ended['subtasks'][-1]['status'] == 'failed' and ended['subtasks'][-1]['message'] == 'Cancelled'
        assert len(ended['subtasks']) < 40
        # The worker's log lines and progress reached this node's feed through the relay.
        await until(lambda: any(row['id'] == job_id and row['log_seq'] >= 2 for row in rows), timeout=5)
        assert any(row['id'] == job_id and row['progress'] for row in rows)


async def test_an_import_cancelled_in_a_worker_process_keeps_its_partial_result(
    tmp_path: Path, postgres_url: str, worker_process: Any
) -> None:
    async with started(tmp_path, postgres_url, web_worker=False) as services:
        worker_process(services)
        boss = admin(services)
        assert boss.id is not None
        stored = services.files.save_bytes(contacts_csv_bytes(100_000, bad=(7,)))
        job_id = await services.jobs.launch('contacts_import', description='big', run_by_id=boss.id, run_at='/imports',
                                            input_files=[NewFile(FileRole.INPUT, 'big.csv', stored)])  # fmt: skip

        def writing() -> bool:
            return any(s['name'] == 'Write contacts' for s in detail(services, boss, job_id)['subtasks'])

        await until(writing, timeout=60)
        await until(lambda: count_contacts(services.engine) > 0, timeout=30)
        assert await services.actions.cancel(boss, job_id) is not None
        await until(lambda: detail(services, boss, job_id)['status'] != 'in_progress', timeout=5)
        ended = detail(services, boss, job_id)
        assert ended['error'] == f'Cancelled by {boss.username}'
        assert [s['name'] for s in ended['subtasks']] == ['Read file', 'Validate rows', 'Write contacts']
        written = count_contacts(services.engine)
        assert 0 < written < 99_999
        names = {f['filename']: f for f in ended['files'] if f['role'] != 'input'}
        assert set(names) == {'big-result.csv', 'big-errors.csv'}
        result = queries.get_file(services.engine, viewer=boss, file_id=names['big-result.csv']['id'])
        assert result is not None
        lines = services.files.path(result.relative_path).read_text().splitlines()
        assert len(lines) - 1 == written  # the result lists every row written, and only those


async def test_a_job_no_worker_has_claimed_yet_ends_at_once_and_is_never_run(tmp_path: Path, postgres_url: str) -> None:
    async with started(tmp_path, postgres_url, web_worker=False) as services:  # no worker anywhere
        boss = admin(services)
        assert boss.id is not None
        job_id = await services.jobs.launch('test_steps', description='queued', run_by_id=boss.id, run_at='/x')
        row = await services.actions.cancel(boss, job_id)
        assert row is not None and (row['status'], row['error']) == ('failed', f'Cancelled by {boss.username}')
        ended = detail(services, boss, job_id)
        assert ended['status'] == 'failed' and ended['subtasks'] == []
        with services.engine.connect() as connection:
            status = connection.execute(
                sa.text('SELECT q.status FROM procrastinate_jobs q JOIN job ON job.engine_job_id = q.id '
                        'WHERE job.id = :id'), {'id': job_id}
            ).scalar()  # fmt: skip
        assert status == 'cancelled'  # procrastinate's own cancel: no worker will ever fetch it
