"""Per-group job counts in several rows per group ("shards"), so writers on several nodes do not queue for one row.

Every job that starts or ends changes the count of its group (category, status, job, run by). With one row per
group, concurrent transactions of several processes wait for each other's lock on that row until they commit.
On PostgreSQL each change now goes to one of SHARDS rows, picked by the writing backend; totals sum the rows (as
they already did across groups). SQLite has a single writer and keeps shard 0.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SHARDS = 16
GROUP = 'category, status, name, run_by_id'

POSTGRES_FUNCTION = f"""CREATE OR REPLACE FUNCTION job_count_change() RETURNS trigger AS $$
    DECLARE
        my_shard smallint := pg_backend_pid() % {SHARDS};
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            INSERT INTO job_count ({GROUP}, shard, n)
            VALUES (OLD.category, OLD.status, OLD.name, OLD.run_by_id, my_shard, -1)
            ON CONFLICT ({GROUP}, shard) DO UPDATE SET n = job_count.n - 1;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO job_count ({GROUP}, shard, n)
            VALUES (NEW.category, NEW.status, NEW.name, NEW.run_by_id, my_shard, 1)
            ON CONFLICT ({GROUP}, shard) DO UPDATE SET n = job_count.n + 1;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""

SQLITE_TRIGGERS = {
    'job_count_insert': f"""CREATE TRIGGER job_count_insert AFTER INSERT ON job BEGIN
        INSERT INTO job_count ({GROUP}, shard, n) VALUES (NEW.category, NEW.status, NEW.name, NEW.run_by_id, 0, 1)
        ON CONFLICT ({GROUP}, shard) DO UPDATE SET n = n + 1;
    END""",
    'job_count_delete': """CREATE TRIGGER job_count_delete AFTER DELETE ON job BEGIN
        UPDATE job_count SET n = n - 1 WHERE category = OLD.category AND status = OLD.status
            AND name = OLD.name AND run_by_id = OLD.run_by_id AND shard = 0;
    END""",
    'job_count_update': f"""CREATE TRIGGER job_count_update AFTER UPDATE OF category, status, name, run_by_id ON job
    WHEN OLD.category IS NOT NEW.category OR OLD.status IS NOT NEW.status OR OLD.name IS NOT NEW.name
        OR OLD.run_by_id IS NOT NEW.run_by_id BEGIN
        UPDATE job_count SET n = n - 1 WHERE category = OLD.category AND status = OLD.status
            AND name = OLD.name AND run_by_id = OLD.run_by_id AND shard = 0;
        INSERT INTO job_count ({GROUP}, shard, n) VALUES (NEW.category, NEW.status, NEW.name, NEW.run_by_id, 0, 1)
        ON CONFLICT ({GROUP}, shard) DO UPDATE SET n = n + 1;
    END""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE job_count ADD COLUMN shard smallint NOT NULL DEFAULT 0')
        op.execute('ALTER TABLE job_count DROP CONSTRAINT job_count_pkey')
        op.execute(f'ALTER TABLE job_count ADD CONSTRAINT job_count_pkey PRIMARY KEY ({GROUP}, shard)')
        op.execute(POSTGRES_FUNCTION)
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f'DROP TRIGGER {name}')
    op.create_table(
        'job_count_new',
        sa.Column('category', sa.String(20), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('run_by_id', sa.Integer, nullable=False),
        sa.Column('shard', sa.SmallInteger, nullable=False, server_default='0'),
        sa.Column('n', sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint('category', 'status', 'name', 'run_by_id', 'shard'),
    )
    op.execute(f'INSERT INTO job_count_new ({GROUP}, shard, n) SELECT {GROUP}, 0, n FROM job_count')
    op.drop_table('job_count')
    op.rename_table('job_count_new', 'job_count')
    for statement in SQLITE_TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError('restore a backup taken before the upgrade')
