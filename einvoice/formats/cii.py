"""Reader for UN/CEFACT CII D16B onto the canonical EN 16931 model.

CII D16B is the syntax of XRechnung CII and of the XML that ZUGFeRD 2.x / Factur-X embed in PDFs
(all profiles, MINIMUM to EXTENDED). The mapping follows the EN 16931 CII syntax binding
(CEN/TS 16931-3-3); elements outside it (EXTENDED additions, XRechnung sub-lines) are not read.
ZUGFeRD 1.0 is read by the same code in another ``Dialect`` (``cii_syntax``, ``zugferd1``).

This module reads the document level: references, notes, totals and VAT; ``cii_parties`` reads
the parties and the payment, ``cii_lines`` the lines. Groups are built by the rules the UBL
reader follows too (``groups``), so that both give equal models for one business case.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree

from einvoice import model
from einvoice.errors import UnsupportedDocument
from einvoice.formats.cii_lines import INVOICED_OBJECT, allowances_charges, lines
from einvoice.formats.cii_parties import (
    buyer,
    delivery,
    payee,
    payment,
    seller,
    tax_representative,
)
from einvoice.formats.cii_syntax import D16B, CiiPaths, Dialect, cii_paths
from einvoice.formats.groups import each, group, supporting_document
from einvoice.formats.xmlwalk import Node, number

# UNTDID 1001 codes that tell AdditionalReferencedDocument apart in the binding.
_SUPPORTING_DOCUMENT = "916"
_TENDER = "50"

# BT-8 is coded in UNTDID 2005 by EN 16931 and in UNTDID 2475 by the CII binding.
_TAX_POINT_CODES = {"5": "3", "29": "35", "72": "432"}


def read_cii(root: etree._Element) -> model.Invoice:
    """The canonical invoice of a CII D16B ``rsm:CrossIndustryInvoice`` root element."""
    return read_cross_industry(root, D16B)


def read_cross_industry(root: etree._Element, dialect: Dialect) -> model.Invoice:
    """The canonical invoice of a root element in the given CII dialect."""
    if root.tag != f"{{{dialect.rsm}}}{dialect.root}":
        raise UnsupportedDocument(f"{root.tag} is not a {dialect.root} in {dialect.rsm}")
    return _invoice(cii_paths(dialect), Node(root))


def _invoice(cii: CiiPaths, root: Node) -> model.Invoice:
    """The whole invoice, put together from the parts of the document each function reads."""
    d = cii.d
    transaction = cii.find(root, "rsm:" + d.transaction)
    settlement = cii.find(transaction, d.header_trade + "Settlement")
    return model.Invoice(
        **_header(cii, cii.find(root, "rsm:" + d.context), cii.find(root, "rsm:" + d.document)),
        **_agreement(cii, cii.find(transaction, d.header_trade + "Agreement")),
        **_delivery(cii, cii.find(transaction, d.header_trade + "Delivery")),
        **_settlement(cii, settlement),
        **_tax(cii, settlement),
        lines=lines(cii, transaction),
    )


def _header(cii: CiiPaths, context: Node | None, document: Node | None) -> dict[str, Any]:
    """BT-1 .. BT-3, BG-1, BT-23, BT-24."""
    return {
        "number": cii.text(document, "ID"),
        "issue_date": cii.date(document, "IssueDateTime", "BT-2"),
        "type_code": cii.text(document, "TypeCode"),
        "notes": [note for el in cii.all(document, "IncludedNote")
                  if (note := _note(cii, el)) is not None],
        "business_process": cii.text(
            context, "BusinessProcessSpecifiedDocumentContextParameter/ID"),
        "specification_id": cii.text(context, "GuidelineSpecifiedDocumentContextParameter/ID"),
    }


def _note(cii: CiiPaths, el: Node) -> model.Note | None:
    return group(model.Note, key="text", text=cii.joined(el, "Content"),
                 subject_code=cii.text(el, "SubjectCode"))


def _agreement(cii: CiiPaths, agreement: Node | None) -> dict[str, Any]:
    """References BT-10 .. BT-18, the seller, buyer and tax representative, and BG-24."""
    return {
        "buyer_reference": cii.text(agreement, "BuyerReference"),
        "project_reference": cii.text(agreement, "SpecifiedProcuringProject/ID"),
        "contract_reference": cii.document_id(agreement, "ContractReferencedDocument"),
        "purchase_order_reference": cii.document_id(agreement, "BuyerOrderReferencedDocument"),
        "sales_order_reference": cii.document_id(agreement, "SellerOrderReferencedDocument"),
        "tender_reference": cii.document_id(cii.typed_reference(agreement, _TENDER)),
        "invoiced_object_id": cii.referenced_object(
            cii.typed_reference(agreement, INVOICED_OBJECT)),
        "seller": seller(cii, cii.find(agreement, "SellerTradeParty")),
        "buyer": buyer(cii, cii.find(agreement, "BuyerTradeParty")),
        "tax_representative": tax_representative(
            cii, cii.find(agreement, "SellerTaxRepresentativeTradeParty")),
        "supporting_documents": [
            document for ref in cii.all(agreement, "AdditionalReferencedDocument")
            if cii.text(ref, "TypeCode") == _SUPPORTING_DOCUMENT
            and (document := _supporting_document(cii, ref)) is not None],
    }


def _supporting_document(cii: CiiPaths, ref: Node) -> model.SupportingDocument | None:
    return supporting_document(
        reference=cii.document_id(ref),
        description=cii.text(ref, "Name"),
        external_uri=cii.text(ref, "URIID"),
        attachment=cii.find(ref, "AttachmentBinaryObject"),
    )


def _delivery(cii: CiiPaths, trade_delivery: Node | None) -> dict[str, Any]:
    """BT-15, BT-16 and BG-13."""
    return {
        "receiving_advice_reference": cii.document_id(
            trade_delivery, "ReceivingAdviceReferencedDocument"),
        "despatch_advice_reference": cii.document_id(trade_delivery, cii.d.despatch_advice),
        "delivery": delivery(cii, trade_delivery),
    }


def _settlement(cii: CiiPaths, settlement: Node | None) -> dict[str, Any]:
    """Currencies, payment, BG-3, payee, period, document allowances/charges and totals."""
    currency = cii.text(settlement, "InvoiceCurrencyCode")
    vat_currency = cii.text(settlement, "TaxCurrencyCode")
    return {
        "currency": currency,
        "vat_currency": vat_currency,
        "due_date": cii.date(settlement, "SpecifiedTradePaymentTerms/DueDateDateTime", "BT-9"),
        "buyer_accounting_reference": cii.text(settlement, cii.d.accounting_account + "/ID"),
        "payment_terms": cii.joined(settlement, "SpecifiedTradePaymentTerms/Description"),
        "preceding_invoices": each(lambda ref: _preceding_invoice(cii, ref),
                                   cii.all(settlement, "InvoiceReferencedDocument")),
        "payee": payee(cii, cii.find(settlement, "PayeeTradeParty")),
        "invoicing_period": cii.period(cii.find(settlement, "BillingSpecifiedPeriod")),
        "payment": payment(cii, settlement),
        "allowances_charges": allowances_charges(cii, settlement),
        "totals": _totals(cii, cii.find(settlement, cii.d.header_summation),
                          currency, vat_currency),
    }


def _preceding_invoice(cii: CiiPaths, ref: Node) -> model.PrecedingInvoice | None:
    number = cii.document_id(ref)
    if number is None:
        return None
    return model.PrecedingInvoice(number=number,
                                  issue_date=cii.date(ref, "FormattedIssueDateTime", "BT-26"))


# ---------------------------------------------------------------- totals and VAT

def _totals(cii: CiiPaths, summation: Node | None, currency: str | None,
            vat_currency: str | None) -> model.Totals:
    vat, vat_accounting = _vat_totals(cii, summation, currency, vat_currency)
    return model.Totals(
        line_net=cii.decimal(summation, "LineTotalAmount", "BT-106"),
        allowances=cii.decimal(summation, "AllowanceTotalAmount", "BT-107"),
        charges=cii.decimal(summation, "ChargeTotalAmount", "BT-108"),
        without_vat=cii.decimal(summation, "TaxBasisTotalAmount", "BT-109"),
        vat=vat,
        vat_accounting_currency=vat_accounting,
        with_vat=cii.decimal(summation, "GrandTotalAmount", "BT-112"),
        prepaid=cii.decimal(summation, "TotalPrepaidAmount", "BT-113"),
        rounding=cii.decimal(summation, "RoundingAmount", "BT-114"),
        payable=cii.decimal(summation, "DuePayableAmount", "BT-115"),
    )


def _vat_totals(cii: CiiPaths, summation: Node | None, currency: str | None,
                vat_currency: str | None) -> tuple[Decimal | None, Decimal | None]:
    """(BT-110, BT-111): TaxTotalAmount told apart by currencyID; one without is BT-110."""
    vat = vat_accounting = None
    for el in cii.all(summation, "TaxTotalAmount"):
        amount_currency = el.attr("currencyID")
        if vat is None and amount_currency in (None, currency):
            vat = number(el, "BT-110")
        elif vat_accounting is None and amount_currency == vat_currency:
            vat_accounting = number(el, "BT-111")
    return vat, vat_accounting


def _tax(cii: CiiPaths, settlement: Node | None) -> dict[str, Any]:
    """BG-23, and BT-7 / BT-8 that the binding places inside it."""
    taxes = cii.all(settlement, "ApplicableTradeTax")
    return {
        "vat_breakdown": [_vat_breakdown(cii, el) for el in taxes],
        "tax_point_date": next((day for el in taxes if (
            day := cii.date(el, "TaxPointDate", "BT-7")) is not None), None),
        "tax_point_date_code": next((_TAX_POINT_CODES.get(code, code) for el in taxes if (
            code := cii.text(el, "DueDateTypeCode")) is not None), None),
    }


def _vat_breakdown(cii: CiiPaths, el: Node) -> model.VatBreakdown:
    return model.VatBreakdown(
        taxable_amount=cii.decimal(el, "BasisAmount", "BT-116"),
        tax_amount=cii.decimal(el, "CalculatedAmount", "BT-117"),
        category=cii.text(el, "CategoryCode"),
        rate=cii.decimal(el, cii.d.rate, "BT-119"),
        exemption_reason=cii.text(el, "ExemptionReason"),
        exemption_reason_code=cii.text(el, "ExemptionReasonCode"),
    )
