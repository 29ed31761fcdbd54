"""Read-side queries shared by the CLI, the HTTP app and reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, func, or_, select

from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Status, supplier_flags, vat_key
from einvoice.store import tables as t
from einvoice.validation.findings import Finding, Flag, Level
from einvoice.views.listing import LISTED_COLUMNS, Listed

if TYPE_CHECKING:  # the model (pydantic) loads for a case, not for a listing
    from einvoice.model import Invoice as InvoiceModel


@dataclass(frozen=True)
class ListFilter:
    status: list[str] | None = None
    seller: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    text: str | None = None
    limit: int | None = None
    before: int | None = None  # only ids below: the page after one that ended there


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _listing(flt: ListFilter) -> Select[Any]:
    """Cases matching the filter, newest first (by id: the primary key orders them, and a
    page continues below the last id shown)."""
    q = select_columns(*LISTED_COLUMNS).join(
        t.Document, col(t.Document.id) == col(t.Invoice.document_id))
    if flt.before is not None:
        q = q.where(col(t.Invoice.id) < flt.before)
    if flt.status:
        q = q.where(col(t.Invoice.status).in_(flt.status))
    if flt.seller:
        pattern = _like(flt.seller)
        q = q.where(or_(col(t.Invoice.seller_name).ilike(pattern, escape="\\"),
                        col(t.Invoice.seller_vat_id).ilike(pattern, escape="\\")))
    if flt.date_from:
        q = q.where(col(t.Invoice.issue_date) >= flt.date_from)
    if flt.date_to:
        q = q.where(col(t.Invoice.issue_date) <= flt.date_to)
    if flt.text:
        pattern = _like(flt.text)
        q = q.where(or_(*(c.ilike(pattern, escape="\\") for c in (
            col(t.Invoice.number), col(t.Invoice.seller_name), col(t.Invoice.buyer_name),
            col(t.Invoice.buyer_reference), col(t.Document.filename)))))
    q = q.order_by(col(t.Invoice.id).desc())
    if flt.limit:
        q = q.limit(flt.limit)
    return q


def list_invoices(ctx: Context, flt: ListFilter) -> list[Listed]:
    """One page of the cases matching the filter, newest first."""
    with ctx.engine.connect() as conn:
        return [Listed._make(row) for row in conn.execute(_listing(flt))]


def stream_invoices(ctx: Context, flt: ListFilter, batch: int = 1000) -> Iterator[Listed]:
    """The cases matching the filter, newest first, as the database hands them over: ``batch``
    rows at a time (PostgreSQL: a server-side cursor), so a listing of every invoice holds only
    a batch in memory and its first row comes at once."""
    with ctx.engine.connect() as conn:
        for row in conn.execution_options(yield_per=batch).execute(_listing(flt)):
            yield Listed._make(row)


@dataclass(frozen=True)
class Signed:
    """One approval given: the step, who signed (login and register name), for whom, when."""

    step: str
    login: str
    name: str
    at: datetime
    for_login: str | None = None
    for_name: str | None = None


@dataclass
class Case:
    """Everything about one invoice case, for ``show`` and ``view``; ``original`` is the
    invoice a duplicate repeats, ``signed`` its approvals, ``names`` the register's names of
    the logins in its history, ``supplier`` its entry in the supplier master."""

    invoice: t.Invoice
    document: t.Document
    submission: t.Submission
    model: InvoiceModel | None
    findings: list[Finding]
    flags: list[str]
    events: list[t.AuditEvent]
    original: t.Invoice | None = None
    signed: list[Signed] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    supplier: t.Supplier | None = None


def invoice_rows(s: Session, invoice_id: int) -> tuple[t.Invoice, t.Document, t.Submission]:
    """The invoice case with the document and submission it came from."""
    inv = s.get(t.Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"no invoice with id {invoice_id}")
    doc = s.get(t.Document, inv.document_id)
    assert doc is not None
    sub = s.get(t.Submission, doc.submission_id)
    assert sub is not None
    return inv, doc, sub


def get_case(ctx: Context, invoice_id: int) -> Case:
    from einvoice.model import Invoice as InvoiceModel

    with Session(ctx.engine) as s:
        inv, doc, sub = invoice_rows(s, invoice_id)
        findings = [_finding(row) for row in s.exec(
            select(t.Finding).where(t.Finding.invoice_id == invoice_id)
            .order_by(col(t.Finding.id))).all()]
        supplier = supplier_for(s, inv.seller_vat_id, inv.seller_name)
        original = s.get(t.Invoice, inv.duplicate_of) if inv.duplicate_of else None
        names = staff_names(s)
        signed = _signed(s, invoice_id, names)
    model = InvoiceModel.model_validate_json(inv.model_json) if inv.model_json else None
    flagged = flags(inv, supplier) if model else []
    return Case(inv, doc, sub, model, findings, flagged, history(ctx, invoice_id), original,
                signed, names, supplier)


def staff_names(s: Session) -> dict[str, str]:
    """Login → name, of everyone on the staff register (the disabled too: their past acts)."""
    return {login: name for login, name in s.exec(select(t.Staff.login, t.Staff.name)).all()}


def names_of(ctx: Context) -> dict[str, str]:
    with Session(ctx.engine) as s:
        return staff_names(s)


def _signed(s: Session, invoice_id: int, names: dict[str, str]) -> list[Signed]:
    logins = {i: login for i, login in s.exec(select(t.Staff.id, t.Staff.login)).all()}
    rows = s.exec(select(t.Approval).where(t.Approval.invoice_id == invoice_id)
                  .order_by(col(t.Approval.id))).all()
    out = []
    for row in rows:
        login = logins.get(row.staff_id, str(row.staff_id))
        for_login = logins.get(row.on_behalf_of_id) if row.on_behalf_of_id else None
        out.append(Signed(row.step, login, names.get(login, login), row.at, for_login,
                          names.get(for_login or "")))
    return out


def _finding(row: t.Finding) -> Finding:
    """A stored finding as the validation made it (stored with its effective level), so every
    view serialises it through ``validation.report.finding_json``."""
    return Finding(rule_id=row.rule_id, flag=Flag(row.flag), message=row.message,
                   location=row.location, line=row.line, term=row.term, pack=row.pack or "",
                   level=Level(row.level))


INBOX_STATUSES = (Status.PENDING, Status.ON_HOLD)
# the office of an invoice whose Leitweg-ID matches no route, as people see and ask for it; the
# stored office stays NULL (no office was found), an invoice reassigned to this name joins them
UNASSIGNED = "unassigned"


@dataclass
class InboxRow:
    invoice: t.Invoice
    document: t.Document
    flags: list[str]

    @property
    def act_by(self) -> date | None:
        """The first date that matters: the Skonto deadline, else the due date."""
        return self.invoice.skonto_until or self.invoice.pay_by

    @property
    def office(self) -> str:
        return self.invoice.office or UNASSIGNED


def inbox(ctx: Context, office: str | None, limit: int | None = 50) -> list[InboxRow]:
    """Invoices awaiting a decision, the most urgent (Skonto, then due date) first; of one
    office (``UNASSIGNED``: of none) or, with ``office`` None, of all."""
    act_by = func.coalesce(col(t.Invoice.skonto_until), col(t.Invoice.pay_by))
    urgency = (act_by.is_(None), act_by, col(t.Invoice.id))
    waiting = select(t.Invoice.id).where(col(t.Invoice.status).in_(INBOX_STATUSES))
    if office == UNASSIGNED:
        waiting = waiting.where(or_(col(t.Invoice.office).is_(None),
                                    col(t.Invoice.office) == office))
    elif office:
        waiting = waiting.where(col(t.Invoice.office) == office)
    # the most urgent ids first, from the index alone (``ix_invoice_inbox_urgency``), then only
    # their rows: sorting whole rows joined to their documents took ~10x as long
    if limit:
        waiting = waiting.order_by(*urgency).limit(limit)
    q = (select(t.Invoice, t.Document)
         .join(t.Document, col(t.Document.id) == col(t.Invoice.document_id))
         .where(col(t.Invoice.id).in_(waiting.correlate(None)))
         .order_by(*urgency))
    with Session(ctx.engine) as s:
        rows = s.exec(q).all()
        vat_ids = {inv.seller_key for inv, _ in rows if inv.seller_key}
        names = {inv.seller_name for inv, _ in rows if inv.seller_name}
        known = s.exec(select(t.Supplier).where(or_(col(t.Supplier.vat_id).in_(vat_ids),
                                                    col(t.Supplier.name).in_(names)))).all()
    by_key = {k: sup for sup in known for k in (sup.vat_id, sup.name) if k}
    return [InboxRow(inv, doc, flags(inv, by_key.get(inv.seller_key or "")
                                     or by_key.get(inv.seller_name or "")))
            for inv, doc in rows]


def supplier_for(s: Session, vat_id: str | None, name: str | None) -> t.Supplier | None:
    """The supplier by VAT id (normalised: ``lifecycle.vat_key``), else by exact name."""
    conditions = []
    if vat_key(vat_id):
        conditions.append(col(t.Supplier.vat_id) == vat_key(vat_id))
    if name:
        conditions.append(col(t.Supplier.name) == name)
    if not conditions:
        return None
    return s.exec(select(t.Supplier).where(or_(*conditions))).first()


def flags(inv: t.Invoice, supplier: t.Supplier | None) -> list[str]:
    """The supplier warnings of an invoice case (see ``lifecycle.supplier_flags``), then what
    ingest found about its channel and seller (``lifecycle.bind``)."""
    return supplier_flags(inv.seller_name, [i for i in (inv.ibans or "").split(",") if i],
                          None if supplier is None else supplier.ibans.split(",")) + [
        line for line in (inv.binding_flags or "").split("\n") if line]


def history(ctx: Context, invoice_id: int) -> list[t.AuditEvent]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.AuditEvent).where(t.AuditEvent.invoice_id == invoice_id)
                           .order_by(col(t.AuditEvent.id))).all())


def signed_summary(sig: Signed) -> dict[str, Any]:
    """One approval in ``show --json``."""
    return {"step": sig.step, "by": sig.login, "name": sig.name,
            "on_behalf_of": sig.for_login, "at": sig.at.isoformat()}


def event_summary(ev: t.AuditEvent) -> dict[str, Any]:
    return {"at": ev.at.isoformat(), "actor": ev.actor, "action": ev.action,
            "before": ev.before, "after": ev.after, "reason": ev.reason, "detail": ev.detail}
