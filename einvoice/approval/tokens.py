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

from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Status
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
    """One invoice as its supplier may see it."""

    invoice_id: int
    number: str | None
    status: str
    verdict: str | None
    pay_by: date | None


def supplier_invoice(ctx: Context, supplier_id: int, invoice_id: int) -> InvoiceStatus:
    """The status of one of the supplier's own invoices (uploaded with one of its tokens).
    Anyone else's invoice raises the same NotFound as a missing one, so the answer does not
    tell whether the id exists."""
    q = (select(t.Invoice, t.Submission.supplier_id)
         .join(t.Document, col(t.Document.id) == col(t.Invoice.document_id))
         .join(t.Submission, col(t.Submission.id) == col(t.Document.submission_id))
         .where(t.Invoice.id == invoice_id))
    with Session(ctx.engine) as s:
        row = s.exec(q).first()
    if row is None or row[1] != supplier_id:
        raise NotFound(f"no invoice with id {invoice_id}")
    inv = row[0]
    status = Status.PENDING if inv.status == Status.ON_HOLD else inv.status
    return InvoiceStatus(invoice_id=invoice_id, number=inv.number, status=status,
                         verdict=inv.verdict, pay_by=inv.pay_by)
