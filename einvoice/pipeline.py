"""``ingest(submission)``: store the original, then detect, read and persist each document.

Order of work is what makes "nothing lost, nothing twice" hold under crashes:
1. the raw bytes go to the content-addressed archive (atomic, fsynced) before anything else;
2. the submission row is recorded (unique by SHA-256);
3. every document is persisted in its own transaction, unique by its own SHA-256, so a re-run
   after kill -9 skips what was committed and finishes what was not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import InputError, TooLarge
from einvoice.formats.detect import Container, Kind, sniff
from einvoice.formats.reader import Reading, read_document
from einvoice.formats.ziparchive import Member, unpack
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import tables as t
from einvoice.store.archive import sha256_hex
from einvoice.store.db import session_scope
from einvoice.store.types import utcnow

log = logging.getLogger(__name__)

QUARANTINED = "quarantined"
RECEIVED = "received"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Submission:
    """What arrived through one channel at one moment."""

    data: bytes
    channel: str
    filename: str | None = None
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    received_at: datetime = field(default_factory=utcnow)


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
class IngestResult:
    submission_id: int
    sha256: str
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        """True when every document in the submission could be read."""
        return bool(self.outcomes) and all(o.status != QUARANTINED for o in self.outcomes)


def ingest(ctx: Context, sub: Submission) -> IngestResult:
    """Store and process one submission; idempotent for the same bytes."""
    limit = ctx.settings.max_submission_bytes
    if len(sub.data) > limit:
        raise TooLarge(f"submission of {len(sub.data)} bytes exceeds the limit of {limit} bytes")
    digest = ctx.archive.put(sub.data)
    submission_id = _record_submission(ctx, sub, digest)
    outcomes: list[Outcome] = []
    _process(ctx, submission_id, None, sub.filename, sub.data, digest, 0, outcomes)
    return IngestResult(submission_id, digest, outcomes)


def _record_submission(ctx: Context, sub: Submission, digest: str) -> int:
    row = t.Submission(sha256=digest, size=len(sub.data), channel=sub.channel,
                       filename=sub.filename, sender=sub.sender, subject=sub.subject,
                       message_id=sub.message_id, received_at=sub.received_at)
    return _insert_once(ctx, row, lambda: _submission_id(ctx, digest))


def _insert_once(ctx: Context, row: t.Submission | t.Document,
                 find: Callable[[], int | None]) -> int:
    """Insert a row unique by its hash, or return the id of the one already there (also when a
    concurrent ingest of the same bytes wins the race)."""
    found = find()
    if found is not None:
        return found
    try:
        with session_scope(ctx.engine) as s:
            s.add(row)
            s.flush()
            assert row.id is not None
            return row.id
    except IntegrityError:
        found = find()
        assert found is not None
        return found


def _submission_id(ctx: Context, digest: str) -> int | None:
    with Session(ctx.engine) as s:
        return s.exec(select(t.Submission.id).where(t.Submission.sha256 == digest)).first()


def _process(ctx: Context, submission_id: int, parent_id: int | None, name: str | None,
             data: bytes, digest: str, depth: int, outcomes: list[Outcome]) -> None:
    """Persist one document; ZIPs recurse into their members (each idempotent on its own)."""
    reading: Reading | None = None
    if sniff(data) is Container.ZIP:
        members_or_error = _unpack(ctx, data, depth)
        if not isinstance(members_or_error, str):
            if depth:
                ctx.archive.put(data)
            container_id = _container(ctx, submission_id, parent_id, name, data, digest)
            for member in members_or_error:
                _process(ctx, submission_id, container_id, member.name, member.data,
                         sha256_hex(member.data), depth + 1, outcomes)
            return
        reading = Reading(Kind.ZIP, error=members_or_error)
    known = _known_outcome(ctx, digest, name)
    if known is not None:
        outcomes.append(known)
        return
    if depth:
        ctx.archive.put(data)
    reading = reading or _read(ctx, data)
    outcomes.append(_persist(ctx, submission_id, parent_id, name, data, digest, reading))


def _unpack(ctx: Context, data: bytes, depth: int) -> list[Member] | str:
    """The members of a ZIP, or why it cannot be taken apart."""
    settings = ctx.settings
    if depth > settings.max_zip_depth:
        return f"ZIP nested deeper than {settings.max_zip_depth} levels"
    try:
        members = unpack(data, settings.max_zip_members, settings.max_zip_total_bytes)
    except InputError as exc:
        return str(exc)
    return members or "ZIP archive contains no files"


def _container(ctx: Context, submission_id: int, parent_id: int | None, name: str | None,
               data: bytes, digest: str) -> int:
    row = t.Document(submission_id=submission_id, parent_id=parent_id, sha256=digest,
                     size=len(data), filename=name, kind=Kind.ZIP.value)
    return _insert_once(ctx, row, lambda: _document_id(ctx, digest))


def _document_id(ctx: Context, digest: str) -> int | None:
    with Session(ctx.engine) as s:
        return s.exec(select(t.Document.id).where(t.Document.sha256 == digest)).first()


def _read(ctx: Context, data: bytes) -> Reading:
    """Read a document; a bug in a reader quarantines the document instead of stopping intake."""
    if not data:
        return Reading(Kind.NOT_AN_INVOICE, error="empty document")
    try:
        return read_document(data, ctx.settings.max_xml_bytes)
    except Exception as exc:
        log.exception("reader failed")
        return Reading(Kind.NOT_AN_INVOICE, error=f"internal error while reading: {exc!r}")


def _known_outcome(ctx: Context, digest: str, name: str | None) -> Outcome | None:
    with Session(ctx.engine) as s:
        row = s.exec(
            select(t.Document, t.Invoice)
            .join(t.Invoice, col(t.Invoice.document_id) == col(t.Document.id))
            .where(t.Document.sha256 == digest)
        ).first()
    if row is None:
        return None
    doc, inv = row
    assert doc.id is not None and inv.id is not None
    return Outcome(doc.id, inv.id, doc.kind, inv.status, name or doc.filename, inv.error, False)


def _persist(ctx: Context, submission_id: int, parent_id: int | None, name: str | None,
             data: bytes, digest: str, reading: Reading) -> Outcome:
    """Document, invoice case and lines in one transaction."""
    xml_sha = None
    if reading.xml is not None:
        xml_sha = digest if reading.xml is data else ctx.archive.put(reading.xml)
    doc = t.Document(submission_id=submission_id, parent_id=parent_id, sha256=digest,
                     size=len(data), filename=name, kind=reading.kind.value,
                     syntax=reading.syntax, xml_sha256=xml_sha,
                     xml_filename=reading.xml_filename, error=reading.error)
    try:
        with session_scope(ctx.engine) as s:
            s.add(doc)
            s.flush()
            assert doc.id is not None
            inv = _case(s, doc.id, reading)
            s.add(inv)
            s.flush()
            assert inv.id is not None
            if reading.invoice is not None:
                s.add_all(_lines(inv.id, reading.invoice))
            outcome = Outcome(doc.id, inv.id, doc.kind, inv.status, name, inv.error, True)
    except IntegrityError:  # the same document committed concurrently
        known = _known_outcome(ctx, digest, name)
        if known is None:
            raise
        return known
    return outcome


def _seller_key(model: InvoiceModel) -> str | None:
    """Who the seller is for duplicate detection: VAT id if given, else the normalised name."""
    if model.seller.vat_id:
        return model.seller.vat_id.replace(" ", "").upper()
    if model.seller.name:
        return " ".join(model.seller.name.split()).casefold()
    return None


def _case(s: Session, document_id: int, reading: Reading) -> t.Invoice:
    model = reading.invoice
    if model is None:
        return t.Invoice(document_id=document_id, status=QUARANTINED, error=reading.error)
    inv = t.Invoice(
        document_id=document_id, status=RECEIVED, number=model.number, type_code=model.type_code,
        issue_date=model.issue_date, due_date=model.due_date, currency=model.currency,
        seller_name=model.seller.name, seller_vat_id=model.seller.vat_id,
        seller_key=_seller_key(model), buyer_name=model.buyer.name,
        buyer_reference=model.buyer_reference, specification_id=model.specification_id,
        net_total=model.totals.without_vat, gross_total=model.totals.with_vat,
        payable=model.totals.payable, model_json=model.model_dump_json(exclude_none=True),
    )
    inv.duplicate_of = _original_of(s, inv)
    if inv.duplicate_of is not None:
        inv.status = DUPLICATE
    return inv


def _original_of(s: Session, inv: t.Invoice) -> int | None:
    """The first invoice with the same seller, number, type and gross total, if any."""
    if inv.seller_key is None or inv.number is None:
        return None
    return s.exec(
        select(t.Invoice.id)
        .where(t.Invoice.seller_key == inv.seller_key, t.Invoice.number == inv.number,
               t.Invoice.type_code == inv.type_code, t.Invoice.gross_total == inv.gross_total,
               col(t.Invoice.status) != QUARANTINED, col(t.Invoice.duplicate_of).is_(None))
        .order_by(col(t.Invoice.id))
    ).first()


def _lines(invoice_id: int, model: InvoiceModel) -> list[t.InvoiceLine]:
    return [
        t.InvoiceLine(invoice_id=invoice_id, position=pos, line_id=line.id,
                      item_name=line.item.name, quantity=line.quantity, unit_code=line.unit_code,
                      net_amount=line.net_amount, vat_category=line.vat_category,
                      vat_rate=line.vat_rate, accounting_reference=line.accounting_reference)
        for pos, line in enumerate(model.lines, start=1)
    ]
