"""The canonical EN 16931 invoice model.

Every reader (UBL, CII, ZUGFeRD 1.0, PDF) produces exactly this model, and every later stage
(validation, workflow, export, rendering) reads only this model. Each field names its business
term (``BT-n``) or group (``BG-n``) in its metadata, so reports and views can speak EN 16931.

Groups that occur in several roles (addresses, contacts, allowances/charges) are one class each;
their metadata lists the term per role, e.g. ``{"BG-5": "BT-35", "BG-8": "BT-50"}``.
Money and quantities are ``Decimal``; dates are ``datetime.date``.

The classes live in ``terms`` (field metadata, ``Part``), ``parties``, ``payment``, ``lines`` and
``invoice``; import them from here.
"""

from einvoice.model.invoice import (
    CREDIT_NOTE_TYPES,
    Attachment,
    Delivery,
    Invoice,
    Note,
    PrecedingInvoice,
    SupportingDocument,
    Totals,
    VatBreakdown,
)
from einvoice.model.lines import (
    AllowanceCharge,
    Classification,
    Item,
    ItemAttribute,
    Line,
    Period,
    Price,
)
from einvoice.model.parties import Address, Buyer, Contact, Payee, Seller, TaxRepresentative
from einvoice.model.payment import (
    CreditTransfer,
    DirectDebit,
    PaymentCard,
    PaymentInstructions,
    SkontoTerm,
    parse_skonto,
)
from einvoice.model.terms import Identifier, Part, required, term, terms_list

__all__ = [
    "CREDIT_NOTE_TYPES", "Address", "AllowanceCharge", "Attachment", "Buyer", "Classification",
    "Contact", "CreditTransfer", "Delivery", "DirectDebit", "Identifier", "Invoice", "Item",
    "ItemAttribute", "Line", "Note", "Part", "Payee", "PaymentCard", "PaymentInstructions",
    "Period", "PrecedingInvoice", "Price", "Seller", "SkontoTerm", "SupportingDocument",
    "TaxRepresentative", "Totals", "VatBreakdown", "parse_skonto", "required", "term",
    "terms_list",
]
