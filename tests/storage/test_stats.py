"""Job statistics from the trigger-kept rollups agree with counting the jobs themselves, on both databases."""

from __future__ import annotations

import importlib.util
import json
import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.storage import jobs as queries
from app.storage import stats
from app.storage.db import MIGRATIONS_DIR, create_engine
from app.storage.models import Job, User
from app.storage.users import create_user

NOW = datetime(2026, 11, 30, 15, 40, tzinfo=UTC)


def make_job(engine: sa.Engine, owner: User, *, started: datetime, seconds: float | None, fail: bool = False,
             name: str = 'Test Steps') -> int:  # fmt: skip
    """A job started at ``started`` that ran ``seconds`` (None: still running)."""
    assert owner.id is not None
    row = queries.create_job(engine, job_type='test', name=name, category='general', description='d',
                             run_by_id=owner.id, run_at='/', params={})  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.update(Job).where(Job.id == row['id']).values(started_at=started))
    if seconds is not None:
        queries.finish_job(engine, job_id=row['id'], error='broke' if fail else None)
        with engine.begin() as connection:
            ended = started + timedelta(seconds=seconds)
            connection.execute(sa.update(Job).where(Job.id == row['id']).values(ended_at=ended))
    return int(row['id'])


def counted(engine: sa.Engine, owner: User | None, since: datetime) -> dict[str, int]:
    """Jobs per status counted row by row, as the grid would list them."""
    query = sa.select(Job.status, sa.func.count()).where(Job.started_at >= since).group_by(Job.status)
    if owner is not None:
        query = query.where(Job.run_by_id == owner.id)
    with engine.connect() as connection:
        found = dict(connection.execute(query).all())
    return {status: found.get(status, 0) for status in ('in_progress', 'completed', 'failed')}


def test_counts_series_and_jobs_match_the_job_rows_per_viewer_and_window(engine: sa.Engine) -> None:
    ann = create_user(engine, username='ann', password='pw')
    bob = create_user(engine, username='bob', password='pw')
    admin = create_user(engine, username='boss', password='pw', is_admin=True)
    rng = random.Random(7)
    for number in range(120):
        started = NOW - timedelta(hours=rng.uniform(0, 24 * 40))
        seconds = None if number % 10 == 0 else rng.uniform(0.01, 500)
        owner = ann if number % 3 else bob
        make_job(engine, owner, started=started, seconds=seconds, fail=number % 4 == 0,
                 name='Backup' if number % 2 else 'Test Steps')  # fmt: skip
    for window in ('24h', '7d', '30d'):
        for viewer, owner in ((ann, ann), (bob, bob), (admin, None)):
            result = stats.job_stats(engine, viewer=viewer, window=window, now=NOW)
            assert json.loads(json.dumps(result)) == result  # what GET /api/stats sends (PostgreSQL sums are numeric)
            start = datetime.fromisoformat(result['series'][0]['start'])
            assert result['counts'] == counted(engine, owner, start), (window, viewer.username)
            assert sum(sum(b[s] for s in result['counts']) for b in result['series']) == sum(result['counts'].values())
            assert sum(job['runs'] for job in result['by_job']) == sum(result['counts'].values())
            assert sum(job['failed'] for job in result['by_job']) == result['counts']['failed']
    assert len(stats.job_stats(engine, viewer=ann, window='24h', now=NOW)['series']) == 24
    assert len(stats.job_stats(engine, viewer=ann, window='30d', now=NOW)['series']) == 30


def test_percentiles_are_within_the_bucket_accuracy(engine: sa.Engine) -> None:
    ann = create_user(engine, username='ann', password='pw')
    durations = [0.05, *(1.5 * 1.07**k for k in range(99))]
    for seconds in durations:
        make_job(engine, ann, started=NOW - timedelta(hours=1), seconds=seconds)
    [job] = stats.job_stats(engine, viewer=ann, window='24h', now=NOW)['by_job']
    ordered = sorted(durations)
    for figure, fraction in (('p50_seconds', 0.5), ('p95_seconds', 0.95)):
        exact = ordered[round(fraction * len(ordered)) - 1]
        assert abs(job[figure] - exact) / exact < 0.19, (figure, job[figure], exact)
    assert job['runs'] == 100 and job['failed'] == 0
    assert datetime.fromisoformat(job['last_run']) == NOW - timedelta(hours=1)


def test_deleted_jobs_leave_the_statistics(engine: sa.Engine) -> None:
    ann = create_user(engine, username='ann', password='pw')
    kept = make_job(engine, ann, started=NOW - timedelta(hours=2), seconds=3)
    gone = make_job(engine, ann, started=NOW - timedelta(hours=2), seconds=3, fail=True)
    with engine.begin() as connection:
        connection.execute(sa.delete(Job).where(Job.id == gone))
    result = stats.job_stats(engine, viewer=ann, window='24h', now=NOW)
    assert result['counts'] == {'in_progress': 0, 'completed': 1, 'failed': 0}
    assert [job['runs'] for job in result['by_job']] == [1] and kept


def test_an_upgrade_counts_the_jobs_already_there(database_url: str) -> None:
    engine = create_engine(database_url)
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes['connection'] = connection
        command.upgrade(config, '0008')
    ann = create_user(engine, username='ann', password='pw')
    for hours in (1, 2, 30):
        make_job(engine, ann, started=NOW - timedelta(hours=hours), seconds=hours, fail=hours == 2)
    with engine.begin() as connection:
        config.attributes['connection'] = connection
        command.upgrade(config, 'head')
    result = stats.job_stats(engine, viewer=ann, window='7d', now=NOW)
    assert result['counts'] == {'in_progress': 0, 'completed': 2, 'failed': 1}
    assert result['by_job'][0]['p95_seconds'] is not None
    engine.dispose()


def test_the_bucket_bounds_are_those_of_the_triggers() -> None:
    path = MIGRATIONS_DIR / 'versions' / '0009_job_stats.py'
    spec = importlib.util.spec_from_file_location('migration_0009', path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.BOUNDS == stats.BOUNDS


def test_a_rebuild_counts_what_the_triggers_counted(engine: sa.Engine) -> None:
    ann = create_user(engine, username='ann', password='pw')
    for hours in (1, 5, 50):
        make_job(engine, ann, started=NOW - timedelta(hours=hours), seconds=hours * 3, fail=hours == 5)
    make_job(engine, ann, started=NOW - timedelta(hours=2), seconds=None)
    kept = stats.job_stats(engine, viewer=ann, window='7d', now=NOW)
    with engine.begin() as connection:
        connection.execute(sa.text('DELETE FROM job_stat'))
        stats.rebuild(connection)
    assert stats.job_stats(engine, viewer=ann, window='7d', now=NOW) == kept
