"""undefined documents re-validated with back-off; junk originals removed (issue 14)

``invoice.revalidation_attempts`` and ``invoice.next_revalidation_at``: how often a document
the validation engine could not decide was validated again, and when it is next (none yet: one
minute after it was received, ``lifecycle.revalidation``). ``submission.archive_removed_at``:
when the originals of a submission holding no invoice were removed after their retention.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import einvoice.store.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revalidation_attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('next_revalidation_at',
                                      einvoice.store.types.AwareDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archive_removed_at',
                                      einvoice.store.types.AwareDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('archive_removed_at')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('next_revalidation_at')
        batch_op.drop_column('revalidation_attempts')
