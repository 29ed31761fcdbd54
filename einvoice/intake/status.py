"""What a supplier is told about its invoices, on the API and on the status page: the status in
plain German and English, the expected payment date while a payment is expected, the day it was
paid once it is, and for a document that could not be read why it is not processed. The lookup
is by the internal id or by the invoice number (BT-1), always within the token's supplier
(``approval.tokens``)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from einvoice.approval.tokens import InvoiceStatus, supplier_invoices
from einvoice.context import Context
from einvoice.notify.unprocessable import Unprocessable
from einvoice.views.labels import status_words


class SupplierInvoice(BaseModel):
    """One invoice as its supplier sees it (``GET /api/v1/invoices/{id}`` and each invoice of
    a lookup by number)."""

    invoice_id: int
    number: str | None
    status: str
    verdict: str | None
    pay_by: date | None  # expected payment date; only while a payment is expected
    paid_on: date | None  # the day it was paid (status ``paid``)
    status_de: str
    status_en: str

    @classmethod
    def of(cls, seen: InvoiceStatus) -> SupplierInvoice:
        words = status_words(seen.status)
        return cls(invoice_id=seen.invoice_id, number=seen.number, status=seen.status,
                   verdict=seen.verdict, pay_by=seen.pay_by, paid_on=seen.paid_on,
                   status_de=words.supplier_de, status_en=words.supplier_en)


class InvoiceLookup(BaseModel):
    """The supplier's invoices with one invoice number, oldest first (none: an empty list)."""

    number: str
    invoices: list[SupplierInvoice]


class UnprocessableOut(BaseModel):
    """Why a document is not processed and what to send instead (German, English)."""

    de: str
    en: str

    @classmethod
    def of(cls, found: Unprocessable | None) -> UnprocessableOut | None:
        return None if found is None else cls(de=found.de, en=found.en)


def lookup(ctx: Context, supplier_id: int, number: str) -> InvoiceLookup:
    return InvoiceLookup(number=number.strip(), invoices=[
        SupplierInvoice.of(seen) for seen in supplier_invoices(ctx, supplier_id, number)])
