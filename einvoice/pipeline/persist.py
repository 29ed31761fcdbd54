"""Leaf documents decided and written: ask the lifecycle, then hand the rows to the store.

One transaction holds, for one document (``persist_leaf``) or a batch of them
(``persist_batch``): the supplier master look-ups (does the channel speak for the seller,
``lifecycle.binding``), the duplicate look-up (one query for the whole batch; a copy earlier in
the same batch counts as stored), the decisions, the documents, the invoice cases with their
lines and findings, and the ``ingest`` audit events. A concurrent writer of the same bytes
makes the transaction fail; it is then run again and finds the committed outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from einvoice import lifecycle
from einvoice.config import Settings
from einvoice.formats.reader import Reading
from einvoice.lifecycle import IngestDecision
from einvoice.lifecycle.ingest import original_among
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import chain, records
from einvoice.store import tables as t
from einvoice.store.copies import Copy, copies, lock_keys
from einvoice.store.locks import take_turn
from einvoice.store.records import Outcome, SubmissionRef, in_session
from einvoice.store.types import utcnow
from einvoice.validation.findings import Report

SYSTEM = "einvoice"  # the actor of what the service does by itself
AUDIT_CHAIN = "audit chain"  # the turn writers of ingest events take (``_append``)


@dataclass(frozen=True)
class Leaf:
    """One leaf document to write: where it sits and what reading and validation gave."""

    parent_id: int | None
    name: str | None
    size: int
    digest: str
    reading: Reading
    report: Report | None
    xml_sha: str | None


@dataclass(frozen=True)
class _Event:
    """The ``ingest`` audit event of one new invoice, appended when the batch is written."""

    invoice_id: int
    status: str
    reason: str | None


class _Suppliers:
    """The supplier master rows one transaction asked for, each looked up once."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.found: dict[tuple[Any, ...], lifecycle.SupplierFacts | None] = {}

    def by_id(self, supplier_id: int | None) -> lifecycle.SupplierFacts | None:
        key = ("id", supplier_id)
        if key not in self.found:
            self.found[key] = _facts(records.supplier(self.s, supplier_id))
        return self.found[key]

    def named(self, vat_key: str | None, name: str | None) -> lifecycle.SupplierFacts | None:
        key = ("named", vat_key, name)
        if key not in self.found:
            self.found[key] = _facts(records.supplier_named(self.s, vat_key, name))
        return self.found[key]


def persist_leaf(engine: Engine, ref: SubmissionRef, leaf: Leaf, settings: Settings) -> Outcome:
    """Document, invoice case, lines, findings and audit event of one leaf document."""

    def write(s: Session) -> Outcome:
        earlier = _earlier(s, [leaf])
        ref.pending_id = ref.resolve(s)
        outcome, event, _ = _write(s, ref, ref.pending_id, leaf, settings, earlier,
                                   _Suppliers(s))
        _append(s, [event])
        return outcome

    outcome = records.unique_write(engine, write,
                                   lambda: records.known_outcome(engine, leaf.digest, leaf.name))
    # a losing concurrent writer's submission row was rolled back: use the committed one
    committed = ref.pending_id if outcome.new else None
    ref.id = ref.id or committed or records.find_submission(engine, ref.digest)
    return outcome


def persist_batch(engine: Engine, items: Sequence[tuple[SubmissionRef, Leaf]],
                  settings: Settings) -> list[Outcome]:
    """Every leaf of ``items`` (in order) with its submission, in one transaction; a document
    already stored, or earlier in the batch, gets that outcome (not new). Each ``ref.id`` is
    set to its committed submission. Run again while it conflicts with another writer."""

    def write(s: Session) -> list[Outcome]:
        conn = s.connection()
        known = records.known_outcomes(conn, [leaf.digest for _, leaf in items])
        sub_ids = records.submission_ids(conn, [ref.digest for ref, _ in items])
        fresh = [leaf for _, leaf in items if leaf.digest not in known]
        earlier, suppliers = _earlier(s, fresh), _Suppliers(s)
        outcomes, events = [], []
        for ref, leaf in items:
            if ref.digest not in sub_ids:
                sub_ids[ref.digest] = records.insert_row(
                    s, t.Submission, {"sha256": ref.digest, **ref.values})
            ref.pending_id = sub_ids[ref.digest]
            if leaf.digest in known:
                outcomes.append(replace(known[leaf.digest],
                                        filename=leaf.name or known[leaf.digest].filename))
                continue
            outcome, event, copy = _write(s, ref, ref.pending_id, leaf, settings, earlier,
                                          suppliers)
            outcomes.append(outcome)
            events.append(event)
            known[leaf.digest] = replace(outcome, new=False)
            if copy is not None:
                earlier.append(copy)
        _append(s, events)
        return outcomes

    outcomes = in_session(engine, write)
    for ref, _ in items:
        ref.id = ref.pending_id
    return outcomes


def _earlier(s: Session, leaves: Sequence[Leaf]) -> list[Copy]:
    """The stored invoices the new ones might be copies of, their keys held (PostgreSQL) until
    the transaction ends."""
    keys = [key for leaf in leaves if leaf.reading.invoice is not None
            and (key := lifecycle.duplicate_key(leaf.reading.invoice)) is not None]
    pairs = [(key.seller_key, key.number_key) for key in keys]
    lock_keys(s.connection(), pairs)
    return copies(s.connection(), pairs) if pairs else []


