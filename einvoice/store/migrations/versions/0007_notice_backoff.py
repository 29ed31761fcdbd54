"""notices that cannot break the queue: attempts and back-off (issue 14)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
