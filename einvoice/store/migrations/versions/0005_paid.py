"""the day an invoice was paid (issue 13: status ``paid``, recorded by hand or from a
camt.053 bank statement)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('paid_on')