def _write(s: Session, ref: SubmissionRef, submission_id: int, leaf: Leaf, settings: Settings,
           earlier: list[Copy], suppliers: _Suppliers) -> tuple[Outcome, _Event, Copy | None]:
    """Decide one new leaf and write its rows (not its audit event: the caller appends the
    events of a batch together, at the end of the transaction)."""
    reading, report = leaf.reading, leaf.report
    doc_id = records.insert_row(s, t.Document, {
        "submission_id": submission_id, "parent_id": leaf.parent_id, "sha256": leaf.digest,
        "size": leaf.size, "filename": leaf.name, "kind": reading.kind.value,
        "syntax": reading.syntax, "xml_sha256": leaf.xml_sha,
        "xml_filename": reading.xml_filename, "error": reading.error, "created_at": utcnow()})
    model = reading.invoice
    binding = _binding(ref, model, suppliers) if model is not None else lifecycle.Binding()
    key = lifecycle.duplicate_key(model) if model is not None else None
    original = original_among(key, earlier, binding.held) if key is not None else None
    decision = lifecycle.decide_ingest(model, report.verdict if report else None, original,
                                       settings.leitweg_routes, settings.payment_days,
                                       binding.held)
    case = _case_row(doc_id, reading, report, decision, original) | {
        "unbound": binding.held, "binding_flags": "\n".join(binding.flags) or None}
    inv_id = records.insert_row(s, t.Invoice, case)
    if model is not None:
        records.insert_lines(s, inv_id, model)
    if report is not None:
        records.insert_findings(s, [{
            "invoice_id": inv_id, "rule_id": f.rule_id, "flag": f.flag.value,
            "level": f.effective.value, "term": f.term, "location": f.location,
            "line": f.line, "pack": f.pack, "message": f.message} for f in report.findings])
    held = "\n".join(binding.flags) if decision.status is lifecycle.Status.ON_HOLD else None
    event = _Event(inv_id, decision.status, case["error"] or held)
    copy = None if key is None else Copy(inv_id, key.seller_key, key.number_key, key.type_code,
                                         key.gross_total, decision.status, binding.held,
                                         original)
    return (Outcome(doc_id, inv_id, reading.kind.value, decision.status, leaf.name,
                    case["error"], True), event, copy)


def _append(s: Session, events: Sequence[_Event]) -> None:
    """The ``ingest`` events of the new invoices, in order, as one stretch of the audit chain
    (PostgreSQL: writers of batches take turns here, not for the whole transaction)."""
    if events:
        take_turn(s.connection(), AUDIT_CHAIN)
    for event in events:
        chain.append(s.connection(), invoice_id=event.invoice_id, actor=SYSTEM, action="ingest",
                     before=None, after=event.status, reason=event.reason)


def _facts(row: t.Supplier | None) -> lifecycle.SupplierFacts | None:
    if row is None or row.id is None:
        return None
    return lifecycle.SupplierFacts(row.id, row.name, row.vat_id,
                                   tuple(filter(None, row.ibans.split(","))), row.email)


def _binding(ref: SubmissionRef, model: InvoiceModel,
             suppliers: _Suppliers) -> lifecycle.Binding:
    """Does the channel speak for the seller? The token's supplier and the supplier the
    invoice names, looked up in the master data; the decision is ``lifecycle.bind``'s."""
    seller = lifecycle.SellerClaim(model.seller.name, model.seller.vat_id, _ibans(model))
    token = suppliers.by_id(ref.values.get("supplier_id"))
    claimed = suppliers.named(lifecycle.vat_key(model.seller.vat_id), model.seller.name)
    channel = lifecycle.Channel(ref.values.get("channel", ""), token, ref.values.get("sender"))
    return lifecycle.bind(seller, channel, claimed)


def _ibans(model: InvoiceModel) -> list[str]:
    return [ct.account_id for ct in model.payment.credit_transfers] if model.payment else []


def _case_row(document_id: int, reading: Reading, report: Report | None,
              decision: IngestDecision, original: int | None) -> dict[str, Any]:
    """The invoice row: the decision, and the model's fields the lists and inbox search by."""
    now = utcnow()
    row: dict[str, Any] = {"document_id": document_id, "status": decision.status.value,
                           "received_at": now, "updated_at": now}
    model = reading.invoice
    if model is None:
        return row | {"error": reading.error}
    ibans = _ibans(model)
    return row | {
        "number": model.number, "number_key": lifecycle.number_key(model.number),
        "type_code": model.type_code, "issue_date": model.issue_date,
        "due_date": model.due_date, "currency": model.currency,
        "seller_name": model.seller.name, "seller_vat_id": model.seller.vat_id,
        "seller_key": lifecycle.seller_key(model), "buyer_name": model.buyer.name,
        "buyer_reference": model.buyer_reference, "specification_id": model.specification_id,
        "net_total": model.totals.without_vat, "gross_total": model.totals.with_vat,
        "payable": model.totals.payable, "model_json": model.model_dump_json(exclude_none=True),
        "error": report.error if report else None,
        "verdict": report.verdict.value if report else None,
        "scenario": report.scenario if report else None,
        "rule_release": report.release if report else None,
        "profile": report.profile if report else None, "duplicate_of": original,
        "office": decision.office, "pay_by": decision.pay_by,
        "skonto_until": decision.skonto_until, "skonto_percent": decision.skonto_percent,
        "ibans": ",".join(ibans)[:512] or None, "account": decision.account,
    }
