"""The EN 16931 invoice (or credit note: BT-3 says which), its totals, VAT breakdown, references
and attachments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Base64Bytes

from einvoice.model.lines import AllowanceCharge, Line, Period
from einvoice.model.parties import Address, Buyer, Payee, Seller, TaxRepresentative
from einvoice.model.payment import PaymentInstructions, SkontoTerm, parse_skonto
from einvoice.model.terms import Identifier, Part, required, term, terms_list


class Delivery(Part):
    """BG-13 Delivery information."""

    party_name: str | None = term("BT-70")
    location_id: Identifier | None = term("BT-71")
    actual_date: date | None = term("BT-72")
    address: Address | None = term("BG-15")


class Totals(Part):
    """BG-22 Document totals."""

    line_net: Decimal | None = term("BT-106")
    allowances: Decimal | None = term("BT-107")
    charges: Decimal | None = term("BT-108")
    without_vat: Decimal | None = term("BT-109")
    vat: Decimal | None = term("BT-110")
    vat_accounting_currency: Decimal | None = term("BT-111")
    with_vat: Decimal | None = term("BT-112")
    prepaid: Decimal | None = term("BT-113")
    rounding: Decimal | None = term("BT-114")
    payable: Decimal | None = term("BT-115")


class VatBreakdown(Part):
    """BG-23 VAT breakdown, one per category and rate."""

    taxable_amount: Decimal | None = term("BT-116")
    tax_amount: Decimal | None = term("BT-117")
    category: str | None = term("BT-118")
    rate: Decimal | None = term("BT-119")
    exemption_reason: str | None = term("BT-120")
    exemption_reason_code: str | None = term("BT-121")


class Attachment(Part):
    """BT-125 Attached document: the binary object with its MIME code and file name."""

    content: Annotated[Base64Bytes, required("BT-125")]
    mime_code: str | None = term("BT-125-1")
    filename: str | None = term("BT-125-2")


class SupportingDocument(Part):
    """BG-24 Additional supporting document."""

    reference: Annotated[str, required("BT-122")]
    description: str | None = term("BT-123")
    external_uri: str | None = term("BT-124")
    attachment: Attachment | None = term("BT-125")


class Note(Part):
    """BG-1 Invoice note."""

    text: Annotated[str, required("BT-22")]
    subject_code: str | None = term("BT-21")


class PrecedingInvoice(Part):
    """BG-3 Preceding invoice reference."""

    number: Annotated[str, required("BT-25")]
    issue_date: date | None = term("BT-26")


class Invoice(Part):
    """The EN 16931 invoice (or credit note: BT-3 says which)."""

    number: str | None = term("BT-1")
    issue_date: date | None = term("BT-2")
    type_code: str | None = term("BT-3")
    currency: str | None = term("BT-5")
    vat_currency: str | None = term("BT-6")
    tax_point_date: date | None = term("BT-7")
    tax_point_date_code: str | None = term("BT-8")
    due_date: date | None = term("BT-9")
    buyer_reference: str | None = term("BT-10")
    project_reference: str | None = term("BT-11")
    contract_reference: str | None = term("BT-12")
    purchase_order_reference: str | None = term("BT-13")
    sales_order_reference: str | None = term("BT-14")
    receiving_advice_reference: str | None = term("BT-15")
    despatch_advice_reference: str | None = term("BT-16")
    tender_reference: str | None = term("BT-17")
    invoiced_object_id: Identifier | None = term("BT-18")
    buyer_accounting_reference: str | None = term("BT-19")
    payment_terms: str | None = term("BT-20")
    notes: list[Note] = terms_list("BG-1")
    business_process: str | None = term("BT-23")
    specification_id: str | None = term("BT-24")
    preceding_invoices: list[PrecedingInvoice] = terms_list("BG-3")
    seller: Seller = term("BG-4", default_factory=Seller)
    buyer: Buyer = term("BG-7", default_factory=Buyer)
    payee: Payee | None = term("BG-10")
    tax_representative: TaxRepresentative | None = term("BG-11")
    delivery: Delivery | None = term("BG-13")
    invoicing_period: Period | None = term("BG-14")
    payment: PaymentInstructions | None = term("BG-16")
    allowances_charges: list[AllowanceCharge] = terms_list("BG-20/BG-21")
    totals: Totals = term("BG-22", default_factory=Totals)
    vat_breakdown: list[VatBreakdown] = terms_list("BG-23")
    supporting_documents: list[SupportingDocument] = terms_list("BG-24")
    lines: list[Line] = terms_list("BG-25")

    @property
    def skonto(self) -> list[SkontoTerm]:
        """Cash-discount terms parsed from BT-20 (XRechnung ``#SKONTO#`` convention)."""
        return parse_skonto(self.payment_terms)

    @property
    def is_credit_note(self) -> bool:
        """Credit note type codes of UNTDID 1001 used under EN 16931."""
        return self.type_code in CREDIT_NOTE_TYPES


CREDIT_NOTE_TYPES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458",
                               "532"})
