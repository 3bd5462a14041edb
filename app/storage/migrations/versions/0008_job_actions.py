"""Acting on jobs: cancellation, reruns, progress and the job log (issue 12).

- job: ``cancelled_by`` (who asked to cancel; the flag a worker on any node polls), ``rerun_of`` (the job this one
  runs again; no foreign key, so adding it never rebuilds the SQLite job table and its triggers), the one progress
  scale (``progress_percent``, ``progress_eta``, ``progress_step``: the step under way) and the log's counters
  (``log_seq``: the last line's number, so a log write changes the row and reaches other nodes through the job
  trigger of 0005; ``log_dropped``).
- job_log: the newest lines of each job, numbered per job.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = (
    sa.Column('cancelled_by', sa.String(150), nullable=True),
    sa.Column('rerun_of', sa.Integer(), nullable=True),
    sa.Column('progress_percent', sa.Float(), nullable=True),
    sa.Column('progress_eta', sa.Float(), nullable=True),
    sa.Column('progress_step', sa.String(200), nullable=True),
    sa.Column('log_seq', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('log_dropped', sa.Integer(), nullable=False, server_default='0'),
)


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column('job', column)
    op.create_index('ix_job_rerun_of', 'job', ['rerun_of'])
    op.create_table(
        'job_log',
        sa.Column('job_id', sa.Integer(), sa.ForeignKey('job.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('seq', sa.Integer(), primary_key=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('level', sa.String(10), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('job_log')
    op.drop_index('ix_job_rerun_of', 'job')
    with op.batch_alter_table('job') as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column.name)
