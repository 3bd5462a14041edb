"""System tasks run end to end on both backends: backup restores, purge deletes, integrity check finds problems."""

from __future__ import annotations

import csv
import gzip
import io
import re
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from app.jobs import backup, purge
from app.jobs.system_tasks import DATABASE_BACKUP, PURGE_OLD_JOBS, STORAGE_INTEGRITY_CHECK
from app.services import Services
from app.storage import jobs as queries
from app.storage.db import session
from app.storage.files import StoredFile
from app.storage.models import FileRole, Job, JobFile, Subtask, User, utcnow
from app.storage.users import list_users
from tests.conftest import ADMIN, POSTGRES_URL

TASKS_PATH = '/settings/maintenance/tasks'


def admin(services: Services) -> User:
    return next(user for user in list_users(services.engine) if user.username == ADMIN[0])


async def run_task(services: Services, key: str) -> dict[str, Any]:
    viewer = admin(services)
    assert viewer.id is not None
    job_id = await services.jobs.launch(key, description='test run', run_by_id=viewer.id, run_at=TASKS_PATH)
    await services.jobs.wait_idle()
    detail = queries.get_job(services.engine, viewer=viewer, job_id=job_id)
    assert detail is not None
    return detail


def output(services: Services, detail: dict[str, Any]) -> tuple[str, Path]:
    """The job's single output file: its name and where it is stored."""
    (job_file,) = queries.job_files(services.engine, job_id=detail['id'], role=FileRole.OUTPUT)
    return job_file.filename, services.files.path(job_file.relative_path)


def report_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding='utf-8'))))


def add_job(services: Services, *, files: dict[str, bytes] | None = None, ended_days_ago: float | None = 1) -> int:
    """A finished job (or a running one with ``ended_days_ago=None``) with stored output files and a subtask."""
    owner_id = admin(services).id
    assert owner_id is not None
    row = queries.create_job(
        services.engine, job_type='contacts_import', name='Contacts Import', category='import',
        description='=cmd()', run_by_id=owner_id, run_at='/imports', params={},
    )  # fmt: skip
    job_id: int = row['id']
    queries.start_subtask(services.engine, job_id=job_id, name='Read file')
    for filename, data in (files or {}).items():
        stored = services.files.save_bytes(data)
        queries.add_file(services.engine, job_id=job_id, new_file=queries.NewFile(FileRole.OUTPUT, filename, stored))
    if ended_days_ago is not None:
        queries.finish_job(services.engine, job_id=job_id)
        with session(services.engine) as db:
            db.execute(
                sa.update(Job).where(col(Job.id) == job_id).values(ended_at=utcnow() - timedelta(ended_days_ago))
            )
            db.commit()
    return job_id


def stored_files(services: Services, job_id: int) -> list[JobFile]:
    return queries.job_files(services.engine, job_id=job_id)


# Database Backup


async def test_backup_is_a_gzipped_snapshot_that_restores(services: Services) -> None:
    earlier = add_job(services, files={'a.csv': b'a'})
    detail = await run_task(services, DATABASE_BACKUP.key)
    assert detail['status'] == 'completed', detail['error']
    assert [s['name'] for s in detail['subtasks']] == ['Snapshot database', 'Compress snapshot', 'Verify backup',
                                                       'Store backup']  # fmt: skip
    assert all(s['status'] == 'completed' for s in detail['subtasks'])
    filename, path = output(services, detail)
    sqlite = services.engine.dialect.name == 'sqlite'
    assert re.fullmatch(r'backup-\d{8}-\d{6}\.' + ('sqlite' if sqlite else 'sql') + r'\.gz', filename)
    restored = path.parent / 'restored'
    restored.write_bytes(gzip.decompress(path.read_bytes()))
    job_ids = restored_sqlite_jobs(restored) if sqlite else restored_postgres_jobs(services, restored)
    # The snapshot holds the earlier job and the backup job itself, caught while it ran.
    assert {earlier, detail['id']} <= job_ids
    restored.unlink()


