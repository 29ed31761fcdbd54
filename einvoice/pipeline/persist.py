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
AUDIT_CHAIN = "audit chain"  # the turn writers of ingest events take (``_write``)


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


@dataclass
class _New:
    """A new leaf decided, and its rows as they are written."""

    ref: SubmissionRef
    leaf: Leaf
    case: dict[str, Any]  # the invoice row, without its document id yet
    decision: IngestDecision
    reason: str | None  # of its audit event
    original: int | None = None  # stored before the batch
    first: int | None = None  # else: the position in ``fresh`` of its original in the batch
    document_id: int = 0
    invoice_id: int = 0


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
    """Document, invoice case, lines, findings and audit event of one leaf document (and its
    submission row with the first); ``ref.id`` is set to the committed submission."""
    return persist_batch(engine, [(ref, leaf)], settings)[0]


def persist_batch(engine: Engine, items: Sequence[tuple[SubmissionRef, Leaf]],
                  settings: Settings) -> list[Outcome]:
    """Every leaf of ``items`` (in order) with its submission, in one transaction; a document
    already stored, or earlier in the batch, gets that outcome (not new). Each ``ref.id`` is
    set to its committed submission. Run again while it conflicts with another writer."""

    def write(s: Session) -> list[Outcome]:
        conn = s.connection()
        known = records.known_outcomes(conn, [leaf.digest for _, leaf in items])
        sub_ids = records.submission_ids(conn, [ref.digest for ref, _ in items])
        missing = list({ref.digest: ref for ref, _ in items if ref.digest not in sub_ids}
                       .values())
        sub_ids |= dict(zip((ref.digest for ref in missing), records.insert_rows(
            s, t.Submission, [{"sha256": ref.digest, **ref.values} for ref in missing]),
            strict=True))
        fresh, seen = [], set(known)
        for ref, leaf in items:
            if leaf.digest not in seen:
                seen.add(leaf.digest)
                fresh.append((ref, leaf))
        new = _decide(s, fresh, settings)
        _write(s, new, sub_ids)
        done: dict[str, Outcome] = dict(known)  # stored before, or earlier in this batch
        by_digest = {n.leaf.digest: n for n in new}
        outcomes = []
        for ref, leaf in items:
            ref.pending_id = sub_ids[ref.digest]
            n = by_digest.pop(leaf.digest, None)
            if n is None:
                outcome = replace(done[leaf.digest],
                                  filename=leaf.name or done[leaf.digest].filename)
            else:
                outcome = Outcome(n.document_id, n.invoice_id, leaf.reading.kind.value,
                                  n.decision.status, leaf.name, n.case["error"], True)
                done[leaf.digest] = replace(outcome, new=False)
            outcomes.append(outcome)
        return outcomes

    outcomes = in_session(engine, write)
    for ref, _ in items:
        ref.id = ref.pending_id
    return outcomes


def _decide(s: Session, fresh: Sequence[tuple[SubmissionRef, Leaf]],
            settings: Settings) -> list[_New]:
    """Ask the lifecycle what each new leaf becomes: is the channel bound to the seller, which
    earlier invoice (stored, else earlier in the batch) is its original, which status."""
    stored = _earlier(s, [leaf for _, leaf in fresh])
    suppliers = _Suppliers(s)
    batch: list[Copy] = []  # the copies decided so far, by position in ``fresh``
    new = []
    for ref, leaf in fresh:
        model, report = leaf.reading.invoice, leaf.report
        binding = _binding(ref, model, suppliers) if model is not None else lifecycle.Binding()
        key = lifecycle.duplicate_key(model) if model is not None else None
        original = first = None
        if key is not None:
            original = original_among(key, stored, binding.held)
            first = None if original is not None else original_among(key, batch, binding.held)
        # an id, or a position in the batch: the decision asks only whether there is one
        copy_of = original if first is None else first
        decision = lifecycle.decide_ingest(model, report.verdict if report else None, copy_of,
                                           settings.leitweg_routes, settings.payment_days,
                                           binding.held)
        case = _case_row(leaf.reading, report, decision) | {
            "unbound": binding.held, "binding_flags": "\n".join(binding.flags) or None}
        held = "\n".join(binding.flags) if decision.status is lifecycle.Status.ON_HOLD else None
        new.append(_New(ref, leaf, case, decision, case["error"] or held, original, first))
        if key is not None:
            batch.append(Copy(len(new) - 1, key.seller_key, key.number_key, key.type_code,
                              key.gross_total, decision.status, binding.held,
                              copy_of))
    return new


