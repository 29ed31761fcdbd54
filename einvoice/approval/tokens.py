"""Per-supplier API tokens for the upload endpoint, and what a token's holder may see.

A token is shown once, when it is created; only its SHA-256 is stored. Tokens are 256 random
bits (``secrets.token_urlsafe``), so a fast hash cannot be brute-forced and a stolen database
does not yield usable tokens. A supplier sees its own invoices only, and of those only what
concerns it: an internal hold is still "pending" to the supplier.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Status, expected_payment, number_key, seen_by_supplier
from einvoice.store import tables as t
from einvoice.store.types import utcnow

PREFIX = "einv_"  # makes a leaked token recognisable to secret scanners


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(ctx: Context, supplier_id: int, label: str | None = None) -> tuple[int, str]:
    """A new token for the supplier: its id and the token itself (never retrievable again)."""
    token = PREFIX + secrets.token_urlsafe(32)
    with Session(ctx.engine) as s:
        if s.get(t.Supplier, supplier_id) is None:
            raise NotFound(f"no supplier with id {supplier_id}")
        row = t.ApiToken(supplier_id=supplier_id, token_hash=token_hash(token), label=label)
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id, token


def revoke_token(ctx: Context, token_id: int) -> None:
    """Revoke a token; revoking twice keeps the first revocation time."""
    with Session(ctx.engine) as s:
        row = s.get(t.ApiToken, token_id)
        if row is None:
            raise NotFound(f"no API token with id {token_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            s.add(row)
            s.commit()


def authenticate(ctx: Context, token: str) -> int | None:
    """The supplier id the token belongs to, or None for unknown and revoked tokens."""
    digest = token_hash(token)
    with Session(ctx.engine) as s:
        row = s.exec(select(t.ApiToken).where(t.ApiToken.token_hash == digest)).first()
    # the lookup is by hash, so its timing says nothing about the token; compare anyway
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash,
                                                                            digest):
        return None
    return row.supplier_id


@dataclass(frozen=True)
class InvoiceStatus:
    """One invoice as its supplier may see it: ``pay_by`` only while a payment is expected
    (``lifecycle.expected_payment``), ``paid_on`` once it is paid."""

    invoice_id: int
    number: str | None
    status: str
    verdict: str | None
    pay_by: date | None
    paid_on: date | None = None


def _as_seen(inv: t.Invoice) -> InvoiceStatus:
    assert inv.id is not None
    return InvoiceStatus(invoice_id=inv.id, number=inv.number,
                         status=seen_by_supplier(inv.status),
                         verdict=inv.verdict, pay_by=expected_payment(inv.status, inv.pay_by),
                         paid_on=inv.paid_on if inv.status == Status.PAID else None)


def _own() -> Any:
    """Invoices with the supplier id of the submission they came in (bind ``supplier``)."""
    return (select(t.Invoice)
            .join(t.Document, col(t.Document.id) == col(t.Invoice.document_id))
            .join(t.Submission, col(t.Submission.id) == col(t.Document.submission_id))
            .where(col(t.Submission.supplier_id) == bindparam("supplier")))


def supplier_invoice(ctx: Context, supplier_id: int, invoice_id: int) -> InvoiceStatus:
    """The status of one of the supplier's own invoices (uploaded with one of its tokens).
    Anyone else's invoice raises the same NotFound as a missing one, so the answer does not
    tell whether the id exists."""
    with Session(ctx.engine) as s:
        inv = s.exec(_own().where(col(t.Invoice.id) == invoice_id),
                     params={"supplier": supplier_id}).first()
    if inv is None:
        raise NotFound(f"no invoice with id {invoice_id}")
    return _as_seen(inv)


def supplier_invoices(ctx: Context, supplier_id: int, number: str) -> list[InvoiceStatus]:
    """The supplier's own invoices with this invoice number (BT-1, compared as duplicates
    compare it: ``lifecycle.number_key``), oldest first: a number may repeat (a corrected
    invoice resent under the same number), and another supplier's invoice with the same number
    is never among them."""
    key = number_key(number)
    if key is None:
        return []
    with Session(ctx.engine) as s:
        rows = s.exec(_own().where(col(t.Invoice.number_key) == key)
                      .order_by(col(t.Invoice.id)), params={"supplier": supplier_id}).all()
    return [_as_seen(inv) for inv in rows]
