"""Job statistics kept as jobs finish, for the Overview page (issue 15).

Reserved so that work on several issues can add its schema side by side; filled in by the issue named above.

Revision ID: 0009
Revises: 0008
"""

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
