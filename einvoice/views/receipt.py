"""What the upload receipt tells a supplier beyond the check: the invoice number and seller as
read, the status and what happens next in plain German and English, the expected payment date
while a payment is expected, and whose upload it was and when it arrived."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from einvoice.context import Context
from einvoice.lifecycle import expected_payment
from einvoice.store import tables as t
from einvoice.views.labels import next_step_words, status_words
from einvoice.views.queries import Case


def document_words(case: Case) -> dict[str, Any]:
    """The receipt's words for one document (fields of the receipt's document)."""
    inv = case.invoice
    words = status_words(inv.status)
    next_de, next_en = next_step_words(inv.status)
    return {"number": inv.number, "seller": inv.seller_name,
            "pay_by": expected_payment(inv.status, inv.pay_by),
            "status_de": words.supplier_de, "status_en": words.supplier_en,
            "next_de": next_de, "next_en": next_en}


def submission_words(ctx: Context, submission_id: int) -> dict[str, Any]:
    """Whose upload it was (the supplier's name on file) and when it arrived (UTC)."""
    with Session(ctx.engine) as s:
        sub = s.get(t.Submission, submission_id)
        supplier = s.get(t.Supplier, sub.supplier_id) if sub and sub.supplier_id else None
    return {"supplier": supplier.name if supplier else None,
            "received_at": sub.received_at if sub else None}
