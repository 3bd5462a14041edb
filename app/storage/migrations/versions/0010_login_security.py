"""Login security: login throttling shared by every node (issue 13).

Failed logins are counted per username and per client address in the database, so every node of a cluster
sees the same counts (app.storage.throttle). Session expiry needs no schema: ``user_session`` already records
when a session started and was last seen.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from app.storage.models import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(64), primary_key=True),  # SHA-256 (hex) of "user:<name>" or "address:<ip>"
        sa.Column('tries', sa.Integer, nullable=False),
        sa.Column('last_try_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_login_throttle_last_try_at', 'login_throttle', ['last_try_at'])


def downgrade() -> None:
    op.drop_table('login_throttle')
