"""Reader for UBL 2.1 Invoice and CreditNote documents onto the canonical EN 16931 model.

The mapping follows the EN 16931 UBL syntax binding (CEN/TS 16931-3-2). This module reads the
document level: references, notes, totals and VAT; ``ubl_parties`` reads the parties and the
payment, ``ubl_lines`` the lines. All walk plain child paths (``xmlwalk``) and build groups by
the rules both readers share (``groups``), so that the CII reader yields an equal model for the
same business case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from einvoice import model
from einvoice.errors import UnsupportedDocument
from einvoice.formats.detect import UBL_CREDITNOTE_NS, UBL_INVOICE_NS
from einvoice.formats.groups import each, identifier, prefixed_note, supporting_document
from einvoice.formats.ubl_lines import allowances_charges, lines
from einvoice.formats.ubl_parties import (
    buyer,
    delivery,
    payee,
    payment,
    seller,
    sepa_creditor_id,
    tax_representative,
)
from einvoice.formats.ubl_syntax import (
    attr,
    decimal,
    find,
    find_all,
    joined,
    period,
    text,
    ubl_date,
)
from einvoice.formats.xmlwalk import Node


@dataclass(frozen=True)
class _DocumentType:
    """Where Invoice and CreditNote differ in the binding."""

    type_code: str
    line: str
    quantity: str
    due_date: str
    is_credit_note: bool


_DOCUMENT_TYPES = {
    f"{{{UBL_INVOICE_NS}}}Invoice": _DocumentType(
        "cbc:InvoiceTypeCode", "cac:InvoiceLine", "cbc:InvoicedQuantity", "cbc:DueDate", False
    ),
    f"{{{UBL_CREDITNOTE_NS}}}CreditNote": _DocumentType(
        "cbc:CreditNoteTypeCode", "cac:CreditNoteLine", "cbc:CreditedQuantity",
        "cac:PaymentMeans/cbc:PaymentDueDate", True,
    ),
}


def read_ubl(root: etree._Element) -> model.Invoice:
    """Map a parsed UBL Invoice or CreditNote onto the EN 16931 model.

    Raises ``UnsupportedDocument`` for any other root and ``ReadError`` for content that cannot
    be mapped (a malformed date, a broken attachment).
    """
    doc = _DOCUMENT_TYPES.get(root.tag)
    if doc is None:
        raise UnsupportedDocument(f"not a UBL Invoice or CreditNote: {root.tag}")
    return _invoice(Node(root), doc)


def _invoice(root: Node, doc: _DocumentType) -> model.Invoice:
    """The header terms and groups; lines and parties are read by their own modules."""
    currency = text(root, "cbc:DocumentCurrencyCode")
    vat_currency = text(root, "cbc:TaxCurrencyCode")
    document_tax, accounting_tax = _tax_totals(root, currency, vat_currency)
    refs = _additional_references(root, doc.is_credit_note)
    seller_party = find(root, "cac:AccountingSupplierParty/cac:Party")
    payee_party = find(root, "cac:PayeeParty")
    invoice_period = find(root, "cac:InvoicePeriod")
    return model.Invoice(
        number=text(root, "cbc:ID"),
        issue_date=ubl_date(root, "cbc:IssueDate", "BT-2"),
        type_code=text(root, doc.type_code),
        currency=currency,
        vat_currency=vat_currency,
        tax_point_date=ubl_date(root, "cbc:TaxPointDate", "BT-7"),
        tax_point_date_code=text(invoice_period, "cbc:DescriptionCode"),
        due_date=ubl_date(root, doc.due_date, "BT-9"),
        buyer_reference=text(root, "cbc:BuyerReference"),
        project_reference=text(root, "cac:ProjectReference/cbc:ID") or refs.project,
        contract_reference=text(root, "cac:ContractDocumentReference/cbc:ID"),
        purchase_order_reference=text(root, "cac:OrderReference/cbc:ID"),
        sales_order_reference=text(root, "cac:OrderReference/cbc:SalesOrderID"),
        receiving_advice_reference=text(root, "cac:ReceiptDocumentReference/cbc:ID"),
        despatch_advice_reference=text(root, "cac:DespatchDocumentReference/cbc:ID"),
        tender_reference=text(root, "cac:OriginatorDocumentReference/cbc:ID"),
        invoiced_object_id=refs.invoiced_object,
        buyer_accounting_reference=text(root, "cbc:AccountingCost"),
        payment_terms=joined(root, "cac:PaymentTerms/cbc:Note"),
        notes=_notes(root),
        business_process=text(root, "cbc:ProfileID"),
        specification_id=text(root, "cbc:CustomizationID"),
        preceding_invoices=each(
            _preceding_invoice, find_all(root, "cac:BillingReference/cac:InvoiceDocumentReference")
        ),
        seller=seller(seller_party),
        buyer=buyer(find(root, "cac:AccountingCustomerParty/cac:Party")),
        payee=payee(payee_party),
        tax_representative=tax_representative(find(root, "cac:TaxRepresentativeParty")),
        delivery=delivery(find(root, "cac:Delivery")),
        invoicing_period=period(invoice_period),
        payment=payment(root, sepa_creditor_id(payee_party) or sepa_creditor_id(seller_party)),
        allowances_charges=allowances_charges(root),
        totals=_totals(find(root, "cac:LegalMonetaryTotal"), document_tax, accounting_tax),
        vat_breakdown=[_vat_breakdown(s) for s in find_all(document_tax, "cac:TaxSubtotal")],
        supporting_documents=refs.documents,
        lines=lines(root, doc.line, doc.quantity),
    )


# ---------------------------------------------------------------- references and notes

def _notes(root: Node) -> list[model.Note]:
    """BG-1 from each cbc:Note, with an XRechnung ``#CODE#`` subject prefix split off."""
    return each(lambda el: prefixed_note(el.text), find_all(root, "cbc:Note"))


