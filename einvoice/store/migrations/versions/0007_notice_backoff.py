"""notices that cannot break the queue: attempts and back-off (issue 14)

``notice.attempts``: how often the outbox tried to send it; ``notice.next_attempt_at``: the
earliest next try after a failure (5 minutes, 30 minutes, 2 hours, ...); ``notice.failed_at``:
when the outbox gave up on it (shown, with its error, by ``einvoice status``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import einvoice.store.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at',
                                      einvoice.store.types.AwareDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('failed_at',
                                      einvoice.store.types.AwareDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_column('failed_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
