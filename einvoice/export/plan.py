"""What the next export batch takes, and how each invoice in it is booked.

The booking rules live here and nowhere else. For one invoice:

- Konto (creditor) = the supplier's creditor account, else setting ``datev_default_creditor``;
- Gegenkonto (account) = the G/L account staff assigned to the invoice, else the supplier's
  default account, else setting ``datev_default_account``; an account counts only when it is a
  DATEV account number (digits, at most 9), so a mistyped assignment falls back instead of
  producing a booking file DATEV refuses;
- KOST1 (cost centre) = the assigned cost centre, else the supplier's;
- an account assigned to one line (``assign --line``) books that line (with ``datev_per_line``);
- an invoice in another currency than EUR (BT-5) is booked at its rate to EUR (``eur_rate``):
  BT-111 / BT-110 when it gives its VAT total in EUR (BT-6 = EUR), else setting ``eur_rates``
  (EUR per unit); with neither it is refused (reported, left approved) rather than booked
  without Kurs and Basis-Umsatz.

The invoices taken are those ``approved`` and in no batch, by id, except those refused because
they differ from what was approved (``vouch``) or lack a rate to EUR; the batch gets the next
id, a time truncated to milliseconds (what the files and the database both keep) and the audit
chain's head before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import EinvoiceError
from einvoice.export import BatchInfo, DatevParams, ExportItem, LineBooking
from einvoice.export.datev import KURS_LIMIT, kurs
from einvoice.export.folders import folder_name, safe_name
from einvoice.export.vouch import Refusal, refusals
from einvoice.lifecycle import Status
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import chain
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.views.formatting import plain
from einvoice.views.queries import supplier_for


class ExportError(EinvoiceError):
    """The batch could not be written or recorded; nothing was marked exported."""


@dataclass(frozen=True)
class Booking:
    """How one invoice is booked in DATEV: Konto, Gegenkonto, KOST1, the rate to EUR."""

    creditor: str
    account: str
    cost_centre: str | None
    eur_rate: Decimal | None = None  # EUR per unit of a foreign currency (None: EUR)


@dataclass(frozen=True)
class Original:
    """One archived document of an invoice, as it goes into the batch folder unchanged."""

    name: str  # inside the folder: ``originals/<id>_<number>.xml|.pdf``
    sha256: str  # its key in the archive


@dataclass(frozen=True)
class Entry:
    """One invoice of a batch: what the files say about it, and its originals."""

    item: ExportItem
    originals: tuple[Original, ...]


@dataclass(frozen=True)
class Batch:
    """Everything a batch folder is written from (and nothing else: see ``rewrite``)."""

    info: BatchInfo
    params: DatevParams
    entries: tuple[Entry, ...]
    head: chain.Head | None = None  # the audit chain before the batch (None: older batches)
    refused: tuple[Refusal, ...] = ()  # left out, reported, never written

    @property
    def items(self) -> list[ExportItem]:
        return [e.item for e in self.entries]

    @property
    def invoice_ids(self) -> list[int]:
        return [e.item.invoice_id for e in self.entries]

    @property
    def gross_total(self) -> Decimal:
        """The sum of BT-112, credit notes negative."""
        return sum((e.item.signed_gross for e in self.entries), Decimal(0))


@dataclass
class Planned:
    """One invoice that would go (``--dry-run``)."""

    invoice_id: int
    number: str | None
    seller: str | None
    type_code: str | None
    gross_total: Decimal | None
    currency: str | None
    creditor: str
    account: str
    cost_centre: str | None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"gross_total": None if self.gross_total is None
                                else plain(self.gross_total)}


def _account(value: str | None) -> str | None:
    """``value`` if it is a DATEV account number, else None."""
    value = (value or "").strip()
    return value if value.isdigit() and len(value) <= 9 else None


def params_from_settings(ctx: Context) -> DatevParams:
    s = ctx.settings
    return DatevParams(adviser=s.datev_adviser, client=s.datev_client, chart=s.datev_chart,
                       account_length=s.datev_account_length,
                       fiscal_year_start=s.datev_fiscal_year_start,
                       tax_keys=dict(s.datev_tax_keys), per_line=s.datev_per_line,
                       timezone=s.timezone)


def eur_rate(model: InvoiceModel, table: Mapping[str, Decimal]) -> Decimal | None:
    """EUR per unit of the invoice currency (BT-5): BT-111 / BT-110 when the invoice gives its
    VAT total in EUR (BT-6), else ``table`` (``eur_rates``); None for an invoice in EUR (or
    none named) and when neither gives a rate."""
    currency = model.currency or "EUR"
    if currency == "EUR":
        return None
    vat, in_eur = model.totals.vat, model.totals.vat_accounting_currency
    if model.vat_currency == "EUR" and vat and in_eur and in_eur / vat > 0:
        return in_eur / vat
    return table.get(currency)


def rate_refusal(model: InvoiceModel, table: Mapping[str, Decimal]) -> str | None:
    """Why an invoice cannot be booked in DATEV for want of a rate to EUR (None: it can)."""
    currency = model.currency or "EUR"
    if currency == "EUR":
        return None
    rate = eur_rate(model, table)
    if rate is None:
        return (f"in {currency} without a rate to EUR (DATEV Kurs): the invoice gives no VAT "
                f"total in EUR (BT-111) and `eur_rates` has none for {currency}")
    if not 0 < kurs(rate) < KURS_LIMIT:
        return (f"in {currency} at {plain(rate)} EUR per unit: a DATEV Kurs of "
                f"{plain(kurs(rate))} {currency} per EUR is out of the format's range")
    return None


def _model(inv: t.Invoice) -> InvoiceModel | None:
    return None if inv.model_json is None else InvoiceModel.model_validate_json(inv.model_json)


def _candidates(ctx: Context, s: Session) -> tuple[list[t.Invoice], list[Refusal]]:
    """The invoices the next batch takes, and the approved ones it refuses (by id)."""
    approved = list(s.exec(select(t.Invoice).where(col(t.Invoice.status) == Status.APPROVED,
                                                   col(t.Invoice.export_batch_id).is_(None))
                           .order_by(col(t.Invoice.id))).all())
    refused = refusals(s.connection(), [inv.id for inv in approved if inv.id is not None])
    out = {r.invoice_id for r in refused}
    for inv in approved:
        model = _model(inv) if inv.id not in out else None
        reason = rate_refusal(model, ctx.settings.eur_rates) if model else None
        if reason and inv.id is not None:
            refused.append(Refusal(inv.id, reason))
            out.add(inv.id)
    refused.sort(key=lambda r: r.invoice_id)
    return [inv for inv in approved if inv.id not in out], refused


def _book(ctx: Context, s: Session, inv: t.Invoice) -> Booking:
    supplier = supplier_for(s, inv.seller_vat_id, inv.seller_name)
    model = _model(inv)
    return Booking(
        creditor=_account(supplier.creditor_account if supplier else None)
        or ctx.settings.datev_default_creditor,
        account=_account(inv.account) or _account(supplier.account if supplier else None)
        or ctx.settings.datev_default_account,
        cost_centre=inv.cost_centre or (supplier.cost_centre if supplier else None),
        eur_rate=eur_rate(model, ctx.settings.eur_rates) if model else None)


def preview(ctx: Context) -> list[Planned]:
    """What the next export would take (nothing is written)."""
    with Session(ctx.engine) as s:
        out = []
        for inv in _candidates(ctx, s)[0]:
            assert inv.id is not None
            b = _book(ctx, s, inv)
            out.append(Planned(inv.id, inv.number, inv.seller_name, inv.type_code,
                               inv.gross_total, inv.currency, b.creditor, b.account,
                               b.cost_centre))
        return out


def refused(ctx: Context) -> list[Refusal]:
    """The approved invoices the next export would refuse (nothing is written)."""
    with Session(ctx.engine) as s:
        return _candidates(ctx, s)[1]


def next_batch(ctx: Context, actor: str) -> Batch | None:
    """The next batch: every invoice approved, in no batch and not refused (None when there is
    no approved invoice; a batch without entries when every one was refused)."""
    with Session(ctx.engine) as s:
        head = chain.head(s.connection())
        invoices, refused_ = _candidates(ctx, s)
        if not invoices and not refused_:
            return None
        batch_id = (s.exec(select(func.max(t.ExportBatch.id))).one() or 0) + 1
        created = utcnow()
        created = created.replace(microsecond=created.microsecond // 1000 * 1000)
        params = params_from_settings(ctx)
        info = BatchInfo(batch_id, created, actor, folder_name(batch_id, created, params.zone))
        bookings = {inv.id: _book(ctx, s, inv) for inv in invoices if inv.id is not None}
        return Batch(info, params, entries(ctx, s, invoices, bookings), head, tuple(refused_))


def entries(ctx: Context, s: Session, invoices: Sequence[t.Invoice],
            bookings: Mapping[int, Booking]) -> tuple[Entry, ...]:
    """The invoices as they go into a batch, each booked as ``bookings`` says."""
    ids = [inv.id for inv in invoices if inv.id is not None]
    docs = {d.id: d for d in s.exec(select(t.Document).where(col(t.Document.id).in_(
        [inv.document_id for inv in invoices]))).all()}
    lines: dict[int, list[LineBooking]] = {}
    for ln in s.exec(select(t.InvoiceLine).where(col(t.InvoiceLine.invoice_id).in_(ids))
                     .order_by(col(t.InvoiceLine.invoice_id), col(t.InvoiceLine.position))):
        lines.setdefault(ln.invoice_id, []).append(
            LineBooking(ln.position, _account(ln.account), ln.cost_centre))
    out: list[Entry] = []
    for inv in invoices:
        assert inv.id is not None
        if inv.model_json is None:
            raise ExportError(f"invoice {inv.id} has no readable invoice data")
        model = InvoiceModel.model_validate_json(inv.model_json)
        doc = docs[inv.document_id]
        base = f"{inv.id:06d}_{safe_name(model.number)}"
        head = ctx.archive.get(doc.sha256)[:5]
        originals = [Original(f"originals/{base}{'.pdf' if head.startswith(b'%PDF') else '.xml'}",
                              doc.sha256)]
        if doc.xml_sha256 and doc.xml_sha256 != doc.sha256:
            originals.append(Original(f"originals/{base}.xml", doc.xml_sha256))
        b = bookings[inv.id]
        out.append(Entry(ExportItem(
            invoice_id=inv.id, model=model, creditor=b.creditor, account=b.account,
            cost_centre=b.cost_centre, assigned_account=inv.account,
            assigned_cost_centre=inv.cost_centre, lines=tuple(lines.get(inv.id, [])),
            original_sha256=doc.sha256, xml_sha256=doc.xml_sha256,
            files=tuple(o.name for o in originals), pay_by=inv.pay_by or model.due_date,
            status=Status.EXPORTED, eur_rate=b.eur_rate), tuple(originals)))
    return tuple(out)
