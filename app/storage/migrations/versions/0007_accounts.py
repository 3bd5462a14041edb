"""Accounts: user status and last login, API tokens (issue 14).

``user.disabled_at`` (a disabled user cannot log in, and their sessions and tokens stop working),
``user.last_login_at``, ``user.auth_version`` (bumped whenever a user's sessions or role change, so open pages on
every node re-check who they belong to) and ``api_token`` (only a SHA-256 of each token is stored).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from app.storage.models import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('user', sa.Column('disabled_at', UTCDateTime(), nullable=True))
    op.add_column('user', sa.Column('last_login_at', UTCDateTime(), nullable=True))
    op.add_column('user', sa.Column('auth_version', sa.Integer, nullable=False, server_default='0'))
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('user_id', sa.Integer, sa.ForeignKey('user.id', ondelete='CASCADE'), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_used_at', UTCDateTime(), nullable=True),
        sa.Column('expires_at', UTCDateTime(), nullable=True),
    )
    op.create_index('ix_api_token_user_id', 'api_token', ['user_id'])
    op.create_index('ix_api_token_token_hash', 'api_token', ['token_hash'], unique=True)


def downgrade() -> None:
    op.drop_table('api_token')
    with op.batch_alter_table('user') as batch:
        batch.drop_column('auth_version')
        batch.drop_column('last_login_at')
        batch.drop_column('disabled_at')
