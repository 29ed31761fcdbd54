"""When to pay: the due date, and the last day on which a cash discount (Skonto) still applies.

Finance staff work the queue by the earlier of the two, so no discount is lost and no invoice
paid late (XRechnung Skonto terms count from the invoice date, BT-2).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from einvoice.model import Invoice


def pay_by(model: Invoice, payment_days: int) -> date | None:
    """BT-9 when given, else the invoice date plus the configured payment target."""
    if model.due_date:
        return model.due_date
    return model.issue_date + timedelta(days=payment_days) if model.issue_date else None


def skonto_deadline(model: Invoice) -> tuple[date, Decimal] | None:
    """The best discount still earliest to lose: (last day, percent) of the shortest term."""
    terms = model.skonto
    if not terms or model.issue_date is None:
        return None
    first = min(terms, key=lambda term: term.days)
    return model.issue_date + timedelta(days=first.days), first.percent
