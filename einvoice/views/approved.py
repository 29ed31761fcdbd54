"""What an approval vouches for: the values the export books, read in one place.

The approval hashes them into its audit event (``approval.workflow``); the export refuses an
invoice whose values no longer equal them (``export.vouch``). Approval and export must not
import each other, so the one reading of these values lives below both.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlmodel import col

from einvoice.errors import NotFound
from einvoice.store import tables as t
from einvoice.views.formatting import plain

_CASE: Any = (select(col(t.Invoice.gross_total), col(t.Invoice.currency), col(t.Invoice.ibans),
                     col(t.Invoice.account), col(t.Invoice.cost_centre),
                     col(t.Invoice.model_json), col(t.Document.sha256))
              .join(t.Document, col(t.Document.id) == col(t.Invoice.document_id)))


def approved_content(conn: Connection, invoice_id: int) -> dict[str, Any]:
    """The case as staff see it (gross total BT-112, currency, IBANs BT-84, the assigned
    account and cost centre of the invoice and of its lines), the SHA-256 of the stored invoice
    data (every field the export writes: a change the columns do not show still shows here) and
    the SHA-256 of the original document."""
    case = conn.execute(_CASE.where(col(t.Invoice.id) == invoice_id)).first()
    if case is None:
        raise NotFound(f"no invoice with id {invoice_id}")
    gross, currency, ibans, account, cost_centre, data, original = case
    lines = conn.execute(select(col(t.InvoiceLine.position), col(t.InvoiceLine.account),
                                col(t.InvoiceLine.cost_centre))
                         .where(col(t.InvoiceLine.invoice_id) == invoice_id,
                                or_(col(t.InvoiceLine.account).is_not(None),
                                    col(t.InvoiceLine.cost_centre).is_not(None)))
                         .order_by(col(t.InvoiceLine.position)))
    return {
        "gross_total": None if gross is None else plain(gross.normalize()),
        "currency": currency,
        "ibans": ibans.split(",") if ibans else [],
        "account": account,
        "cost_centre": cost_centre,
        "lines": [{"position": p, "account": a, "cost_centre": c} for p, a, c in lines],
        "data_sha256": None if data is None else hashlib.sha256(data.encode()).hexdigest(),
        "original_sha256": original,
    }
