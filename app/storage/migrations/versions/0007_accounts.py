"""Accounts: user status and last login, API tokens (issue 14).

Reserved so that work on several issues can add its schema side by side; filled in by the issue named above.

Revision ID: 0007
Revises: 0006
"""

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
