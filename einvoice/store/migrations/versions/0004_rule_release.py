"""the rule release that checked an invoice and its profile (issue 12: every report names
its release; show/view name the ZUGFeRD / Factur-X / XRechnung profile)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:15:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule_release', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('profile', sqlmodel.sql.sqltypes.AutoString(length=32),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('profile')
        batch_op.drop_column('rule_release')
