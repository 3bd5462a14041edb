"""Fast job lists at a million jobs: the run-by name on the job row, an index per sortable column,
and per-group job counts kept by triggers so totals never count the whole table.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Every sort is "column, started_at, id" in one direction, so one index per column serves the sort
# and the filter on that column (sorted newest first).
SORTED_COLUMNS = ('status', 'name', 'description', 'ended_at', 'failed_at', 'run_by_name')
GROUP = ('category', 'status', 'name', 'run_by_id')

SQLITE_TRIGGERS = [
    """CREATE TRIGGER job_count_insert AFTER INSERT ON job BEGIN
        INSERT INTO job_count (category, status, name, run_by_id, n)
        VALUES (NEW.category, NEW.status, NEW.name, NEW.run_by_id, 1)
        ON CONFLICT (category, status, name, run_by_id) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER job_count_delete AFTER DELETE ON job BEGIN
        UPDATE job_count SET n = n - 1 WHERE category = OLD.category AND status = OLD.status
            AND name = OLD.name AND run_by_id = OLD.run_by_id;
    END""",
    """CREATE TRIGGER job_count_update AFTER UPDATE OF category, status, name, run_by_id ON job
    WHEN OLD.category IS NOT NEW.category OR OLD.status IS NOT NEW.status OR OLD.name IS NOT NEW.name
        OR OLD.run_by_id IS NOT NEW.run_by_id BEGIN
        UPDATE job_count SET n = n - 1 WHERE category = OLD.category AND status = OLD.status
            AND name = OLD.name AND run_by_id = OLD.run_by_id;
        INSERT INTO job_count (category, status, name, run_by_id, n)
        VALUES (NEW.category, NEW.status, NEW.name, NEW.run_by_id, 1)
        ON CONFLICT (category, status, name, run_by_id) DO UPDATE SET n = n + 1;
    END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION job_count_change() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE job_count SET n = n - 1 WHERE category = OLD.category AND status = OLD.status
                AND name = OLD.name AND run_by_id = OLD.run_by_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO job_count (category, status, name, run_by_id, n)
            VALUES (NEW.category, NEW.status, NEW.name, NEW.run_by_id, 1)
            ON CONFLICT (category, status, name, run_by_id) DO UPDATE SET n = job_count.n + 1;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER job_count_insert_delete AFTER INSERT OR DELETE ON job
        FOR EACH ROW EXECUTE FUNCTION job_count_change()""",
    """CREATE TRIGGER job_count_update AFTER UPDATE OF category, status, name, run_by_id ON job
        FOR EACH ROW WHEN (OLD.category IS DISTINCT FROM NEW.category OR OLD.status IS DISTINCT FROM NEW.status
            OR OLD.name IS DISTINCT FROM NEW.name OR OLD.run_by_id IS DISTINCT FROM NEW.run_by_id)
        EXECUTE FUNCTION job_count_change()""",
]


def upgrade() -> None:
    with op.batch_alter_table('job') as batch:
        batch.add_column(sa.Column('run_by_name', sa.String(150), nullable=False, server_default=''))
    op.execute('UPDATE job SET run_by_name = (SELECT username FROM "user" WHERE "user".id = job.run_by_id)')
    for column in SORTED_COLUMNS:
        op.create_index(f'ix_job_category_{column}', 'job', ['category', column, 'started_at', 'id'])
    op.create_index('ix_job_started', 'job', ['started_at', 'id'])  # both tabs at once (the API without category)
    op.create_index('ix_job_category_id', 'job', ['category', 'id'])
    op.create_table(
        'job_count',
        sa.Column('category', sa.String(20), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('run_by_id', sa.Integer, nullable=False),
        sa.Column('n', sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*GROUP),
    )
    op.execute(f'INSERT INTO job_count ({", ".join(GROUP)}, n) SELECT {", ".join(GROUP)}, COUNT(*) FROM job '
               f'GROUP BY {", ".join(GROUP)}')  # fmt: skip
    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == 'postgresql' else SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute('ANALYZE job')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER job_count_update ON job')
        op.execute('DROP TRIGGER job_count_insert_delete ON job')
        op.execute('DROP FUNCTION job_count_change()')
    else:
        for name in ('job_count_insert', 'job_count_delete', 'job_count_update'):
            op.execute(f'DROP TRIGGER {name}')
    op.drop_table('job_count')
    for column in SORTED_COLUMNS:
        op.drop_index(f'ix_job_category_{column}', 'job')
    op.drop_index('ix_job_started', 'job')
    op.drop_index('ix_job_category_id', 'job')
    with op.batch_alter_table('job') as batch:
        batch.drop_column('run_by_name')
