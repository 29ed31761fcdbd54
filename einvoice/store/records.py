"""Rows of ingested documents: the writes and look-ups the pipeline composes into one short
transaction per document. Nothing here decides; the status and every value come from the caller.

Every write is unique by a SHA-256, so a re-run after a crash, or a second process ingesting the
same bytes at the same time, finds the committed row instead of writing a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, col, select

from einvoice.model import Invoice as InvoiceModel
from einvoice.store import retry
from einvoice.store import tables as t
from einvoice.store.db import session_scope

T = TypeVar("T")
_INSERTS: dict[type[SQLModel], Any] = {}
_MANY: dict[type[SQLModel], Any] = {}
_LENGTHS: dict[type[SQLModel], dict[str, int]] = {}


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
        return insert_row(s, t.Submission, {"sha256": self.digest, **self.values})


def fitted(table: type[SQLModel], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every text longer than its column cut to fit, ending in "…".

    A hostile document (a 300-character invoice number, a line id of 2,000) must not fail its
    insert on PostgreSQL, which enforces VARCHAR lengths (SQLite does not, so both now store
    the same). The whole text stays where it is kept whole: the archived original and
    ``model_json``; keys are computed from the whole text before it is stored."""
    lengths = _LENGTHS.get(table)
    if lengths is None:
        lengths = _LENGTHS[table] = {
            c.name: c.type.length for c in table.__table__.columns  # type: ignore[attr-defined]
            if isinstance(getattr(c.type, "length", None), int)}
    return {k: v[:lengths[k] - 1] + "…"
            if isinstance(v, str) and k in lengths and len(v) > lengths[k] else v
            for k, v in values.items()}


def insert_row(s: Session, table: type[SQLModel], values: dict[str, Any]) -> int:
    """Insert one row (its texts ``fitted``) and return its id.

    Core with one prepared statement per table, not the ORM: this is the intake hot path, and
    building a statement per row costs more than the insert itself.
    """
    stmt = _INSERTS.get(table)
    if stmt is None:
        stmt = _INSERTS[table] = insert(table).returning(table.id)  # type: ignore[attr-defined]
    new_id = s.connection().execute(stmt, fitted(table, values)).scalar_one()
    assert isinstance(new_id, int)
    return new_id


