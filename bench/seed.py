"""A fast bulk seeder: N finished jobs (two subtasks each) spread over users, types and a year of start times.

Rows go in through the raw driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL) with the secondary
indexes dropped and rebuilt afterwards, which is several times faster than keeping them up to date row by row.
Triggers stay, so anything the schema derives from job rows (per-group counts) is exact. The seeder reads the
job table's columns, so it keeps working as migrations add columns with defaults.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.storage import stats
from app.storage.db import create_engine, migrate
from app.storage.users import create_user, ensure_system_user

JOB_TYPES = [
    ('contacts_import', 'Contacts Import', 'import'),
    ('database_backup', 'Database Backup', 'general'),
    ('purge_old_jobs', 'Purge Old Jobs', 'general'),
    ('storage_integrity_check', 'Storage Integrity Check', 'general'),
]
STATUSES = ['completed'] * 8 + ['failed'] * 2
SPACING_SECONDS = 30  # a million jobs then span about a year
BATCH = 50_000
TABLES = ('job', 'subtask')
JOB_COLUMNS = (
    'id', 'job_type', 'name', 'category', 'description', 'status', 'started_at', 'ended_at', 'failed_at',
    'run_by_id', 'run_at', 'progress_done', 'progress_total', 'error', 'params',
)  # fmt: skip
SUBTASK_COLUMNS = ('job_id', 'position', 'name', 'status', 'updated_at', 'message')

Log = Callable[[str], None]


def seed(
    url: str,
    count: int,
    *,
    users: int = 20,
    admin: tuple[str, str] | None = None,
    seed_value: int = 7,
    log: Log = lambda _message: None,
) -> dict[str, float]:
    """Insert ``count`` finished jobs with 2 subtasks each (and the users they belong to); returns timings."""
    engine = create_engine(url)
    try:
        migrate(engine)
        ensure_system_user(engine)
        if admin is not None:
            _ensure_user(engine, admin[0], admin[1], is_admin=True)
        owners = {_ensure_user(engine, f'user{n:02}', 'bench-password'): f'user{n:02}' for n in range(users)}
        started = time.perf_counter()
        postgres = engine.dialect.name == 'postgresql'
        columns = _job_columns(engine)
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            if not postgres:
                cursor.execute(
                    'PRAGMA synchronous=OFF'
                )  # this connection only; a crash mid-seed loses nothing of value
                cursor.execute('PRAGMA cache_size=-262144')  # 256 MB for the index rebuild
            first_id = _max_id(cursor) + 1
            indexes = _drop_indexes(cursor, postgres)
            counts = _count_table(engine) if postgres else None
            if counts is not None:  # group counts are rebuilt below; nobody listens for change notifications yet
                cursor.execute('ALTER TABLE job DISABLE TRIGGER USER')
                cursor.execute('ALTER TABLE subtask DISABLE TRIGGER USER')
            raw.commit()
            log(f'seeding {count:,} jobs ({len(indexes)} secondary indexes dropped for the load)')
            rows = _rows(count, first_id, owners, columns, random.Random(seed_value), postgres)
            for done, (jobs, subtasks) in enumerate(rows, start=1):
                if postgres:
                    _copy(cursor, 'job', columns, jobs)
                    _copy(cursor, 'subtask', SUBTASK_COLUMNS, subtasks)
                else:
                    cursor.executemany(_insert('job', columns), jobs)
                    cursor.executemany(_insert('subtask', SUBTASK_COLUMNS), subtasks)
                raw.commit()
                if done % 4 == 0:
                    log(f'  {min(done * BATCH, count):,} jobs')
            inserted = time.perf_counter()
            log('rebuilding indexes')
            for statement in indexes:
                cursor.execute(statement)
            if postgres:
                cursor.execute("SELECT setval('job_id_seq', (SELECT MAX(id) FROM job))")
            if counts is not None:
                _rebuild_counts(cursor, counts)
                raw.commit()
                with engine.begin() as connection:  # the Overview's rollups, which the triggers also keep
                    stats.rebuild(connection)
                cursor.execute('ALTER TABLE job ENABLE TRIGGER USER')
                cursor.execute('ALTER TABLE subtask ENABLE TRIGGER USER')
            raw.commit()
            cursor.close()
        finally:
            raw.close()
        indexed = time.perf_counter()
        with engine.connect().execution_options(isolation_level='AUTOCOMMIT') as connection:
            # PostgreSQL: what autovacuum does soon after a bulk load; the visibility map lets deep pages be read
            # from the index alone.
            connection.execute(sa.text('VACUUM ANALYZE' if postgres else 'ANALYZE'))
            if postgres:  # flush the load to disk now, as a database grown over months would have long done;
                connection.execute(sa.text('CHECKPOINT'))  # otherwise its writes slow every commit measured next
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    return {
        'seed_seconds': elapsed,
        'insert_seconds': inserted - started,
        'index_seconds': indexed - inserted,
        'jobs_per_second': count / elapsed if elapsed else 0.0,
    }


def _ensure_user(engine: sa.Engine, username: str, password: str, *, is_admin: bool = False) -> int:
    with engine.connect() as connection:
        found = connection.execute(sa.text('SELECT id FROM "user" WHERE username = :name'), {'name': username})
        user_id = found.scalar()
    if user_id is None:
        user_id = create_user(engine, username=username, password=password, is_admin=is_admin).id
    assert user_id is not None
    return int(user_id)


def _job_columns(engine: sa.Engine) -> tuple[str, ...]:
    """The columns to fill: the known ones, plus ``run_by_name`` where the schema keeps it on the job row."""
    present = {column['name'] for column in sa.inspect(engine).get_columns('job')}
    return JOB_COLUMNS + (('run_by_name',) if 'run_by_name' in present else ())


def _count_table(engine: sa.Engine) -> list[str] | None:
    """The group columns of the per-group job counts that triggers keep, if the schema has them."""
    inspector = sa.inspect(engine)
    if not inspector.has_table('job_count'):
        return None
    key: list[str] = inspector.get_pk_constraint('job_count')['constrained_columns']
    return [column for column in key if column != 'shard']


def _rebuild_counts(cursor: Any, group: list[str]) -> None:
    """Recount what the row triggers (off during the load: a PL/pgSQL call per row triples its time) would have kept."""
    columns = ', '.join(group)
    cursor.execute('DELETE FROM job_count')
    cursor.execute(f'INSERT INTO job_count ({columns}, n) SELECT {columns}, COUNT(*) FROM job GROUP BY {columns}')


def _max_id(cursor: Any) -> int:
    cursor.execute('SELECT COALESCE(MAX(id), 0) FROM job')
    return int(cursor.fetchone()[0])


def _drop_indexes(cursor: Any, postgres: bool) -> list[str]:
    """Drop the job and subtask indexes that no constraint needs; returns the statements that rebuild them."""
    if postgres:
        cursor.execute(
            'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() '
            "AND tablename IN ('job', 'subtask') "
            'AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN (%s, %s))',
            ('p', 'u'),
        )
    else:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('job', 'subtask') "
            'AND sql IS NOT NULL'
        )
    found = [(name, statement) for name, statement in cursor.fetchall()]
    for name, _statement in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [statement for _name, statement in found]


def _rows(
    count: int,
    first_id: int,
    owners: dict[int, str],
    columns: tuple[str, ...],
    rng: random.Random,
    postgres: bool,
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (job rows, subtask rows); ids grow with time, as in real use (the newest job has the highest id)."""
    owner_ids = list(owners)
    with_name = 'run_by_name' in columns
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    stamp: Callable[[datetime], Any] = (lambda value: value) if postgres else _sqlite_time
    params = json.dumps({})
    for batch_start in range(0, count, BATCH):
        jobs: list[tuple[Any, ...]] = []
        subtasks: list[tuple[Any, ...]] = []
        for offset in range(batch_start, min(batch_start + BATCH, count)):
            job_id = first_id + offset
            key, name, category = rng.choice(JOB_TYPES)
            status = rng.choice(STATUSES)
            owner = rng.choice(owner_ids)
            start = now - timedelta(seconds=(count - offset) * SPACING_SECONDS)
            end = start + timedelta(seconds=rng.randint(1, 600))
            failed = status == 'failed'
            started_at, ended_at = stamp(start), stamp(end)
            row = (
                job_id, key, name, category, f'{name} run {job_id} for batch {rng.randint(1, 99999)}', status,
                started_at, ended_at, ended_at if failed else None, owner,
                '/imports' if category == 'import' else '/settings/maintenance/tasks', 0, 0,
                'Validate rows: 3 of 10 rows rejected' if failed else None, params,
            )  # fmt: skip
            jobs.append((*row, owners[owner]) if with_name else row)
            subtasks.append((job_id, 0, 'Prepare', 'completed', ended_at, ''))
            subtasks.append(
                (job_id, 1, 'Run', 'failed' if failed else 'completed', ended_at, 'broke' if failed else '')
            )
        yield jobs, subtasks


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime text format, which the app compares as strings."""
    return value.isoformat(' ', 'microseconds')


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f'INSERT INTO {table} ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'


def _copy(cursor: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f'COPY {table} ({", ".join(columns)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
