"""Maintenance queries on both backends: purge batches, file listings, latest jobs; URL handling for pg_dump."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from app.storage import jobs as queries
from app.storage import maintenance
from app.storage.db import create_engine, migrate, session
from app.storage.files import StoredFile
from app.storage.models import FileRole, Job, User, utcnow
from app.storage.users import create_user


@pytest.fixture
def owner(engine: sa.Engine) -> User:
    return create_user(engine, username='owner', password='pw')


def add_job(engine: sa.Engine, owner: User, *, job_type: str = 'test', ended_days_ago: float | None = None) -> int:
    assert owner.id is not None
    row = queries.create_job(
        engine, job_type=job_type, name=job_type.title(), category='general', description='d',
        run_by_id=owner.id, run_at='/x', params={},
    )  # fmt: skip
    job_id: int = row['id']
    queries.start_subtask(engine, job_id=job_id, name='Step')
    for number in range(2):
        stored = StoredFile(f'ab/{job_id}-{number}', 1, 'f' * 64)
        queries.add_file(engine, job_id=job_id, new_file=queries.NewFile(FileRole.OUTPUT, f'{number}.csv', stored))
    if ended_days_ago is not None:
        queries.finish_job(engine, job_id=job_id)
        with session(engine) as db:
            db.execute(
                sa.update(Job).where(col(Job.id) == job_id).values(ended_at=utcnow() - timedelta(ended_days_ago))
            )
            db.commit()
    return job_id


def test_purge_batch_deletes_oldest_first_and_skips_running_recent_and_kept_jobs(
    engine: sa.Engine, owner: User
) -> None:
    newer_old, oldest = add_job(engine, owner, ended_days_ago=50), add_job(engine, owner, ended_days_ago=60)
    keep = add_job(engine, owner, ended_days_ago=70)
    recent, running = add_job(engine, owner, ended_days_ago=5), add_job(engine, owner)
    cutoff = utcnow() - timedelta(days=30)
    assert maintenance.count_purgeable(engine, cutoff=cutoff, keep_job_id=keep) == 2

    first = maintenance.purge_batch(engine, cutoff=cutoff, keep_job_id=keep, limit=1)
    assert [job.id for job in first] == [oldest]
    assert first[0].run_by == 'owner' and first[0].status == 'completed'
    assert first[0].files == (('0.csv', f'ab/{oldest}-0'), ('1.csv', f'ab/{oldest}-1'))
    assert [job.id for job in maintenance.purge_batch(engine, cutoff=cutoff, keep_job_id=keep)] == [newer_old]
    assert maintenance.purge_batch(engine, cutoff=cutoff, keep_job_id=keep) == []

    remaining = {job_id for job_id in (newer_old, oldest, keep, recent, running) if job_exists(engine, job_id)}
    assert remaining == {keep, recent, running}
    assert maintenance.count_job_files(engine) == 6


def job_exists(engine: sa.Engine, job_id: int) -> bool:
    with session(engine) as db:
        return db.get(Job, job_id) is not None


def test_job_files_are_paged_by_id_and_paths_looked_up(engine: sa.Engine, owner: User) -> None:
    first, second = add_job(engine, owner), add_job(engine, owner)
    page = maintenance.job_files_after(engine, after_id=0, limit=3)
    assert [(f.job_id, f.relative_path) for f in page] == [(first, f'ab/{first}-0'), (first, f'ab/{first}-1'),
                                                           (second, f'ab/{second}-0')]  # fmt: skip
    rest = maintenance.job_files_after(engine, after_id=page[-1].id or 0, limit=3)
    assert [f.relative_path for f in rest] == [f'ab/{second}-1']
    paths = [f'ab/{first}-1', 'zz/unknown', *(f'x/{n}' for n in range(1200))]  # more than one IN chunk
    assert maintenance.recorded_paths(engine, paths=paths) == {f'ab/{first}-1'}


def test_latest_jobs_per_type_respects_visibility(engine: sa.Engine, owner: User) -> None:
    admin = create_user(engine, username='root', password='pw', is_admin=True)
    add_job(engine, owner, job_type='backup', ended_days_ago=1)
    newest = add_job(engine, admin, job_type='backup')
    purge = add_job(engine, owner, job_type='purge', ended_days_ago=1)
    latest = maintenance.latest_jobs(engine, viewer=admin, job_types=['backup', 'purge', 'never'])
    assert {key: row['id'] for key, row in latest.items()} == {'backup': newest, 'purge': purge}
    assert latest['backup']['status'] == 'in_progress' and latest['backup']['run_by'] == 'root'
    own = maintenance.latest_jobs(engine, viewer=owner, job_types=['backup'])
    assert own['backup']['id'] == newest - 1


def test_sqlite_backup_is_a_standalone_copy(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_engine(sqlite_url)
    migrate(engine)
    create_user(engine, username='copied', password='pw')
    target = tmp_path / 'copy.db'
    maintenance.backup_sqlite(engine, target)
    create_user(engine, username='later', password='pw')  # after the snapshot: not in it
    engine.dispose()
    with sqlite3.connect(target) as copy:
        assert copy.execute('PRAGMA journal_mode').fetchone() == ('delete',)
        assert [row[0] for row in copy.execute('SELECT username FROM user')] == ['copied']
    assert not Path(f'{target}-wal').exists()


def test_libpq_url_drops_driver_and_password_and_schema_comes_from_search_path() -> None:
    url = sa.make_url('postgresql+psycopg://app:s3cret@db.example:5433/jobs?options=-csearch_path%3Djobs_app,public')
    assert (
        maintenance.libpq_url(url) == 'postgresql://app@db.example:5433/jobs?options=-csearch_path%3Djobs_app%2Cpublic'
    )
    assert maintenance.search_path_schemas(url) == ['jobs_app', 'public']
    assert maintenance.search_path_schemas(sa.make_url('postgresql+psycopg://app@db/jobs')) == []
    spaced = sa.make_url('postgresql+psycopg://db/jobs?options=-c%20search_path%3D%22%24user%22,app')
    assert maintenance.search_path_schemas(spaced) == ['app']
