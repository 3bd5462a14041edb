"""Initial schema: users, jobs, subtasks, job files, contacts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from app.storage.models import UTCDateTime

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('username', sa.String(150), nullable=False, unique=True),
        sa.Column('password_hash', sa.String(255), nullable=False),
        sa.Column('is_admin', sa.Boolean, nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )
    op.create_table(
        'job',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('job_type', sa.String(100), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('category', sa.String(20), nullable=False),
        sa.Column('description', sa.String(1000), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.Column('failed_at', UTCDateTime(), nullable=True),
        sa.Column('run_by_id', sa.Integer, sa.ForeignKey('user.id'), nullable=False),
        sa.Column('run_at', sa.String(500), nullable=False),
        sa.Column('progress_done', sa.Integer, nullable=False),
        sa.Column('progress_total', sa.Integer, nullable=False),
        sa.Column('error', sa.Text, nullable=True),
        sa.Column('params', sa.JSON, nullable=False),
    )
    op.create_index('ix_job_category_started', 'job', ['category', 'started_at', 'id'])
    op.create_index('ix_job_owner_category_started', 'job', ['run_by_id', 'category', 'started_at', 'id'])
    op.create_index('ix_job_ended_at', 'job', ['ended_at'])
    op.create_index('ix_job_status', 'job', ['status'])
    op.create_table(
        'subtask',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('job_id', sa.Integer, sa.ForeignKey('job.id', ondelete='CASCADE'), nullable=False),
        sa.Column('position', sa.Integer, nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('message', sa.Text, nullable=False),
    )
    op.create_index('ix_subtask_job_position', 'subtask', ['job_id', 'position'])
    op.create_table(
        'job_file',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('job_id', sa.Integer, sa.ForeignKey('job.id', ondelete='CASCADE'), nullable=False),
        sa.Column('role', sa.String(20), nullable=False),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('relative_path', sa.String(500), nullable=False),
        sa.Column('size', sa.BigInteger, nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_job_file_job_id', 'job_file', ['job_id'])
    op.create_table(
        'contact',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('email', sa.String(320), nullable=False, unique=True),
        sa.Column('phone', sa.String(20), nullable=True),
        sa.Column('company', sa.String(200), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_contact_updated_at', 'contact', ['updated_at'])


def downgrade() -> None:
    for table in ('contact', 'job_file', 'subtask', 'job', 'user'):
        op.drop_table(table)