def restored_sqlite_jobs(path: Path) -> set[int]:
    engine = sa.create_engine(f'sqlite:///{path}')
    with engine.connect() as connection:
        assert connection.exec_driver_sql('PRAGMA integrity_check').scalar() == 'ok'
        ids = {row[0] for row in connection.exec_driver_sql('SELECT id FROM job')}
    engine.dispose()
    return ids


def restored_postgres_jobs(services: Services, dump: Path) -> set[int]:
    """Load the dump into a fresh database with psql and read the jobs back."""
    database = f'restore_{uuid.uuid4().hex[:8]}'
    server = sa.create_engine(POSTGRES_URL, isolation_level='AUTOCOMMIT')
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE {database}'))
    target = sa.make_url(POSTGRES_URL).set(database=database)
    try:
        libpq = target.set(drivername='postgresql').render_as_string(hide_password=False)
        # A dump of one schema (these tests run in a schema each) carries no extensions; a whole-database dump does.
        subprocess.run(['psql', '--quiet', '-c', 'CREATE EXTENSION IF NOT EXISTS pg_trgm', libpq], check=True)
        subprocess.run(['psql', '--quiet', '-v', 'ON_ERROR_STOP=1', '-f', str(dump), libpq], check=True,
                       capture_output=True)  # fmt: skip
        schema = services.engine.url.query['options']
        assert isinstance(schema, str)
        restored = sa.create_engine(target)
        with restored.connect() as connection:
            ids = {row[0] for row in connection.execute(sa.text(f'SELECT id FROM {schema.split("=")[1]}.job'))}
        restored.dispose()
        return ids
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE {database} WITH (FORCE)'))
        server.dispose()


