"""Job statistics kept as jobs start and end, for the Overview page (issue 15).

Triggers keep, in the same transaction as each job change:
- ``job_stat``: jobs per start hour, job, owner and status (``run_by_id`` 0 counts everyone's, for admins);
- ``job_duration``: durations of ended jobs per start hour, job and owner, in buckets whose bounds grow by a
  factor of sqrt(2) from 0.1 s (so a percentile read from them is within about 19 % of the true one).
The Overview then sums at most a few thousand rows, whatever the number of jobs. On PostgreSQL each change goes to
one of SHARDS rows (picked by the writing backend, as for ``job_count``), so writers on several nodes do not queue
for one row; SQLite has one writer and keeps shard 0. Existing jobs are counted once, here.

Revision ID: 0009
Revises: 0008
"""

import math

import sqlalchemy as sa
from alembic import op

from app.storage.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

SHARDS = 16
FIRST_BOUND = 0.1  # seconds
# Bucket k holds durations in [BOUNDS[k - 1], BOUNDS[k]); bucket 0 those under 0.1 s; the last one everything
# from 30 days on.
BOUNDS = [FIRST_BOUND * math.sqrt(2) ** k for k in range(2 * math.ceil(math.log2(30 * 86400 / FIRST_BOUND)) + 1)]
STAT_KEY = 'hour, category, name, run_by_id, status, shard'
DURATION_KEY = 'hour, category, name, run_by_id, bucket, shard'

SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {row}.started_at)"
SQLITE_SECONDS = '(julianday({row}.ended_at) - julianday({row}.started_at)) * 86400.0'
SQLITE_BUCKET = (
    'CASE '
    + ' '.join(f'WHEN {SQLITE_SECONDS} < {bound!r} THEN {k}' for k, bound in enumerate(BOUNDS))
    + f' ELSE {len(BOUNDS)} END'
)


def _sqlite_changes(row: str, delta: int) -> str:
    """Statements adding ``delta`` for ``row`` (NEW or OLD) to both owner keys (the job's owner and 0)."""
    hour, bucket = SQLITE_HOUR.format(row=row), SQLITE_BUCKET.format(row=row)
    statements = []
    for owner in (f'{row}.run_by_id', '0'):
        statements.append(
            f'INSERT INTO job_stat ({STAT_KEY}, n) VALUES ({hour}, {row}.category, {row}.name, {owner}, '
            f'{row}.status, 0, {delta}) ON CONFLICT ({STAT_KEY}) DO UPDATE SET n = n + {delta};'
        )
        statements.append(
            f'INSERT INTO job_duration ({DURATION_KEY}, n) SELECT {hour}, {row}.category, {row}.name, {owner}, '
            f'{bucket}, 0, {delta} WHERE {row}.ended_at IS NOT NULL '
            f'ON CONFLICT ({DURATION_KEY}) DO UPDATE SET n = n + {delta};'
        )
    return '\n'.join(statements)


SQLITE_TRIGGERS = {
    'job_stat_insert': f'CREATE TRIGGER job_stat_insert AFTER INSERT ON job BEGIN {_sqlite_changes("NEW", 1)} END',
    'job_stat_delete': f'CREATE TRIGGER job_stat_delete AFTER DELETE ON job BEGIN {_sqlite_changes("OLD", -1)} END',
    'job_stat_update': f"""CREATE TRIGGER job_stat_update AFTER UPDATE OF status, ended_at, started_at ON job
        WHEN OLD.status IS NOT NEW.status OR OLD.ended_at IS NOT NEW.ended_at OR OLD.started_at IS NOT NEW.started_at
        BEGIN {_sqlite_changes('OLD', -1)} {_sqlite_changes('NEW', 1)} END""",
}

