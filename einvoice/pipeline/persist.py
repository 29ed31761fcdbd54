"""One leaf document decided and written: ask the lifecycle, then hand the rows to the store.

All of it happens in one transaction: the supplier master look-ups (does the channel speak for
the seller, ``lifecycle.binding``), the duplicate look-up, the decision, the document, the
invoice case with its lines and findings, and the ``ingest`` audit event. A concurrent writer of
the same bytes makes this transaction fail; the committed outcome is then returned instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from einvoice import lifecycle
from einvoice.config import Settings
from einvoice.formats.reader import Reading
from einvoice.lifecycle import IngestDecision
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import chain, records
from einvoice.store import tables as t
from einvoice.store.records import Outcome, SubmissionRef
from einvoice.store.types import utcnow
from einvoice.validation.findings import Report

SYSTEM = "einvoice"  # the actor of what the service does by itself


def persist_leaf(engine: Engine, ref: SubmissionRef, parent_id: int | None, name: str | None,
                 size: int, digest: str, reading: Reading, report: Report | None,
                 xml_sha: str | None, settings: Settings) -> Outcome:
    """Document, invoice case, lines, findings and audit event of one leaf document."""

    def write(s: Session) -> Outcome:
        ref.pending_id = ref.resolve(s)
        doc_id = records.insert_row(s, t.Document, {
            "submission_id": ref.pending_id, "parent_id": parent_id, "sha256": digest,
            "size": size, "filename": name, "kind": reading.kind.value, "syntax": reading.syntax,
            "xml_sha256": xml_sha, "xml_filename": reading.xml_filename, "error": reading.error,
            "created_at": utcnow()})
        model = reading.invoice
        binding = _binding(s, ref, model) if model is not None else lifecycle.Binding()
        original = _original(s, model, binding.held)
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
        chain.append(s.connection(), invoice_id=inv_id, actor=SYSTEM, action="ingest",
                     before=None, after=decision.status, reason=case["error"] or held)
        return Outcome(doc_id, inv_id, reading.kind.value, decision.status, name, case["error"],
                       True)

    outcome = records.unique_write(engine, write,
                                   lambda: records.known_outcome(engine, digest, name))
    # a losing concurrent writer's submission row was rolled back: use the committed one
    committed = ref.pending_id if outcome.new else None
    ref.id = ref.id or committed or records.find_submission(engine, ref.digest)
    return outcome


def _facts(row: t.Supplier | None) -> lifecycle.SupplierFacts | None:
    if row is None or row.id is None:
        return None
    return lifecycle.SupplierFacts(row.id, row.name, row.vat_id,
                                   tuple(filter(None, row.ibans.split(","))), row.email)


def _binding(s: Session, ref: SubmissionRef, model: InvoiceModel) -> lifecycle.Binding:
    """Does the channel speak for the seller? The token's supplier and the supplier the
    invoice names, looked up in the master data; the decision is ``lifecycle.bind``'s."""
    seller = lifecycle.SellerClaim(model.seller.name, model.seller.vat_id, _ibans(model))
    token = _facts(records.supplier(s, ref.values.get("supplier_id")))
    claimed = _facts(records.supplier_named(s, lifecycle.vat_key(model.seller.vat_id),
                                            model.seller.name))
    channel = lifecycle.Channel(ref.values.get("channel", ""), token, ref.values.get("sender"))
    return lifecycle.bind(seller, channel, claimed)


def _original(s: Session, model: InvoiceModel | None, held: bool) -> int | None:
    """The earlier copy of this invoice, if one was received (see ``lifecycle.duplicate_key``).
    An unbound invoice not yet cleared by a person is the original only of another held one:
    a forgery never makes the genuine supplier's invoice a duplicate."""
    key = lifecycle.duplicate_key(model) if model is not None else None
    if key is None:
        return None
    return records.first_invoice(s, seller_key=key.seller_key, number_key=key.number_key,
                                 type_code=key.type_code, gross_total=key.gross_total,
                                 excluded=lifecycle.NOT_ORIGINALS,
                                 unbound_excluded=() if held else lifecycle.UNCLEARED)


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