@pytest.mark.parametrize('database_url', ['postgresql'], indirect=True)  # only PostgreSQL needs pg_dump
async def test_postgres_backup_without_pg_dump_fails_clearly(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert services.engine.dialect.name == 'postgresql'
    monkeypatch.setattr(backup.shutil, 'which', lambda _name: None)
    detail = await run_task(services, DATABASE_BACKUP.key)
    assert detail['status'] == 'failed'
    assert detail['error'] == backup.PG_DUMP_MISSING
    assert detail['subtasks'][0] == {**detail['subtasks'][0], 'status': 'failed', 'message': backup.PG_DUMP_MISSING}
    assert detail['files'] == []
    assert not list(services.files.temp_dir.iterdir())  # no temp files left behind


# Purge Old Jobs


async def test_purge_deletes_old_jobs_with_files_and_keeps_the_rest(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purge, 'BATCH', 1)  # several batches
    old = [add_job(services, files={'in.csv': b'x', 'out.csv': b'y'}, ended_days_ago=100) for _ in range(2)]
    old.append(add_job(services, ended_days_ago=91))
    recent = add_job(services, files={'keep.csv': b'k'}, ended_days_ago=89)
    running = add_job(services, files={'running.csv': b'r'}, ended_days_ago=None)
    old_paths = [services.files.path(f.relative_path) for job_id in old for f in stored_files(services, job_id)]
    assert len(old_paths) == 4 and all(path.exists() for path in old_paths)

    detail = await run_task(services, PURGE_OLD_JOBS.key)

    assert detail['status'] == 'completed', detail['error']
    assert [s['name'] for s in detail['subtasks']] == ['Find old jobs', 'Delete jobs and files', 'Write report']
    assert detail['subtasks'][1]['message'] == '3 jobs and 4 files deleted'
    viewer = admin(services)
    assert all(queries.get_job(services.engine, viewer=viewer, job_id=job_id) is None for job_id in old)
    assert not any(path.exists() for path in old_paths)
    with session(services.engine) as db:
        assert db.exec(select(func.count()).where(col(Subtask.job_id).in_(old))).one() == 0
        assert db.exec(select(func.count()).where(col(JobFile.job_id).in_(old))).one() == 0
    for kept in (recent, running):
        assert queries.get_job(services.engine, viewer=viewer, job_id=kept) is not None
        assert all(services.files.path(f.relative_path).exists() for f in stored_files(services, kept))
    filename, path = output(services, detail)
    assert re.fullmatch(r'purged-jobs-\d{8}-\d{6}\.csv', filename)
    rows = report_rows(path)
    assert [int(row['job_id']) for row in rows] == old  # oldest first
    assert rows[0]['files_removed'] == '2' and rows[0]['file_names'] == 'in.csv; out.csv'
    assert rows[0]['description'] == "'=cmd()"  # spreadsheets must not run it
    assert rows[0]['run_by'] == ADMIN[0] and rows[0]['job'] == 'Contacts Import'


async def test_purge_never_deletes_a_running_job_or_itself(services: Services) -> None:
    running = add_job(services, ended_days_ago=None)
    with session(services.engine) as db:  # a stale end time must not make a running job purgeable
        db.execute(sa.update(Job).where(col(Job.id) == running).values(ended_at=utcnow() - timedelta(days=400)))
        db.commit()
    detail = await run_task(services, PURGE_OLD_JOBS.key)
    assert detail['status'] == 'completed'
    assert queries.get_job(services.engine, viewer=admin(services), job_id=running) is not None
    assert report_rows(output(services, detail)[1]) == []


# Storage Integrity Check


async def test_integrity_check_reports_missing_changed_and_orphaned_files(services: Services) -> None:
    job_id = add_job(services, files={'gone.csv': b'gone', 'same-size.csv': b'abcd', 'grown.csv': b'ab',
                                      'fine.csv': b'fine'})  # fmt: skip
    files = {f.filename: f for f in stored_files(services, job_id)}
    services.files.path(files['gone.csv'].relative_path).unlink()
    services.files.path(files['same-size.csv'].relative_path).write_bytes(b'abce')
    services.files.path(files['grown.csv'].relative_path).write_bytes(b'abc')
    orphan: StoredFile = services.files.save_bytes(b'nobody knows me')
    services.files.temp_path().write_bytes(b'work in progress')  # the temp area is not checked

    detail = await run_task(services, STORAGE_INTEGRITY_CHECK.key)

    assert detail['status'] == 'failed'
    assert detail['error'].startswith('4 problems found (1 missing, 1 size mismatch, 1 checksum mismatch, 1 orphan)')
    statuses = {s['name']: s['status'] for s in detail['subtasks']}
    assert statuses == {'List stored files': 'completed', 'Check recorded files': 'failed',
                        'Find orphaned files': 'failed', 'Write report': 'completed'}  # fmt: skip
    filename, path = output(services, detail)
    assert re.fullmatch(r'integrity-report-\d{8}-\d{6}\.csv', filename)
    rows = report_rows(path)
    found = {(row['problem'], row['path']) for row in rows}
    assert found == {
        ('missing', files['gone.csv'].relative_path),
        ('checksum_mismatch', files['same-size.csv'].relative_path),
        ('size_mismatch', files['grown.csv'].relative_path),
        ('orphan', orphan.relative_path),
    }
    missing = next(row for row in rows if row['problem'] == 'missing')
    assert missing['file_id'] == str(files['gone.csv'].id) and missing['job_id'] == str(job_id)


async def test_integrity_check_of_a_clean_store_completes_and_does_not_count_its_own_report(
    services: Services,
) -> None:
    add_job(services, files={'a.csv': b'a', 'b.csv': b'b'})
    first = await run_task(services, STORAGE_INTEGRITY_CHECK.key)
    assert first['status'] == 'completed', first['error']
    assert report_rows(output(services, first)[1]) == []
    second = await run_task(services, STORAGE_INTEGRITY_CHECK.key)  # the first report is a recorded file now
    assert second['status'] == 'completed', second['error']
    assert second['subtasks'][1]['message'] == '3 files checked'
