"""Supplier master data and the warning flags it makes possible.

An IBAN the supplier never used before is the classic invoice-fraud pattern ("please pay to
our new account"), so it is flagged, as are invalid IBANs and suppliers not on file.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from einvoice.context import Context
from einvoice.errors import EinvoiceError
from einvoice.store import tables as t


class SupplierError(EinvoiceError):
    """Supplier master data that cannot be saved as given."""


def normalise_iban(value: str) -> str:
    return value.replace(" ", "").upper()


def iban_ok(value: str) -> bool:
    from schwifty import IBAN  # its bank registry is large: loaded when an IBAN is checked
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(value)
    except (SchwiftyException, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SupplierData:
    name: str
    vat_id: str | None = None
    ibans: tuple[str, ...] = ()
    account: str | None = None
    cost_centre: str | None = None
    creditor_account: str | None = None


def save_supplier(ctx: Context, data: SupplierData) -> t.Supplier:
    """Create or update (by VAT id, else by name) a supplier."""
    bad = [i for i in data.ibans if not iban_ok(i)]
    if bad:
        raise SupplierError(f"invalid IBAN: {', '.join(bad)}")
    with Session(ctx.engine, expire_on_commit=False) as s:
        row = lookup(s, data.vat_id, data.name) or t.Supplier(name=data.name)
        row.name = data.name
        row.vat_id = (data.vat_id or "").replace(" ", "").upper() or row.vat_id
        known = set(filter(None, row.ibans.split(",")))
        row.ibans = ",".join(sorted(known | {normalise_iban(i) for i in data.ibans}))
        row.account = data.account or row.account
        row.cost_centre = data.cost_centre or row.cost_centre
        row.creditor_account = data.creditor_account or row.creditor_account
        s.add(row)
        s.commit()
        return row


def suppliers(ctx: Context) -> list[t.Supplier]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.Supplier).order_by(col(t.Supplier.name))).all())


def lookup(s: Session, vat_id: str | None, name: str | None) -> t.Supplier | None:
    """The supplier by VAT id (normalised), else by exact name."""
    conditions = []
    if vat_id:
        conditions.append(col(t.Supplier.vat_id) == vat_id.replace(" ", "").upper())
    if name:
        conditions.append(col(t.Supplier.name) == name)
    if not conditions:
        return None
    return s.exec(select(t.Supplier).where(or_(*conditions))).first()


def flags(inv: t.Invoice, supplier: t.Supplier | None) -> list[str]:
    """Warnings a clerk must see before approving."""
    out: list[str] = []
    if supplier is None and inv.seller_name:
        out.append("unbekannter Lieferant / unknown supplier")
    ibans = [i for i in (inv.ibans or "").split(",") if i]
    known = set((supplier.ibans if supplier else "").split(","))
    for iban in ibans:
        if not iban_ok(iban):
            out.append(f"ungültige IBAN / invalid IBAN {iban}")
        elif supplier is not None and normalise_iban(iban) not in known:
            out.append(f"neue IBAN / IBAN not on file {iban}")
    return out
