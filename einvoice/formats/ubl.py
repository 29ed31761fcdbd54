"""Reader for UBL 2.1 Invoice and CreditNote documents onto the canonical EN 16931 model.

The mapping follows the EN 16931 UBL syntax binding (CEN/TS 16931-3-2). Paths are plain child
paths (``cac:Party/cbc:ID``) looked up in per-element child indexes, which reads an invoice in
half the time ElementPath ``find`` takes. Groups with nothing in them stay ``None`` and groups
without their key term are left out (lines excepted), so the CII reader yields an equal model
for the same business case; the official rules, run on the XML, report what is missing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from lxml import etree

from einvoice.errors import UnsupportedDocument
from einvoice.formats.detect import UBL_CREDITNOTE_NS, UBL_INVOICE_NS
from einvoice.formats.values import clean, iso_date, text_of, to_bool, to_decimal
from einvoice.model import (
    Address,
    AllowanceCharge,
    Attachment,
    Buyer,
    Classification,
    Contact,
    CreditTransfer,
    Delivery,
    DirectDebit,
    Identifier,
    Invoice,
    Item,
    ItemAttribute,
    Line,
    Note,
    Part,
    Payee,
    PaymentCard,
    PaymentInstructions,
    Period,
    PrecedingInvoice,
    Price,
    Seller,
    SupportingDocument,
    TaxRepresentative,
    Totals,
    VatBreakdown,
)

_Group = TypeVar("_Group", bound=Part)
_T = TypeVar("_T")

_NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

# XRechnung puts the note subject code (BT-21) in front of the note text: "#AAI#text".
_SUBJECT_PREFIX = re.compile(r"#(?P<code>[A-Z0-9]{3})#(?P<text>.*)", re.DOTALL)


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


# ---------------------------------------------------------------- value access

@functools.cache
def _steps(path: str) -> tuple[str, ...]:
    """``"cac:Party/cbc:ID"`` as Clark-notation tags, computed once per path."""
    steps = (step.split(":") for step in path.split("/"))
    return tuple(f"{{{_NS[prefix]}}}{name}" for prefix, name in steps)


class _Node:
    """An element whose children are indexed by tag on the first lookup.

    A reader makes a few hundred lookups per invoice, mostly on the same few aggregates; an
    ElementPath ``find`` costs microseconds each, a dict lookup a fraction of that.
    """

    __slots__ = ("_children", "el")

    def __init__(self, el: etree._Element) -> None:
        self.el = el
        self._children: dict[str, list[_Node]] | None = None

    def children(self, tag: str) -> list[_Node]:
        if self._children is None:
            self._children = {}
            for child in self.el:
                if isinstance(child.tag, str):  # comments and PIs have no tag
                    self._children.setdefault(child.tag, []).append(_Node(child))
        return self._children.get(tag, [])

    def attr(self, name: str) -> str | None:
        return clean(self.el.get(name))


def _all(node: _Node | None, path: str) -> list[_Node]:
    """All matches of a child path below ``node`` (none below an absent parent)."""
    nodes = [] if node is None else [node]
    for tag in _steps(path):
        nodes = [child for parent in nodes for child in parent.children(tag)]
    return nodes


def _find(node: _Node | None, path: str) -> _Node | None:
    """First match in document order, e.g. the card account of whichever PaymentMeans has one."""
    return None if node is None else _first(node, _steps(path), 0)


def _first(node: _Node, steps: tuple[str, ...], depth: int) -> _Node | None:
    """Depth-first ``_find`` that stops at the first match instead of collecting all."""
    last = depth == len(steps) - 1
    for child in node.children(steps[depth]):
        found = child if last else _first(child, steps, depth + 1)
        if found is not None:
            return found
    return None


def _value(node: _Node | None) -> str | None:
    """Text of a leaf element; whole even where a comment splits it (``.text`` stops there)."""
    if node is None:
        return None
    if len(node.el):
        return clean(str(node.el.xpath("string()")))
    return text_of(node.el)


def _text(el: _Node | None, path: str) -> str | None:
    return _value(_find(el, path))


def _decimal(el: _Node | None, path: str) -> Decimal | None:
    return to_decimal(_text(el, path))


def _date(el: _Node | None, path: str) -> date | None:
    return iso_date(_text(el, path))


def _attr(el: _Node | None, path: str, name: str) -> str | None:
    found = _find(el, path)
    return None if found is None else found.attr(name)


def _identifier(el: _Node | None) -> Identifier | None:
    """An identifier with its ``schemeID``, or None without a value."""
    value = _value(el)
    if el is None or value is None:
        return None
    return Identifier(value=value, scheme=el.attr("schemeID"))


def _joined(elements: Iterable[_Node]) -> str | None:
    """Repeated texts for a single term, one per line (e.g. several payment terms notes)."""
    return "\n".join(v for el in elements if (v := _value(el)) is not None) or None


def _each(read: Callable[[_Node], _T | None], nodes: Iterable[_Node]) -> list[_T]:
    """``read`` of each node, leaving out those without their key term."""
    return [value for node in nodes if (value := read(node)) is not None]


def _group(cls: type[_Group], **fields: Any) -> _Group | None:
    """``cls`` of the fields, or None when all are empty: no group is invented from nothing."""
    if any(v is not None and v != [] for v in fields.values()):
        return cls(**fields)
    return None


# ---------------------------------------------------------------- parties

def _address(el: _Node | None) -> Address | None:
    return _group(
        Address,
        line1=_text(el, "cbc:StreetName"),
        line2=_text(el, "cbc:AdditionalStreetName"),
        line3=_text(el, "cac:AddressLine/cbc:Line"),
        city=_text(el, "cbc:CityName"),
        post_code=_text(el, "cbc:PostalZone"),
        subdivision=_text(el, "cbc:CountrySubentity"),
        country=_text(el, "cac:Country/cbc:IdentificationCode"),
    )


def _contact(el: _Node | None) -> Contact | None:
    return _group(
        Contact,
        name=_text(el, "cbc:Name"),
        phone=_text(el, "cbc:Telephone"),
        email=_text(el, "cbc:ElectronicMail"),
    )


def _is_sepa(el: _Node) -> bool:
    """The SEPA creditor id (BT-90) hides among party ids, marked by scheme SEPA."""
    return (el.attr("schemeID") or "").upper() == "SEPA"


def _party_ids(party: _Node | None) -> list[Identifier]:
    """Party identifiers (BT-29, BT-46, BT-60), without the SEPA creditor id."""
    ids = _all(party, "cac:PartyIdentification/cbc:ID")
    return _each(_identifier, [el for el in ids if not _is_sepa(el)])


def _sepa_id(party: _Node | None) -> str | None:
    return next((_value(el) for el in _all(party, "cac:PartyIdentification/cbc:ID")
                 if _is_sepa(el)), None)


def _tax_ids(party: _Node | None) -> tuple[str | None, str | None]:
    """(VAT id, other tax registration id): PartyTaxScheme told apart by its TaxScheme/ID."""
    vat = other = None
    for scheme in _all(party, "cac:PartyTaxScheme"):
        company_id = _text(scheme, "cbc:CompanyID")
        if (_text(scheme, "cac:TaxScheme/cbc:ID") or "").upper() == "VAT":
            vat = vat or company_id
        else:
            other = other or company_id
    return vat, other


def _seller(party: _Node | None) -> Seller:
    vat_id, tax_registration_id = _tax_ids(party)
    return Seller(
        name=_text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        trading_name=_text(party, "cac:PartyName/cbc:Name"),
        identifiers=_party_ids(party),
        legal_registration_id=_identifier(_find(party, "cac:PartyLegalEntity/cbc:CompanyID")),
        vat_id=vat_id,
        tax_registration_id=tax_registration_id,
        additional_legal_info=_text(party, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        electronic_address=_identifier(_find(party, "cbc:EndpointID")),
        address=_address(_find(party, "cac:PostalAddress")),
        contact=_contact(_find(party, "cac:Contact")),
    )


def _buyer(party: _Node | None) -> Buyer:
    ids = _party_ids(party)
    return Buyer(
        name=_text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        trading_name=_text(party, "cac:PartyName/cbc:Name"),
        identifier=ids[0] if ids else None,
        legal_registration_id=_identifier(_find(party, "cac:PartyLegalEntity/cbc:CompanyID")),
        vat_id=_tax_ids(party)[0],
        electronic_address=_identifier(_find(party, "cbc:EndpointID")),
        address=_address(_find(party, "cac:PostalAddress")),
        contact=_contact(_find(party, "cac:Contact")),
    )


def _payee(party: _Node | None) -> Payee | None:
    ids = _party_ids(party)
    return _group(
        Payee,
        name=_text(party, "cac:PartyName/cbc:Name"),
        identifier=ids[0] if ids else None,
        legal_registration_id=_identifier(_find(party, "cac:PartyLegalEntity/cbc:CompanyID")),
    )


def _tax_representative(party: _Node | None) -> TaxRepresentative | None:
    return _group(
        TaxRepresentative,
        name=_text(party, "cac:PartyName/cbc:Name"),
        vat_id=_tax_ids(party)[0],
        address=_address(_find(party, "cac:PostalAddress")),
    )


def _delivery(el: _Node | None) -> Delivery | None:
    return _group(
        Delivery,
        party_name=_text(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        location_id=_identifier(_find(el, "cac:DeliveryLocation/cbc:ID")),
        actual_date=_date(el, "cbc:ActualDeliveryDate"),
        address=_address(_find(el, "cac:DeliveryLocation/cac:Address")),
    )


def _period(el: _Node | None) -> Period | None:
    return _group(Period, start=_date(el, "cbc:StartDate"), end=_date(el, "cbc:EndDate"))


# ---------------------------------------------------------------- payment

def _credit_transfer(account: _Node) -> CreditTransfer | None:
    account_id = _text(account, "cbc:ID")
    if account_id is None:
        return None
    return CreditTransfer(
        account_id=account_id,
        account_name=_text(account, "cbc:Name"),
        service_provider_id=_text(account, "cac:FinancialInstitutionBranch/cbc:ID"),
    )


def _card(card: _Node | None) -> PaymentCard | None:
    number = _text(card, "cbc:PrimaryAccountNumberID")
    if number is None:
        return None
    return PaymentCard(primary_account_number=number, holder_name=_text(card, "cbc:HolderName"))


def _payment(root: _Node, creditor_id: str | None) -> PaymentInstructions | None:
    """BG-16 over all PaymentMeans: code, text and remittance from the first, accounts from all."""
    first = _find(root, "cac:PaymentMeans")
    mandate = _find(root, "cac:PaymentMeans/cac:PaymentMandate")
    return _group(
        PaymentInstructions,
        means_code=_text(first, "cbc:PaymentMeansCode"),
        means_text=_attr(first, "cbc:PaymentMeansCode", "name"),
        remittance_information=_text(first, "cbc:PaymentID"),
        credit_transfers=_each(_credit_transfer,
                               _all(root, "cac:PaymentMeans/cac:PayeeFinancialAccount")),
        card=_card(_find(root, "cac:PaymentMeans/cac:CardAccount")),
        direct_debit=_group(
            DirectDebit,
            mandate_reference=_text(mandate, "cbc:ID"),
            creditor_id=creditor_id,
            debited_account_id=_text(mandate, "cac:PayerFinancialAccount/cbc:ID"),
        ),
    )


# ---------------------------------------------------------------- references and notes

def _note(el: _Node) -> Note | None:
    """BG-1 from a cbc:Note, splitting off an XRechnung ``#CODE#`` subject prefix."""
    text = _value(el)
    if text is None:
        return None
    match = _SUBJECT_PREFIX.fullmatch(text)
    if match is None:
        return Note(text=text)
    body = clean(match["text"])
    return Note(text=body, subject_code=match["code"]) if body else None


