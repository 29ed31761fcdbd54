"""Supplier master data: who delivers, their known IBANs, accounts and cost centre; the VAT id
is kept as ``lifecycle.vat_key`` compares it.

The warnings it makes possible (unknown supplier, invalid or new IBAN) are decided in
``einvoice.lifecycle.supplier_flags``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import EinvoiceError
from einvoice.lifecycle import iban_ok, normalise_iban, vat_key
from einvoice.notify.recipient import address
from einvoice.store import tables as t
from einvoice.views.queries import supplier_for


class SupplierError(EinvoiceError):
    """Supplier master data that cannot be saved as given."""


@dataclass(frozen=True)
class SupplierData:
    name: str
    vat_id: str | None = None
    ibans: tuple[str, ...] = ()
    account: str | None = None
    cost_centre: str | None = None
    creditor_account: str | None = None
    email: str | None = None


def save_supplier(ctx: Context, data: SupplierData) -> t.Supplier:
    """Create or update (by VAT id, else by name) a supplier."""
    bad = [i for i in data.ibans if not iban_ok(i)]
    if bad:
        raise SupplierError(f"invalid IBAN: {', '.join(bad)}")
    if data.email is not None and address(data.email) != data.email.strip():
        raise SupplierError(f"not an e-mail address: {data.email!r}")
    with Session(ctx.engine, expire_on_commit=False) as s:
        row = supplier_for(s, data.vat_id, data.name) or t.Supplier(name=data.name)
        row.name = data.name
        row.vat_id = vat_key(data.vat_id) or row.vat_id
        known = set(filter(None, row.ibans.split(",")))
        row.ibans = ",".join(sorted(known | {normalise_iban(i) for i in data.ibans}))
        row.account = data.account or row.account
        row.cost_centre = data.cost_centre or row.cost_centre
        row.creditor_account = data.creditor_account or row.creditor_account
        row.email = data.email or row.email
        s.add(row)
        s.commit()
        return row


def suppliers(ctx: Context) -> list[t.Supplier]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.Supplier).order_by(col(t.Supplier.name))).all())
