"""undefined documents re-validated with back-off (issue 14)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