def _preceding_invoice(ref: Node) -> model.PrecedingInvoice | None:
    number = text(ref, "cbc:ID")
    if number is None:
        return None
    return model.PrecedingInvoice(number=number,
                                  issue_date=ubl_date(ref, "cbc:IssueDate", "BT-26"))


@dataclass
class _AdditionalReferences:
    """AdditionalDocumentReference carries three terms, told apart by DocumentTypeCode."""

    invoiced_object: model.Identifier | None = None  # BT-18: code 130
    project: str | None = None  # BT-11 on credit notes: code 50
    documents: list[model.SupportingDocument] = field(default_factory=list)  # BG-24: all others


def _additional_references(root: Node, is_credit_note: bool) -> _AdditionalReferences:
    refs = _AdditionalReferences()
    for ref in find_all(root, "cac:AdditionalDocumentReference"):
        code = text(ref, "cbc:DocumentTypeCode")
        if code == "130":
            refs.invoiced_object = refs.invoiced_object or identifier(find(ref, "cbc:ID"))
        elif code == "50" and is_credit_note:
            refs.project = refs.project or text(ref, "cbc:ID")
        elif (document := _supporting_document(ref)) is not None:
            refs.documents.append(document)
    return refs


def _supporting_document(ref: Node) -> model.SupportingDocument | None:
    return supporting_document(
        reference=text(ref, "cbc:ID"),
        description=text(ref, "cbc:DocumentDescription"),
        external_uri=text(ref, "cac:Attachment/cac:ExternalReference/cbc:URI"),
        attachment=find(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"),
    )


# ---------------------------------------------------------------- totals and VAT

def _tax_totals(root: Node, currency: str | None,
                vat_currency: str | None) -> tuple[Node | None, Node | None]:
    """The TaxTotal in the document currency (BT-110, BG-23) and the one in the VAT accounting
    currency (BT-111), told apart by the currencyID of their TaxAmount."""
    totals = find_all(root, "cac:TaxTotal")
    in_currency = next((t for t in totals
                        if attr(t, "cbc:TaxAmount", "currencyID") in (currency, None)), None)
    document = in_currency if in_currency is not None else next(iter(totals), None)
    if vat_currency is None:
        return document, None
    accounting = next((t for t in totals if t is not document
                       and attr(t, "cbc:TaxAmount", "currencyID") == vat_currency), None)
    return document, accounting


def _totals(monetary: Node | None, document_tax: Node | None,
            accounting_tax: Node | None) -> model.Totals:
    """BG-22 from the LegalMonetaryTotal, and BT-110 / BT-111 from the TaxTotals."""
    return model.Totals(
        line_net=decimal(monetary, "cbc:LineExtensionAmount", "BT-106"),
        allowances=decimal(monetary, "cbc:AllowanceTotalAmount", "BT-107"),
        charges=decimal(monetary, "cbc:ChargeTotalAmount", "BT-108"),
        without_vat=decimal(monetary, "cbc:TaxExclusiveAmount", "BT-109"),
        vat=decimal(document_tax, "cbc:TaxAmount", "BT-110"),
        vat_accounting_currency=decimal(accounting_tax, "cbc:TaxAmount", "BT-111"),
        with_vat=decimal(monetary, "cbc:TaxInclusiveAmount", "BT-112"),
        prepaid=decimal(monetary, "cbc:PrepaidAmount", "BT-113"),
        rounding=decimal(monetary, "cbc:PayableRoundingAmount", "BT-114"),
        payable=decimal(monetary, "cbc:PayableAmount", "BT-115"),
    )


def _vat_breakdown(subtotal: Node) -> model.VatBreakdown:
    return model.VatBreakdown(
        taxable_amount=decimal(subtotal, "cbc:TaxableAmount", "BT-116"),
        tax_amount=decimal(subtotal, "cbc:TaxAmount", "BT-117"),
        category=text(subtotal, "cac:TaxCategory/cbc:ID"),
        rate=decimal(subtotal, "cac:TaxCategory/cbc:Percent", "BT-119"),
        exemption_reason=text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReason"),
        exemption_reason_code=text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
    )
