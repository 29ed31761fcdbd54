"""duplicate key on normalised invoice numbers and supplier binding (issue 14)

``invoice.number_key`` (the invoice number as duplicates compare it) replaces ``number`` in the
duplicate index; ``number`` stays as read, for display. ``invoice.unbound`` and
``invoice.binding_flags``: the channel did not speak for the seller, and why.

The backfill computes the keys of every existing invoice (``number_key``, and ``seller_key`` again,
now NFKC/casefold/invisible characters aside) and the VAT ids of the supplier master with the
functions ingest compares by (``einvoice.lifecycle.keys``), so that an invoice received before the
upgrade is found as the original of a copy received after it. A supplier whose normalised VAT id
another supplier already holds keeps its VAT id as it was (the unique index would refuse it; two
such rows are for a person to merge).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from einvoice.lifecycle.keys import name_key, number_key, vat_key

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 1000
_invoice = sa.table('invoice', sa.column('id', sa.Integer), sa.column('number', sa.String),
                    sa.column('number_key', sa.String), sa.column('seller_key', sa.String),
                    sa.column('seller_vat_id', sa.String), sa.column('seller_name', sa.String))
_supplier = sa.table('supplier', sa.column('id', sa.Integer), sa.column('vat_id', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number_key',
                                      sqlmodel.sql.sqltypes.AutoString(length=256),
                                      nullable=True))
        batch_op.add_column(sa.Column('unbound', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('binding_flags', sa.Text(), nullable=True))
        batch_op.drop_index('ix_invoice_duplicate_key')
        batch_op.create_index('ix_invoice_duplicate_key',
                              ['seller_key', 'number_key', 'type_code', 'gross_total'],
                              unique=False)
    _backfill_invoices(op.get_bind())
    _backfill_suppliers(op.get_bind())


def _backfill_invoices(conn: sa.Connection) -> None:
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_invoice.c.id, _invoice.c.number, _invoice.c.seller_vat_id,
                      _invoice.c.seller_name)
            .where(_invoice.c.id > last).order_by(_invoice.c.id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(
            _invoice.update().where(_invoice.c.id == sa.bindparam('row_id'))
            .values(number_key=sa.bindparam('nk'), seller_key=sa.bindparam('sk')),
            [{'row_id': r.id, 'nk': number_key(r.number),
              'sk': vat_key(r.seller_vat_id) or name_key(r.seller_name)} for r in rows])
        last = rows[-1].id


def _backfill_suppliers(conn: sa.Connection) -> None:
    rows = conn.execute(sa.select(_supplier.c.id, _supplier.c.vat_id)
                        .where(_supplier.c.vat_id.is_not(None)).order_by(_supplier.c.id)).all()
    taken = {r.vat_id for r in rows}
    for row in rows:
        key = vat_key(row.vat_id)
        if key is None or key == row.vat_id or key in taken:
            continue
        conn.execute(_supplier.update().where(_supplier.c.id == row.id).values(vat_id=key))
        taken.discard(row.vat_id)
        taken.add(key)


def downgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_duplicate_key')
        batch_op.create_index('ix_invoice_duplicate_key',
                              ['seller_key', 'number', 'type_code', 'gross_total'],
                              unique=False)
        batch_op.drop_column('binding_flags')
        batch_op.drop_column('unbound')
        batch_op.drop_column('number_key')