def _preceding_invoice(ref: _Node) -> PrecedingInvoice | None:
    number = _text(ref, "cbc:ID")
    if number is None:
        return None
    return PrecedingInvoice(number=number, issue_date=_date(ref, "cbc:IssueDate"))


def _attachment(el: _Node | None) -> Attachment | None:
    """BT-125; the model decodes the base64 text (invalid base64 fails validation)."""
    content = _value(el)
    if el is None or content is None:
        return None
    return Attachment(content=content, mime_code=el.attr("mimeCode"), filename=el.attr("filename"))


def _supporting_document(ref: _Node) -> SupportingDocument | None:
    reference = _text(ref, "cbc:ID")
    if reference is None:
        return None
    return SupportingDocument(
        reference=reference,
        description=_text(ref, "cbc:DocumentDescription"),
        external_uri=_text(ref, "cac:Attachment/cac:ExternalReference/cbc:URI"),
        attachment=_attachment(_find(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject")),
    )


@dataclass
class _AdditionalReferences:
    """AdditionalDocumentReference carries three terms, told apart by DocumentTypeCode."""

    invoiced_object: Identifier | None = None  # BT-18: code 130
    project: str | None = None  # BT-11 on credit notes: code 50
    documents: list[SupportingDocument] = field(default_factory=list)  # BG-24: all others


def _additional_references(root: _Node, is_credit_note: bool) -> _AdditionalReferences:
    refs = _AdditionalReferences()
    for ref in _all(root, "cac:AdditionalDocumentReference"):
        code = _text(ref, "cbc:DocumentTypeCode")
        if code == "130":
            refs.invoiced_object = refs.invoiced_object or _identifier(_find(ref, "cbc:ID"))
        elif code == "50" and is_credit_note:
            refs.project = refs.project or _text(ref, "cbc:ID")
        elif (document := _supporting_document(ref)) is not None:
            refs.documents.append(document)
    return refs


# ---------------------------------------------------------------- allowances, totals, VAT

def _allowances_charges(el: _Node) -> list[AllowanceCharge]:
    return [_allowance_charge(ac) for ac in _all(el, "cac:AllowanceCharge")]


def _allowance_charge(el: _Node) -> AllowanceCharge:
    """BG-20/21 on the document, BG-27/28 on a line (lines carry no tax category)."""
    return AllowanceCharge(
        is_charge=to_bool(_text(el, "cbc:ChargeIndicator")),
        amount=_decimal(el, "cbc:Amount"),
        base_amount=_decimal(el, "cbc:BaseAmount"),
        percent=_decimal(el, "cbc:MultiplierFactorNumeric"),
        vat_category=_text(el, "cac:TaxCategory/cbc:ID"),
        vat_rate=_decimal(el, "cac:TaxCategory/cbc:Percent"),
        reason=_text(el, "cbc:AllowanceChargeReason"),
        reason_code=_text(el, "cbc:AllowanceChargeReasonCode"),
    )


def _tax_totals(root: _Node, currency: str | None,
                vat_currency: str | None) -> tuple[_Node | None, _Node | None]:
    """The TaxTotal in the document currency (BT-110, BG-23) and the one in the VAT accounting
    currency (BT-111), told apart by the currencyID of their TaxAmount."""
    totals = _all(root, "cac:TaxTotal")
    in_currency = next((t for t in totals
                        if _attr(t, "cbc:TaxAmount", "currencyID") in (currency, None)), None)
    document = in_currency if in_currency is not None else next(iter(totals), None)
    if vat_currency is None:
        return document, None
    accounting = next((t for t in totals if t is not document
                       and _attr(t, "cbc:TaxAmount", "currencyID") == vat_currency), None)
    return document, accounting


def _totals(root: _Node, document_tax: _Node | None,
            accounting_tax: _Node | None) -> Totals:
    monetary = _find(root, "cac:LegalMonetaryTotal")
    return Totals(
        line_net=_decimal(monetary, "cbc:LineExtensionAmount"),
        allowances=_decimal(monetary, "cbc:AllowanceTotalAmount"),
        charges=_decimal(monetary, "cbc:ChargeTotalAmount"),
        without_vat=_decimal(monetary, "cbc:TaxExclusiveAmount"),
        vat=_decimal(document_tax, "cbc:TaxAmount"),
        vat_accounting_currency=_decimal(accounting_tax, "cbc:TaxAmount"),
        with_vat=_decimal(monetary, "cbc:TaxInclusiveAmount"),
        prepaid=_decimal(monetary, "cbc:PrepaidAmount"),
        rounding=_decimal(monetary, "cbc:PayableRoundingAmount"),
        payable=_decimal(monetary, "cbc:PayableAmount"),
    )


def _vat_breakdown(subtotal: _Node) -> VatBreakdown:
    return VatBreakdown(
        taxable_amount=_decimal(subtotal, "cbc:TaxableAmount"),
        tax_amount=_decimal(subtotal, "cbc:TaxAmount"),
        category=_text(subtotal, "cac:TaxCategory/cbc:ID"),
        rate=_decimal(subtotal, "cac:TaxCategory/cbc:Percent"),
        exemption_reason=_text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReason"),
        exemption_reason_code=_text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
    )


# ---------------------------------------------------------------- lines

def _line_object_id(line: _Node) -> Identifier | None:
    """BT-128: the line DocumentReference of type 130."""
    return next((_identifier(_find(ref, "cbc:ID")) for ref in _all(line, "cac:DocumentReference")
                 if _text(ref, "cbc:DocumentTypeCode") == "130"), None)


def _price(price: _Node | None) -> Price:
    """BG-29; the price discount (BT-147) and gross price (BT-148) sit in its AllowanceCharge."""
    return Price(
        net=_decimal(price, "cbc:PriceAmount"),
        discount=_decimal(price, "cac:AllowanceCharge/cbc:Amount"),
        gross=_decimal(price, "cac:AllowanceCharge/cbc:BaseAmount"),
        base_quantity=_decimal(price, "cbc:BaseQuantity"),
        base_quantity_unit=_attr(price, "cbc:BaseQuantity", "unitCode"),
    )


def _classification(el: _Node) -> Classification | None:
    code = _value(el)
    if code is None:
        return None
    return Classification(code=code, scheme=el.attr("listID"),
                          version=el.attr("listVersionID"))


def _attribute(el: _Node) -> ItemAttribute | None:
    name, value = _text(el, "cbc:Name"), _text(el, "cbc:Value")
    if name is None or value is None:
        return None
    return ItemAttribute(name=name, value=value)


def _item(item: _Node | None) -> Item:
    return Item(
        name=_text(item, "cbc:Name"),
        description=_text(item, "cbc:Description"),
        seller_id=_text(item, "cac:SellersItemIdentification/cbc:ID"),
        buyer_id=_text(item, "cac:BuyersItemIdentification/cbc:ID"),
        standard_id=_identifier(_find(item, "cac:StandardItemIdentification/cbc:ID")),
        classifications=_each(
            _classification, _all(item, "cac:CommodityClassification/cbc:ItemClassificationCode")
        ),
        origin_country=_text(item, "cac:OriginCountry/cbc:IdentificationCode"),
        attributes=_each(_attribute, _all(item, "cac:AdditionalItemProperty")),
    )


def _line(line: _Node, doc: _DocumentType) -> Line:
    """BG-25, kept even without its id (BT-126) like in the CII reader: no line gets lost.
    XRechnung sub-invoice lines below it are not EN 16931 and stay unread."""
    item = _find(line, "cac:Item")
    return Line(
        id=_text(line, "cbc:ID") or "",
        note=_joined(_all(line, "cbc:Note")),
        object_id=_line_object_id(line),
        quantity=_decimal(line, doc.quantity),
        unit_code=_attr(line, doc.quantity, "unitCode"),
        net_amount=_decimal(line, "cbc:LineExtensionAmount"),
        order_line_reference=_text(line, "cac:OrderLineReference/cbc:LineID"),
        accounting_reference=_text(line, "cbc:AccountingCost"),
        period=_period(_find(line, "cac:InvoicePeriod")),
        allowances_charges=_allowances_charges(line),
        price=_price(_find(line, "cac:Price")),
        vat_category=_text(item, "cac:ClassifiedTaxCategory/cbc:ID"),
        vat_rate=_decimal(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
        item=_item(item),
    )


def _lines(root: _Node, doc: _DocumentType) -> list[Line]:
    """Each line in a fresh node whose child indexes are freed once the line is read, so an
    invoice with thousands of lines never holds all their indexes at once."""
    tag = _steps(doc.line)[0]
    return [_line(_Node(el), doc) for el in root.el.iterchildren(tag)]


# ---------------------------------------------------------------- the document

def read_ubl(root: etree._Element) -> Invoice:
    """Map a parsed UBL Invoice or CreditNote onto the EN 16931 model.

    Raises ``UnsupportedDocument`` for any other root and ``ReadError`` for content that cannot
    be mapped (a malformed date, a broken attachment).
    """
    doc = _DOCUMENT_TYPES.get(root.tag)
    if doc is None:
        raise UnsupportedDocument(f"not a UBL Invoice or CreditNote: {root.tag}")
    return _invoice(_Node(root), doc)


def _invoice(root: _Node, doc: _DocumentType) -> Invoice:
    """The header terms and groups; lines and parties are read by their own functions."""
    currency = _text(root, "cbc:DocumentCurrencyCode")
    vat_currency = _text(root, "cbc:TaxCurrencyCode")
    document_tax, accounting_tax = _tax_totals(root, currency, vat_currency)
    refs = _additional_references(root, doc.is_credit_note)
    seller = _find(root, "cac:AccountingSupplierParty/cac:Party")
    payee = _find(root, "cac:PayeeParty")
    period = _find(root, "cac:InvoicePeriod")
    return Invoice(
        number=_text(root, "cbc:ID"),
        issue_date=_date(root, "cbc:IssueDate"),
        type_code=_text(root, doc.type_code),
        currency=currency,
        vat_currency=vat_currency,
        tax_point_date=_date(root, "cbc:TaxPointDate"),
        tax_point_date_code=_text(period, "cbc:DescriptionCode"),
        due_date=_date(root, doc.due_date),
        buyer_reference=_text(root, "cbc:BuyerReference"),
        project_reference=_text(root, "cac:ProjectReference/cbc:ID") or refs.project,
        contract_reference=_text(root, "cac:ContractDocumentReference/cbc:ID"),
        purchase_order_reference=_text(root, "cac:OrderReference/cbc:ID"),
        sales_order_reference=_text(root, "cac:OrderReference/cbc:SalesOrderID"),
        receiving_advice_reference=_text(root, "cac:ReceiptDocumentReference/cbc:ID"),
        despatch_advice_reference=_text(root, "cac:DespatchDocumentReference/cbc:ID"),
        tender_reference=_text(root, "cac:OriginatorDocumentReference/cbc:ID"),
        invoiced_object_id=refs.invoiced_object,
        buyer_accounting_reference=_text(root, "cbc:AccountingCost"),
        payment_terms=_joined(_all(root, "cac:PaymentTerms/cbc:Note")),
        notes=_each(_note, _all(root, "cbc:Note")),
        business_process=_text(root, "cbc:ProfileID"),
        specification_id=_text(root, "cbc:CustomizationID"),
        preceding_invoices=_each(
            _preceding_invoice, _all(root, "cac:BillingReference/cac:InvoiceDocumentReference")
        ),
        seller=_seller(seller),
        buyer=_buyer(_find(root, "cac:AccountingCustomerParty/cac:Party")),
        payee=_payee(payee),
        tax_representative=_tax_representative(_find(root, "cac:TaxRepresentativeParty")),
        delivery=_delivery(_find(root, "cac:Delivery")),
        invoicing_period=_period(period),
        payment=_payment(root, _sepa_id(payee) or _sepa_id(seller)),
        allowances_charges=_allowances_charges(root),
        totals=_totals(root, document_tax, accounting_tax),
        vat_breakdown=[_vat_breakdown(s) for s in _all(document_tax, "cac:TaxSubtotal")],
        supporting_documents=refs.documents,
        lines=_lines(root, doc),
    )