POSTGRES_BOUNDS = 'ARRAY[' + ', '.join(repr(bound) for bound in BOUNDS) + ']::float8[]'
POSTGRES_FUNCTION = f"""CREATE OR REPLACE FUNCTION job_stat_change() RETURNS trigger AS $$
    DECLARE
        my_shard smallint := pg_backend_pid() % {SHARDS};
        owner integer;
    BEGIN
        FOREACH owner IN ARRAY ARRAY[0, CASE WHEN TG_OP = 'INSERT' THEN NEW.run_by_id ELSE OLD.run_by_id END] LOOP
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                INSERT INTO job_stat ({STAT_KEY}, n)
                VALUES (date_trunc('hour', OLD.started_at), OLD.category, OLD.name, owner, OLD.status, my_shard, -1)
                ON CONFLICT ({STAT_KEY}) DO UPDATE SET n = job_stat.n - 1;
                IF OLD.ended_at IS NOT NULL THEN
                    INSERT INTO job_duration ({DURATION_KEY}, n)
                    VALUES (date_trunc('hour', OLD.started_at), OLD.category, OLD.name, owner,
                            width_bucket(EXTRACT(EPOCH FROM OLD.ended_at - OLD.started_at)::float8, {POSTGRES_BOUNDS}),
                            my_shard, -1)
                    ON CONFLICT ({DURATION_KEY}) DO UPDATE SET n = job_duration.n - 1;
                END IF;
            END IF;
        END LOOP;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            FOREACH owner IN ARRAY ARRAY[0, NEW.run_by_id] LOOP
                INSERT INTO job_stat ({STAT_KEY}, n)
                VALUES (date_trunc('hour', NEW.started_at), NEW.category, NEW.name, owner, NEW.status, my_shard, 1)
                ON CONFLICT ({STAT_KEY}) DO UPDATE SET n = job_stat.n + 1;
                IF NEW.ended_at IS NOT NULL THEN
                    INSERT INTO job_duration ({DURATION_KEY}, n)
                    VALUES (date_trunc('hour', NEW.started_at), NEW.category, NEW.name, owner,
                            width_bucket(EXTRACT(EPOCH FROM NEW.ended_at - NEW.started_at)::float8, {POSTGRES_BOUNDS}),
                            my_shard, 1)
                    ON CONFLICT ({DURATION_KEY}) DO UPDATE SET n = job_duration.n + 1;
                END IF;
            END LOOP;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""
POSTGRES_TRIGGERS = [
    """CREATE TRIGGER job_stat_insert_delete AFTER INSERT OR DELETE ON job
        FOR EACH ROW EXECUTE FUNCTION job_stat_change()""",
    """CREATE TRIGGER job_stat_update AFTER UPDATE OF status, ended_at, started_at ON job
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.ended_at IS DISTINCT FROM NEW.ended_at
            OR OLD.started_at IS DISTINCT FROM NEW.started_at)
        EXECUTE FUNCTION job_stat_change()""",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, column in (('job_stat', 'status'), ('job_duration', 'bucket')):
        op.create_table(
            table,
            sa.Column('hour', UTCDateTime(), nullable=False),
            sa.Column('category', sa.String(20), nullable=False),
            sa.Column('name', sa.String(200), nullable=False),
            sa.Column('run_by_id', sa.Integer, nullable=False),
            sa.Column(column, sa.String(20) if column == 'status' else sa.SmallInteger, nullable=False),
            sa.Column('shard', sa.SmallInteger, nullable=False),
            sa.Column('n', sa.BigInteger, nullable=False),
            # One owner's window is one range of the key (the Overview reads one owner: a user, or 0 for admins).
            sa.PrimaryKeyConstraint('run_by_id', 'hour', 'category', 'name', column, 'shard'),
            # SQLite: the rows live in the key's order, so a window is read without a lookup per row (half the time).
            sqlite_with_rowid=False,
        )
    if postgres:
        op.execute(POSTGRES_FUNCTION)
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)
    _count_existing_jobs(postgres)


def _count_existing_jobs(postgres: bool) -> None:
    hour = "date_trunc('hour', started_at)" if postgres else SQLITE_HOUR.format(row='job')
    seconds = 'EXTRACT(EPOCH FROM ended_at - started_at)::float8' if postgres else SQLITE_SECONDS.format(row='job')
    bucket = f'width_bucket({seconds}, {POSTGRES_BOUNDS})' if postgres else SQLITE_BUCKET.format(row='job')
    for owner, by_owner in (('run_by_id', ', run_by_id'), ('0', '')):  # (GROUP BY 0 would name a column)
        op.execute(
            f'INSERT INTO job_stat ({STAT_KEY}, n) SELECT {hour}, category, name, {owner}, status, 0, count(*) '
            f'FROM job GROUP BY {hour}, category, name{by_owner}, status'
        )
        op.execute(
            f'INSERT INTO job_duration ({DURATION_KEY}, n) SELECT {hour}, category, name, {owner}, {bucket}, 0, '
            f'count(*) FROM job WHERE ended_at IS NOT NULL GROUP BY {hour}, category, name{by_owner}, {bucket}'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER job_stat_update ON job')
        op.execute('DROP TRIGGER job_stat_insert_delete ON job')
        op.execute('DROP FUNCTION job_stat_change()')
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER {name}')
    op.drop_table('job_duration')
    op.drop_table('job_stat')