def _write(s: Session, new: list[_New], sub_ids: dict[str, int]) -> None:
    """The rows of the new leaves, a few statements for the whole batch: documents, invoices
    (a copy of one in the batch after it, when that one's id is known), lines, findings, and
    their audit events last."""
    doc_ids = records.insert_rows(s, t.Document, [{
        "submission_id": sub_ids[n.ref.digest], "parent_id": n.leaf.parent_id,
        "sha256": n.leaf.digest, "size": n.leaf.size, "filename": n.leaf.name,
        "kind": n.leaf.reading.kind.value, "syntax": n.leaf.reading.syntax,
        "xml_sha256": n.leaf.xml_sha, "xml_filename": n.leaf.reading.xml_filename,
        "error": n.leaf.reading.error, "created_at": utcnow()} for n in new])
    for n, doc_id in zip(new, doc_ids, strict=True):
        n.document_id = doc_id
    for wave in ([n for n in new if n.first is None], [n for n in new if n.first is not None]):
        rows = [n.case | {"document_id": n.document_id, "duplicate_of": n.original if
                          n.first is None else new[n.first].invoice_id} for n in wave]
        for n, inv_id in zip(wave, records.insert_rows(s, t.Invoice, rows), strict=True):
            n.invoice_id = inv_id
    records.insert_lines(s, [(n.invoice_id, n.leaf.reading.invoice) for n in new
                             if n.leaf.reading.invoice is not None])
    records.insert_findings(s, [{
        "invoice_id": n.invoice_id, "rule_id": f.rule_id, "flag": f.flag.value,
        "level": f.effective.value, "term": f.term, "location": f.location, "line": f.line,
        "pack": f.pack, "message": f.message}
        for n in new if n.leaf.report is not None for f in n.leaf.report.findings])
    if new:
        # PostgreSQL: writers of batches take turns here, not for their whole transaction
        take_turn(s.connection(), AUDIT_CHAIN)
        chain.append_many(s.connection(), [
            chain.Event(n.invoice_id, SYSTEM, "ingest", None, n.decision.status, n.reason)
            for n in new])


def _earlier(s: Session, leaves: Sequence[Leaf]) -> list[Copy]:
    """The stored invoices the new ones might be copies of, their keys held until the
    transaction ends."""
    keys = [key for leaf in leaves if leaf.reading.invoice is not None
            and (key := lifecycle.duplicate_key(leaf.reading.invoice)) is not None]
    pairs = [(key.seller_key, key.number_key) for key in keys]
    lock_keys(s.connection(), pairs)
    return copies(s.connection(), pairs) if pairs else []


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


def _case_row(reading: Reading, report: Report | None,
              decision: IngestDecision) -> dict[str, Any]:
    """The invoice row (without its document): the decision, and the model's fields the lists
    and inbox search by."""
    now = utcnow()
    row: dict[str, Any] = {"status": decision.status.value, "received_at": now,
                           "updated_at": now}
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
        "profile": report.profile if report else None,
        "office": decision.office, "pay_by": decision.pay_by,
        "skonto_until": decision.skonto_until, "skonto_percent": decision.skonto_percent,
        "ibans": ",".join(ibans)[:512] or None, "account": decision.account,
    }
