"""Acting on jobs: cancellation, reruns, progress and the job log (issue 12).

Reserved so that work on several issues can add its schema side by side; filled in by the issue named above.

Revision ID: 0008
Revises: 0007
"""

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
