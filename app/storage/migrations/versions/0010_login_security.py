"""Login security: shared login throttling, session expiry (issue 13).

Reserved so that work on several issues can add its schema side by side; filled in by the issue named above.

Revision ID: 0010
Revises: 0009
"""

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
