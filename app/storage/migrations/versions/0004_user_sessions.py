"""Login sessions in the database: any node that shares it can serve a logged-in browser, and logging out or
changing a password ends a session on every node.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from app.storage.models import UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_session',
        sa.Column('id', sa.String(64), primary_key=True),  # SHA-256 (hex) of the browser id
        sa.Column('user_id', sa.Integer, sa.ForeignKey('user.id', ondelete='CASCADE'), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_user_session_user_id', 'user_session', ['user_id'])


def downgrade() -> None:
    op.drop_table('user_session')
