"""supplier e-mail on file: where notices about an invoice with a suspicious IBAN go

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:40:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.drop_column('email')
