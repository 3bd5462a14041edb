"""Several instances on one PostgreSQL: attempt counts, the executor's job id, and change notifications.

- ``job.attempts``: how many times the job was started (a job whose worker died is started again).
- ``job.engine_job_id``: the executor's own id for the run (procrastinate's job id; empty on SQLite).
- PostgreSQL only: a trigger on job, subtask and job_file sends ``pg_notify('jobs_changes', ...)`` with the job
  id, its owner, its category, the ``application_name`` of the writing process and the schema (NOTIFY channels are
  shared by the whole database), so every instance can relay changes made by the others into its own change
  feed (app.jobs.relay).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CHANNEL = 'jobs_changes'
NOTIFY_FUNCTION = f"""
CREATE FUNCTION jobs_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'job' THEN
        PERFORM pg_notify('{CHANNEL}', json_build_object(
            'kind', 'job', 'id', NEW.id, 'owner', NEW.run_by_id, 'category', NEW.category,
            'origin', current_setting('application_name'), 'schema', current_schema())::text);
    ELSE
        PERFORM pg_notify('{CHANNEL}', json_build_object(
            'kind', 'detail', 'id', job.id, 'owner', job.run_by_id, 'category', job.category,
            'origin', current_setting('application_name'), 'schema', current_schema())::text)
        FROM job WHERE job.id = NEW.job_id;
    END IF;
    RETURN NULL;
END $$
"""
TRIGGERS = {
    'job_notify_change': 'AFTER INSERT OR UPDATE ON job',
    'subtask_notify_change': 'AFTER INSERT OR UPDATE ON subtask',
    'job_file_notify_change': 'AFTER INSERT ON job_file',
}


def upgrade() -> None:
    with op.batch_alter_table('job') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('engine_job_id', sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(NOTIFY_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(f'CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION jobs_notify_change()')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, when in TRIGGERS.items():
            table = when.split(' ON ')[1]
            op.execute(f'DROP TRIGGER {name} ON {table}')
        op.execute('DROP FUNCTION jobs_notify_change()')
    with op.batch_alter_table('job') as batch:
        batch.drop_column('engine_job_id')
        batch.drop_column('attempts')
