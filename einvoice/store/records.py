"""Writing what the pipeline decided: one short transaction per document.

Every write is unique by a SHA-256, so a re-run after a crash, or a second process ingesting the
same bytes at the same time, finds the committed row instead of writing a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, col, select

from einvoice import audit
from einvoice.config import Settings
from einvoice.duedates import pay_by, skonto_deadline
from einvoice.formats.reader import Reading
from einvoice.model import Invoice as InvoiceModel
from einvoice.routing import office_for
from einvoice.store import retry
from einvoice.store import tables as t
from einvoice.store.db import session_scope
from einvoice.store.types import ExactDecimal, utcnow
from einvoice.validation.findings import Report, Verdict

QUARANTINED = "quarantined"
RECEIVED = "received"
PENDING = "pending"
INVALID = "invalid"
DUPLICATE = "duplicate"
SYSTEM = "einvoice"
# a corrected invoice resent after these is not a duplicate of them
NOT_ORIGINALS = (QUARANTINED, INVALID, "rejected")

T = TypeVar("T")
_INSERTS: dict[type[SQLModel], Any] = {}


@dataclass(frozen=True)
class Outcome:
    """What became of one leaf document."""

    document_id: int
    invoice_id: int
    kind: str
    status: str
    filename: str | None
    error: str | None
    new: bool


@dataclass
class SubmissionRef:
    """The submission a document belongs to: inserted with its first document, in the same
    transaction, so that a single-file submission costs one commit."""

    digest: str
    values: dict[str, Any]
    id: int | None = field(default=None)
    pending_id: int | None = field(default=None)

    def resolve(self, s: Session) -> int:
        if self.id is not None:
            return self.id
        found = s.connection().execute(_SUBMISSION_ID, {"sha": self.digest}).scalar()
        if isinstance(found, int):
            return found
        return _insert(s, t.Submission, {"sha256": self.digest, **self.values})


def _insert(s: Session, table: type[SQLModel], values: dict[str, Any]) -> int:
    """Insert one row and return its id.

    Core with one prepared statement per table, not the ORM: this is the intake hot path, and
    building a statement per row costs more than the insert itself.
    """
    stmt = _INSERTS.get(table)
    if stmt is None:
        stmt = _INSERTS[table] = insert(table).returning(table.id)  # type: ignore[attr-defined]
    new_id = s.connection().execute(stmt, values).scalar_one()
    assert isinstance(new_id, int)
    return new_id


def _once(engine: Engine, write: Callable[[Session], T], find: Callable[[], T | None]) -> T:
    """Run a unique write; when a concurrent writer committed the same row first, return that.
    Other conflicts (the submission row, the audit chain head) are retried after a pause."""
    for attempt in range(retry.ATTEMPTS):
        try:
            with session_scope(engine) as s:
                return write(s)
        except (IntegrityError, OperationalError):
            found = find()
            if found is not None:
                return found
            retry.pause(attempt)
    raise RuntimeError("unique write kept conflicting")  # pragma: no cover


def submission_id(engine: Engine, ref: SubmissionRef) -> int:
    """The committed id of the submission (for containers, which need it before any leaf)."""
    if ref.id is None:
        ref.id = _once(engine, ref.resolve, lambda: _find_submission(engine, ref.digest))
    return ref.id


_SUBMISSION_ID = select(t.Submission.id).where(t.Submission.sha256 == bindparam("sha"))


def _find_submission(engine: Engine, digest: str) -> int | None:
    with engine.connect() as conn:
        found = conn.execute(_SUBMISSION_ID, {"sha": digest}).scalar()
    return found if isinstance(found, int) else None


def _find_document(engine: Engine, digest: str) -> int | None:
    with Session(engine) as s:
        return s.exec(select(t.Document.id).where(t.Document.sha256 == digest)).first()


def container(engine: Engine, ref: SubmissionRef, parent_id: int | None, name: str | None,
              size: int, digest: str, kind: str) -> int:
    """The document row of a container (ZIP) whose members are documents of their own."""
    found = _find_document(engine, digest)
    if found is not None:
        return found
    sub_id = submission_id(engine, ref)

    def write(s: Session) -> int:
        row = t.Document(submission_id=sub_id, parent_id=parent_id, sha256=digest, size=size,
                         filename=name, kind=kind)
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id

    return _once(engine, write, lambda: _find_document(engine, digest))


_KNOWN = (
    sa_select(col(t.Document.id), col(t.Document.kind), col(t.Document.filename),
              col(t.Invoice.id), col(t.Invoice.status), col(t.Invoice.error))
    .join(t.Invoice, col(t.Invoice.document_id) == col(t.Document.id))
    .where(col(t.Document.sha256) == bindparam("sha"))
)


def known_outcome(engine: Engine, digest: str, name: str | None) -> Outcome | None:
    """The outcome of a leaf document already committed, if any."""
    with engine.connect() as conn:
        row = conn.execute(_KNOWN, {"sha": digest}).first()
    if row is None:
        return None
    doc_id, kind, filename, inv_id, status, error = row
    assert doc_id is not None and inv_id is not None
    return Outcome(doc_id, inv_id, kind, status, name or filename, error, False)


def leaf(engine: Engine, ref: SubmissionRef, parent_id: int | None, name: str | None,
         size: int, digest: str, reading: Reading, report: Report | None,
         xml_sha: str | None, settings: Settings) -> Outcome:
    """Document, invoice case, lines and findings of one leaf document, in one transaction."""

    def write(s: Session) -> Outcome:
        ref.pending_id = ref.resolve(s)
        doc_id = _insert(s, t.Document, {
            "submission_id": ref.pending_id, "parent_id": parent_id, "sha256": digest,
            "size": size, "filename": name, "kind": reading.kind.value, "syntax": reading.syntax,
            "xml_sha256": xml_sha, "xml_filename": reading.xml_filename, "error": reading.error,
            "created_at": utcnow()})
        case = _case(s, doc_id, reading, report)
        if reading.invoice is not None:
            case.update(_routing(reading.invoice, settings))
        inv_id = _insert(s, t.Invoice, case)
        conn = s.connection()
        if reading.invoice is not None and reading.invoice.lines:
            conn.execute(insert(t.InvoiceLine), _lines(inv_id, reading.invoice))
        if report is not None and report.findings:
            conn.execute(insert(t.Finding), _findings(inv_id, report))
        audit.append(conn, invoice_id=inv_id, actor=SYSTEM, action="ingest", before=None,
                     after=case["status"], reason=case["error"])
        return Outcome(doc_id, inv_id, reading.kind.value, case["status"], name, case["error"],
                       True)

    outcome = _once(engine, write, lambda: known_outcome(engine, digest, name))
    ref.id = ref.id or ref.pending_id or _find_submission(engine, ref.digest)
    return outcome


def _seller_key(model: InvoiceModel) -> str | None:
    """Who the seller is for duplicate detection: VAT id if given, else the normalised name."""
    if model.seller.vat_id:
        return model.seller.vat_id.replace(" ", "").upper()
    if model.seller.name:
        return " ".join(model.seller.name.split()).casefold()
    return None


def _status(report: Report | None) -> str:
    """accept → pending (awaiting approval), reject → invalid; no verdict (the validation
    engine failed) leaves it received, to be validated again."""
    if report is None or report.verdict is Verdict.UNDEFINED:
        return RECEIVED
    return PENDING if report.verdict is Verdict.ACCEPT else INVALID


def _case(s: Session, document_id: int, reading: Reading,
          report: Report | None) -> dict[str, Any]:
    """The invoice row of a leaf document: quarantined, pending/invalid, or a duplicate."""
    now = utcnow()
    model = reading.invoice
    if model is None:
        return {"document_id": document_id, "status": QUARANTINED, "error": reading.error,
                "received_at": now, "updated_at": now}
    case: dict[str, Any] = {
        "document_id": document_id, "status": _status(report), "number": model.number,
        "type_code": model.type_code, "issue_date": model.issue_date,
        "due_date": model.due_date, "currency": model.currency, "seller_name": model.seller.name,
        "seller_vat_id": model.seller.vat_id, "seller_key": _seller_key(model),
        "buyer_name": model.buyer.name, "buyer_reference": model.buyer_reference,
        "specification_id": model.specification_id, "net_total": model.totals.without_vat,
        "gross_total": model.totals.with_vat, "payable": model.totals.payable,
        "model_json": model.model_dump_json(exclude_none=True),
        "error": report.error if report else None,
        "verdict": report.verdict.value if report else None,
        "scenario": report.scenario if report else None,
        "received_at": now, "updated_at": now,
    }
    case["duplicate_of"] = _original_of(s, case)
    if case["duplicate_of"] is not None:
        case["status"] = DUPLICATE
    return case


def _original_of(s: Session, case: dict[str, Any]) -> int | None:
    """The first invoice with the same seller, number, type and gross total, if any."""
    if case["seller_key"] is None or case["number"] is None:
        return None
    keys = {k: case[k] for k in ("seller_key", "number", "type_code", "gross_total")}
    stmt = _ORIGINAL_NO_TYPE if keys["type_code"] is None else _ORIGINAL
    if keys["gross_total"] is None:
        return None
    found = s.connection().execute(stmt, keys).scalar()
    return found if isinstance(found, int) else None


_ORIGINAL_BASE = (
    select(t.Invoice.id)
    .where(t.Invoice.seller_key == bindparam("seller_key"),
           t.Invoice.number == bindparam("number"),
           t.Invoice.gross_total == bindparam("gross_total", type_=ExactDecimal()),
           col(t.Invoice.status).not_in(NOT_ORIGINALS), col(t.Invoice.duplicate_of).is_(None))
    .order_by(col(t.Invoice.id))
    .limit(1)
)
_ORIGINAL = _ORIGINAL_BASE.where(t.Invoice.type_code == bindparam("type_code"))
_ORIGINAL_NO_TYPE = _ORIGINAL_BASE.where(col(t.Invoice.type_code).is_(None))


def _routing(model: InvoiceModel, settings: Settings) -> dict[str, Any]:
    """Office (Leitweg-ID), payment dates, IBANs and the pre-filled account (BT-19)."""
    skonto = skonto_deadline(model)
    ibans = [ct.account_id for ct in model.payment.credit_transfers] if model.payment else []
    return {
        "office": office_for(model.buyer_reference, settings.leitweg_routes),
        "pay_by": pay_by(model, settings.payment_days),
        "skonto_until": skonto[0] if skonto else None,
        "skonto_percent": skonto[1] if skonto else None,
        "ibans": ",".join(ibans)[:512] or None,
        "account": model.buyer_accounting_reference,
    }


def _findings(invoice_id: int, report: Report) -> list[dict[str, Any]]:
    return [
        {"invoice_id": invoice_id, "rule_id": f.rule_id, "flag": f.flag.value,
         "level": f.effective.value, "term": f.term, "location": f.location, "line": f.line,
         "pack": f.pack, "message": f.message}
        for f in report.findings
    ]


def _lines(invoice_id: int, model: InvoiceModel) -> list[dict[str, Any]]:
    return [
        {"invoice_id": invoice_id, "position": pos, "line_id": line.id or "",
         "item_name": line.item.name, "quantity": line.quantity, "unit_code": line.unit_code,
         "net_amount": line.net_amount, "vat_category": line.vat_category,
         "vat_rate": line.vat_rate, "accounting_reference": line.accounting_reference,
         "account": line.accounting_reference}
        for pos, line in enumerate(model.lines, start=1)
    ]
