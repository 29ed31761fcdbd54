"""The canonical EN 16931 invoice model.

Every reader (UBL, CII, ZUGFeRD 1.0, PDF) produces exactly this model, and every later stage
(validation, workflow, export, rendering) reads only this model. Each field names its business
term (``BT-n``) or group (``BG-n``) in its metadata, so reports and views can speak EN 16931.

Groups that occur in several roles (addresses, contacts, allowances/charges) are one class each;
their metadata lists the term per role, e.g. ``{"BG-5": "BT-35", "BG-8": "BT-50"}``.
Money and quantities are ``Decimal``; dates are ``datetime.date``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict


def _term_extra(tid: str | dict[str, str]) -> JsonDict:
    """``{"term": "BT-n"}``, or ``{"terms": {role: "BT-n"}}`` for a group in several roles."""
    if isinstance(tid, str):
        return {"term": tid}
    roles: JsonDict = {**tid}
    return {"terms": roles}


def term(tid: str | dict[str, str], default: Any = None, **kwargs: Any) -> Any:
    """An optional model field that carries its EN 16931 term id (or per-role ids) as metadata."""
    if "default_factory" in kwargs:
        return Field(json_schema_extra=_term_extra(tid), **kwargs)
    return Field(default, json_schema_extra=_term_extra(tid), **kwargs)


def required(tid: str) -> Any:
    """A required model field with its term id, for ``Annotated[str, required("BT-n")]``: the
    key term of a group that readers build only when the term is present."""
    return Field(json_schema_extra=_term_extra(tid))


def terms_list(tid: str) -> Any:
    """A repeatable group or term: a list field defaulting to empty."""
    return Field(default_factory=list, json_schema_extra=_term_extra(tid))


class Part(BaseModel):
    """Base of every model class: strict about unknown fields, tolerant about missing ones."""

    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)


class Identifier(Part):
    """An identifier with its optional scheme (e.g. BT-29 with BT-29-1)."""

    value: str
    scheme: str | None = None


# ---------------------------------------------------------------- parties

class Address(Part):
    """Postal address: BG-5 (seller), BG-8 (buyer), BG-12 (tax representative), BG-15 (deliver
    to)."""

    line1: str | None = term({"BG-5": "BT-35", "BG-8": "BT-50", "BG-12": "BT-64", "BG-15": "BT-75"})
    line2: str | None = term({"BG-5": "BT-36", "BG-8": "BT-51", "BG-12": "BT-65", "BG-15": "BT-76"})
    line3: str | None = term({"BG-5": "BT-162", "BG-8": "BT-163", "BG-12": "BT-164",
                              "BG-15": "BT-165"})
    city: str | None = term({"BG-5": "BT-37", "BG-8": "BT-52", "BG-12": "BT-66", "BG-15": "BT-77"})
    post_code: str | None = term({"BG-5": "BT-38", "BG-8": "BT-53", "BG-12": "BT-67",
                                  "BG-15": "BT-78"})
    subdivision: str | None = term({"BG-5": "BT-39", "BG-8": "BT-54", "BG-12": "BT-68",
                                    "BG-15": "BT-79"})
    country: str | None = term({"BG-5": "BT-40", "BG-8": "BT-55", "BG-12": "BT-69",
                                "BG-15": "BT-80"})


class Contact(Part):
    """Contact: BG-6 (seller), BG-9 (buyer)."""

    name: str | None = term({"BG-6": "BT-41", "BG-9": "BT-56"})
    phone: str | None = term({"BG-6": "BT-42", "BG-9": "BT-57"})
    email: str | None = term({"BG-6": "BT-43", "BG-9": "BT-58"})


class Seller(Part):
    """BG-4 Seller."""

    name: str | None = term("BT-27")
    trading_name: str | None = term("BT-28")
    identifiers: list[Identifier] = terms_list("BT-29")
    legal_registration_id: Identifier | None = term("BT-30")
    vat_id: str | None = term("BT-31")
    tax_registration_id: str | None = term("BT-32")
    additional_legal_info: str | None = term("BT-33")
    electronic_address: Identifier | None = term("BT-34")
    address: Address | None = term("BG-5")
    contact: Contact | None = term("BG-6")


class Buyer(Part):
    """BG-7 Buyer."""

    name: str | None = term("BT-44")
    trading_name: str | None = term("BT-45")
    identifier: Identifier | None = term("BT-46")
    legal_registration_id: Identifier | None = term("BT-47")
    vat_id: str | None = term("BT-48")
    electronic_address: Identifier | None = term("BT-49")
    address: Address | None = term("BG-8")
    contact: Contact | None = term("BG-9")


class Payee(Part):
    """BG-10 Payee (when different from the seller)."""

    name: str | None = term("BT-59")
    identifier: Identifier | None = term("BT-60")
    legal_registration_id: Identifier | None = term("BT-61")


class TaxRepresentative(Part):
    """BG-11 Seller tax representative party."""

    name: str | None = term("BT-62")
    vat_id: str | None = term("BT-63")
    address: Address | None = term("BG-12")


class Period(Part):
    """Invoicing period BG-14 (BT-73/74) or line period BG-26 (BT-134/135)."""

    start: date | None = term({"BG-14": "BT-73", "BG-26": "BT-134"})
    end: date | None = term({"BG-14": "BT-74", "BG-26": "BT-135"})


class Delivery(Part):
    """BG-13 Delivery information."""

    party_name: str | None = term("BT-70")
    location_id: Identifier | None = term("BT-71")
    actual_date: date | None = term("BT-72")
    address: Address | None = term("BG-15")


# ---------------------------------------------------------------- payment

class CreditTransfer(Part):
    """BG-17 Credit transfer."""

    account_id: Annotated[str, required("BT-84")]
    account_name: str | None = term("BT-85")
    service_provider_id: str | None = term("BT-86")


class PaymentCard(Part):
    """BG-18 Payment card information."""

    primary_account_number: Annotated[str, required("BT-87")]
    holder_name: str | None = term("BT-88")


class DirectDebit(Part):
    """BG-19 Direct debit."""

    mandate_reference: str | None = term("BT-89")
    creditor_id: str | None = term("BT-90")
    debited_account_id: str | None = term("BT-91")


class PaymentInstructions(Part):
    """BG-16 Payment instructions."""

    means_code: str | None = term("BT-81")
    means_text: str | None = term("BT-82")
    remittance_information: str | None = term("BT-83")
    credit_transfers: list[CreditTransfer] = terms_list("BG-17")
    card: PaymentCard | None = term("BG-18")
    direct_debit: DirectDebit | None = term("BG-19")


class SkontoTerm(Part):
    """One XRechnung cash-discount line in BT-20:
    ``#SKONTO#TAGE=14#PROZENT=2.00#[BASISBETRAG=..#]``.

    Parsed because finance staff must pay within ``days`` to keep the discount.
    """

    days: int
    percent: Decimal
    base_amount: Decimal | None = None


_SKONTO = re.compile(
    r"#SKONTO#TAGE=(?P<days>\d+)#PROZENT=(?P<percent>\d+(?:\.\d+)?)#"
    r"(?:BASISBETRAG=(?P<base>-?\d+(?:\.\d+)?)#)?"
)


def parse_skonto(payment_terms: str | None) -> list[SkontoTerm]:
    """The Skonto lines of an XRechnung payment terms text (BT-20), in order of appearance."""
    if not payment_terms:
        return []
    return [
        SkontoTerm(
            days=int(m["days"]),
            percent=Decimal(m["percent"]),
            base_amount=Decimal(m["base"]) if m["base"] else None,
        )
        for m in _SKONTO.finditer(payment_terms)
    ]


# ---------------------------------------------------------------- allowances, totals, VAT

class AllowanceCharge(Part):
    """Document level BG-20 (allowance) / BG-21 (charge), line level BG-27 / BG-28."""

    is_charge: bool
    amount: Decimal | None = term({"BG-20": "BT-92", "BG-21": "BT-99", "BG-27": "BT-136",
                            "BG-28": "BT-141"})
    base_amount: Decimal | None = term({"BG-20": "BT-93", "BG-21": "BT-100", "BG-27": "BT-137",
                                        "BG-28": "BT-142"})
    percent: Decimal | None = term({"BG-20": "BT-94", "BG-21": "BT-101", "BG-27": "BT-138",
                                    "BG-28": "BT-143"})
    vat_category: str | None = term({"BG-20": "BT-95", "BG-21": "BT-102"})
    vat_rate: Decimal | None = term({"BG-20": "BT-96", "BG-21": "BT-103"})
    reason: str | None = term({"BG-20": "BT-97", "BG-21": "BT-104", "BG-27": "BT-139",
                               "BG-28": "BT-144"})
    reason_code: str | None = term({"BG-20": "BT-98", "BG-21": "BT-105", "BG-27": "BT-140",
                                    "BG-28": "BT-145"})


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


# ---------------------------------------------------------------- lines

class Price(Part):
    """BG-29 Price details."""

    net: Decimal | None = term("BT-146")
    discount: Decimal | None = term("BT-147")
    gross: Decimal | None = term("BT-148")
    base_quantity: Decimal | None = term("BT-149")
    base_quantity_unit: str | None = term("BT-150")


class ItemAttribute(Part):
    """BG-32 Item attributes."""

    name: Annotated[str, required("BT-160")]
    value: Annotated[str, required("BT-161")]


class Classification(Part):
    """BT-158 Item classification identifier with scheme (BT-158-1) and version (BT-158-2)."""

    code: Annotated[str, required("BT-158")]
    scheme: str | None = term("BT-158-1")
    version: str | None = term("BT-158-2")


class Item(Part):
    """BG-31 Item information."""

    name: str | None = term("BT-153")
    description: str | None = term("BT-154")
    seller_id: str | None = term("BT-155")
    buyer_id: str | None = term("BT-156")
    standard_id: Identifier | None = term("BT-157")
    classifications: list[Classification] = terms_list("BT-158")
    origin_country: str | None = term("BT-159")
    attributes: list[ItemAttribute] = terms_list("BG-32")


class Line(Part):
    """BG-25 Invoice line."""

    id: str | None = term("BT-126")  # mandatory in EN 16931, absent in ZUGFeRD 1.0 lines
    note: str | None = term("BT-127")
    object_id: Identifier | None = term("BT-128")
    quantity: Decimal | None = term("BT-129")
    unit_code: str | None = term("BT-130")
    net_amount: Decimal | None = term("BT-131")
    order_line_reference: str | None = term("BT-132")
    accounting_reference: str | None = term("BT-133")
    period: Period | None = term("BG-26")
    allowances_charges: list[AllowanceCharge] = terms_list("BG-27/BG-28")
    price: Price = term("BG-29", default_factory=Price)
    vat_category: str | None = term("BT-151")
    vat_rate: Decimal | None = term("BT-152")
    item: Item = term("BG-31", default_factory=Item)


# ---------------------------------------------------------------- the invoice

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
