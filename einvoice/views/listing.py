"""What a listing shows of an invoice case, and the JSON of one row of it (``einvoice list
--json``, and the first fields of ``show --json`` and ``inbox --json``: a promise to scripts)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from einvoice.store import tables as t
from einvoice.views.formatting import plain


class Listed(NamedTuple):
    """What a listing shows of a case: these columns only, never the stored model, so that the
    memory of a listing does not grow with the size of the invoices."""

    id: int
    status: str
    number: str | None
    type_code: str | None
    seller_name: str | None
    seller_vat_id: str | None
    buyer_reference: str | None
    issue_date: date | None
    due_date: date | None
    gross_total: Decimal | None
    currency: str | None
    filename: str | None  # of the document
    kind: str  # of the document
    received_at: datetime
    duplicate_of: int | None
    verdict: str | None
    scenario: str | None
    rule_release: str | None
    profile: str | None
    error: str | None

    @classmethod
    def of(cls, inv: t.Invoice, doc: t.Document) -> Listed:
        return cls._make(getattr(doc if name in _OF_DOCUMENT else inv, name)
                         for name in cls._fields)


_OF_DOCUMENT = frozenset({"filename", "kind"})
LISTED_COLUMNS = tuple(getattr(t.Document if name in _OF_DOCUMENT else t.Invoice, name)
                       for name in Listed._fields)  # the columns a listing selects


def summary(inv: t.Invoice, doc: t.Document) -> dict[str, Any]:
    """``listed_json`` of a case read whole (``show``, ``inbox``)."""
    return listed_json(Listed.of(inv, doc))


def listed_json(row: Listed) -> dict[str, str | int | None]:
    """The JSON shape of one row of ``einvoice list --json`` (a promise to scripts)."""
    return {
        "id": row.id,
        "status": row.status,
        "number": row.number,
        "type_code": row.type_code,
        "seller": row.seller_name,
        "seller_vat_id": row.seller_vat_id,
        "buyer_reference": row.buyer_reference,
        "issue_date": row.issue_date.isoformat() if row.issue_date else None,
        "due_date": row.due_date.isoformat() if row.due_date else None,
        "gross_total": plain(row.gross_total),
        "currency": row.currency,
        "filename": row.filename,
        "kind": row.kind,
        "received_at": row.received_at.isoformat(),
        "duplicate_of": row.duplicate_of,
        "verdict": row.verdict,
        "scenario": row.scenario,
        "rule_release": row.rule_release,
        "profile": row.profile,
        "error": row.error,
    }