def insert_rows(s: Session, table: type[SQLModel], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows (texts ``fitted``; a column some rows lack is None in those) in as few
    statements as the driver allows; their ids, in order."""
    if not rows:
        return []
    stmt = _MANY.get(table)
    if stmt is None:
        stmt = _MANY[table] = insert(table).returning(
            table.id, sort_by_parameter_order=True)  # type: ignore[attr-defined]
    columns = dict.fromkeys(key for row in rows for key in row)
    filled = [fitted(table, {key: row.get(key) for key in columns}) for row in rows]
    return [new_id for (new_id,) in s.connection().execute(stmt, filled)]


def unique_write(engine: Engine, write: Callable[[Session], T], find: Callable[[], T | None]) -> T:
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


def in_session(engine: Engine, write: Callable[[Session], T]) -> T:
    """``write`` in a transaction of its own, run again after a pause while it conflicts with
    another writer (``retry.is_conflict``); any other error, or the last conflict, is raised."""
    for attempt in range(retry.ATTEMPTS):
        try:
            with session_scope(engine) as s:
                return write(s)
        except DBAPIError as exc:
            if not retry.is_conflict(exc) or attempt == retry.ATTEMPTS - 1:
                raise
            retry.pause(attempt)
    raise AssertionError("ATTEMPTS is positive")


def submission_id(engine: Engine, ref: SubmissionRef) -> int:
    """The committed id of the submission (for containers, which need it before any leaf)."""
    if ref.id is None:
        ref.id = unique_write(engine, ref.resolve, lambda: find_submission(engine, ref.digest))
    return ref.id


_SUBMISSION_ID = select(t.Submission.id).where(t.Submission.sha256 == bindparam("sha"))


def find_submission(engine: Engine, digest: str) -> int | None:
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

    return unique_write(engine, write, lambda: _find_document(engine, digest))


_KNOWN_MANY = (
    sa_select(col(t.Document.sha256), col(t.Document.id), col(t.Document.kind),
              col(t.Document.filename), col(t.Invoice.id), col(t.Invoice.status),
              col(t.Invoice.error))
    .join(t.Invoice, col(t.Invoice.document_id) == col(t.Document.id))
    .where(col(t.Document.sha256).in_(bindparam("shas", expanding=True)))
)
_SUBMISSIONS_MANY = sa_select(col(t.Submission.sha256), col(t.Submission.id)).where(
    col(t.Submission.sha256).in_(bindparam("shas", expanding=True)))
_CHUNK = 500  # values per IN list: far below every driver's limit of bound parameters


def known_outcome(engine: Engine, digest: str, name: str | None) -> Outcome | None:
    """The outcome of a leaf document already committed, if any."""
    with engine.connect() as conn:
        found = known_outcomes(conn, [digest])
    return _named(found[digest], name) if digest in found else None


def _named(known: Outcome, name: str | None) -> Outcome:
    return replace(known, filename=name or known.filename)


def known_outcomes(conn: Connection, digests: Iterable[str]) -> dict[str, Outcome]:
    """The outcomes of the leaf documents among ``digests`` already committed, by digest
    (``new`` False; the file name is the one first stored)."""
    wanted = sorted(set(digests))
    found: dict[str, Outcome] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(_KNOWN_MANY, {"shas": wanted[start:start + _CHUNK]})
        for sha, doc_id, kind, filename, inv_id, status, error in rows:
            assert doc_id is not None and inv_id is not None
            found[sha] = Outcome(doc_id, inv_id, kind, status, filename, error, False)
    return found


def submission_ids(conn: Connection, digests: Iterable[str]) -> dict[str, int]:
    """The ids of the submissions among ``digests`` already stored, by digest."""
    wanted = sorted(set(digests))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        for sha, sub_id in conn.execute(_SUBMISSIONS_MANY,
                                        {"shas": wanted[start:start + _CHUNK]}):
            assert sub_id is not None
            found[sha] = sub_id
    return found


def insert_lines(s: Session, lines: Sequence[tuple[int, InvoiceModel]]) -> None:
    """The lines of each ``(invoice id, model)``, in one statement for all."""
    rows = [fitted(t.InvoiceLine, {
        "invoice_id": invoice_id, "position": pos, "line_id": line.id or "",
        "item_name": line.item.name, "quantity": line.quantity, "unit_code": line.unit_code,
        "net_amount": line.net_amount, "vat_category": line.vat_category,
        "vat_rate": line.vat_rate, "accounting_reference": line.accounting_reference,
        "account": line.accounting_reference})
        for invoice_id, model in lines for pos, line in enumerate(model.lines, start=1)]
    if rows:
        s.connection().execute(insert(t.InvoiceLine), rows)


def insert_findings(s: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        s.connection().execute(insert(t.Finding), [fitted(t.Finding, row) for row in rows])


def supplier(s: Session, supplier_id: int | None) -> t.Supplier | None:
    """The supplier master row by id (the upload token's supplier)."""
    return None if supplier_id is None else s.get(t.Supplier, supplier_id)


def supplier_named(s: Session, vat_id: str | None, name: str | None) -> t.Supplier | None:
    """The supplier master row with this VAT id (as the master stores it), else with exactly
    this name; None when neither is on file."""
    for column, value in ((t.Supplier.vat_id, vat_id), (t.Supplier.name, name)):
        if value:
            found = s.exec(select(t.Supplier).where(column == value)
                           .order_by(col(t.Supplier.id))).first()
            if found is not None:
                return found
    return None
