"""duplicate key on normalised invoice numbers and supplier binding (issue 14)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
