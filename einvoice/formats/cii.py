"""Reader for UN/CEFACT CII D16B onto the canonical EN 16931 model.

CII D16B is the syntax of XRechnung CII and of the XML that ZUGFeRD 2.x / Factur-X embed in PDFs
(all profiles, MINIMUM to EXTENDED). The mapping follows the EN 16931 CII syntax binding
(CEN/TS 16931-3-3); elements outside it (EXTENDED additions, XRechnung sub-lines) are not read.

ZUGFeRD 1.0 is the same vocabulary under older namespaces and partly other element names, so the
reading code is shared: a ``Dialect`` says where a flavour puts things (see ``zugferd1.py``).

Like the UBL reader, groups with nothing in them stay ``None`` and repeated groups without their
key term are left out, so both readers give equal models for one business case; the official
rules, run on the XML, report what is missing. Lines are the exception: a line without BT-126
keeps an empty id, because ZUGFeRD 1.0 lines need not have one and must not get lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from lxml import etree

from einvoice.errors import UnsupportedDocument
from einvoice.formats.values import cii_date, clean, text_of, to_bool, to_decimal
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

_Element = etree._Element
_Group = TypeVar("_Group", bound=Part)

# UNTDID 1001 codes that tell AdditionalReferencedDocument apart in the binding.
_SUPPORTING_DOCUMENT = "916"
_TENDER = "50"
_INVOICED_OBJECT = "130"

# BT-8 is coded in UNTDID 2005 by EN 16931 and in UNTDID 2475 by the CII binding.
_TAX_POINT_CODES = {"5": "3", "29": "35", "72": "432"}


@dataclass(frozen=True)
class Dialect:
    """Where one CII flavour puts things: its namespaces and the element names that differ."""

    rsm: str
    ram: str
    root: str = "CrossIndustryInvoice"
    context: str = "ExchangedDocumentContext"
    document: str = "ExchangedDocument"
    transaction: str = "SupplyChainTradeTransaction"
    header_trade: str = "ApplicableHeaderTrade"  # + Agreement / Delivery / Settlement
    line_trade: str = "SpecifiedLineTrade"  # + Agreement / Delivery / Settlement
    header_summation: str = "SpecifiedTradeSettlementHeaderMonetarySummation"
    line_summation: str = "SpecifiedTradeSettlementLineMonetarySummation"
    rate: str = "RateApplicablePercent"
    document_id: str = "IssuerAssignedID"
    accounting_account: str = "ReceivableSpecifiedTradeAccountingAccount"
    despatch_advice: str = "DespatchAdviceReferencedDocument"


D16B = Dialect(
    rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
)


def read_cii(root: etree._Element) -> Invoice:
    """The canonical invoice of a CII D16B ``rsm:CrossIndustryInvoice`` root element."""
    return read_cross_industry(root, D16B)


def read_cross_industry(root: etree._Element, dialect: Dialect) -> Invoice:
    """The canonical invoice of a root element in the given CII dialect."""
    if root.tag != f"{{{dialect.rsm}}}{dialect.root}":
        raise UnsupportedDocument(f"{root.tag} is not a {dialect.root} in {dialect.rsm}")
    return _Reader(dialect).invoice(root)


@lru_cache(maxsize=1024)
def _tags(ns: str, path: str) -> tuple[str, ...]:
    """The Clark-notation tags of the steps of ``A/B`` in namespace ``ns``."""
    return tuple(f"{{{ns}}}{step}" for step in path.split("/"))


def _group(cls: type[_Group], **fields: Any) -> _Group | None:
    """``cls`` of the fields, or None when every field is empty: no group made from nothing."""
    if any(value is not None and value != [] for value in fields.values()):
        return cls(**fields)
    return None


class _Reader:
    """Maps one document; holds the dialect so that every helper reads in its terms.

    Paths are walked over an index of each visited element's children by tag, built once per
    element: a few hundred ``find`` calls per invoice cost several times more, as lxml parses
    a path again whenever it falls out of its small path cache.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self._children: dict[_Element, dict[str, list[_Element]]] = {}

    # ------------------------------------------------------------ value access

    def children(self, el: _Element) -> dict[str, list[_Element]]:
        """The child elements of ``el`` by tag, in document order."""
        index = self._children.get(el)
        if index is None:
            index = self._children[el] = {}
            for child in el:
                index.setdefault(child.tag, []).append(child)
        return index

    def all(self, el: _Element | None, path: str) -> list[_Element]:
        """All matches of ``path`` (``A/B``, ram steps) below ``el``; none below an absent one."""
        found = [] if el is None else [el]
        for tag in _tags(self.d.ram, path):
            step: list[_Element] = []
            for parent in found:
                step += self.children(parent).get(tag, ())
            found = step
        return found

    def find(self, el: _Element | None, path: str) -> _Element | None:
        found = self.all(el, path)
        return found[0] if found else None

    def text(self, el: _Element | None, path: str) -> str | None:
        return text_of(self.find(el, path))

    def value(self, el: _Element | None, path: str) -> _Element | None:
        """The udt/qdt element holding a date or indicator (its namespace varies by release)."""
        container = self.find(el, path)
        if container is None:
            return None
        return next(container.iterchildren(etree.Element), None)

    def joined(self, el: _Element | None, path: str) -> str | None:
        """Repeated texts for one term, one per line (e.g. several payment terms)."""
        return "\n".join(t for found in self.all(el, path) if (t := text_of(found))) or None

    def decimal(self, el: _Element | None, path: str) -> Decimal | None:
        return to_decimal(self.text(el, path))

    def date(self, el: _Element | None, path: str) -> date | None:
        """A date in the UN/CEFACT format its ``format`` attribute names."""
        found = self.value(el, path)
        return None if found is None else cii_date(found.text, found.get("format"))

    def indicator(self, el: _Element) -> bool:
        """ChargeIndicator: true for a charge, false for an allowance."""
        return to_bool(text_of(self.value(el, "ChargeIndicator")))

    def identifier(self, el: _Element | None, path: str) -> Identifier | None:
        """An identifier with its ``schemeID``, or None without a value."""
        found = self.find(el, path)
        value = text_of(found)
        if found is None or value is None:
            return None
        return Identifier(value=value, scheme=clean(found.get("schemeID")))

    def typed_reference(self, el: _Element | None, type_code: str) -> _Element | None:
        """The AdditionalReferencedDocument with the given TypeCode (BT-17, BT-18, BT-128)."""
        return next((ref for ref in self.all(el, "AdditionalReferencedDocument")
                     if self.text(ref, "TypeCode") == type_code), None)

    # ------------------------------------------------------------ the document

    def invoice(self, root: _Element) -> Invoice:
        """The whole invoice; XRechnung sub-lines (ParentLineID) are detail, not BG-25."""
        rsm = f"{{{self.d.rsm}}}"
        transaction = root.find(rsm + self.d.transaction)
        trade = self.d.header_trade
        settlement = self.find(transaction, trade + "Settlement")
        return Invoice(
            **self.header(root.find(rsm + self.d.context), root.find(rsm + self.d.document)),
            **self.agreement(self.find(transaction, trade + "Agreement")),
            **self.delivery(self.find(transaction, trade + "Delivery")),
            **self.settlement(settlement),
            **self.tax(settlement),
            lines=[self.line(item) for item in
                   self.all(transaction, "IncludedSupplyChainTradeLineItem")
                   if self.text(item, "AssociatedDocumentLineDocument/ParentLineID") is None],
        )

    def header(self, context: _Element | None, document: _Element | None) -> dict[str, Any]:
        """BT-1 .. BT-3, BG-1, BT-23, BT-24."""
        return {
            "number": self.text(document, "ID"),
            "issue_date": self.date(document, "IssueDateTime"),
            "type_code": self.text(document, "TypeCode"),
            "notes": [note for el in self.all(document, "IncludedNote")
                      if (note := self.note(el)) is not None],
            "business_process": self.text(
                context, "BusinessProcessSpecifiedDocumentContextParameter/ID"),
            "specification_id": self.text(context, "GuidelineSpecifiedDocumentContextParameter/ID"),
        }

    def note(self, el: _Element) -> Note | None:
        text = self.joined(el, "Content")
        return None if text is None else Note(text=text, subject_code=self.text(el, "SubjectCode"))

    def reference(self, el: _Element | None, path: str) -> str | None:
        """The document id of a referenced document (BT-12 .. BT-16)."""
        return self.text(el, f"{path}/{self.d.document_id}")

    def agreement(self, agreement: _Element | None) -> dict[str, Any]:
        """References BT-10 .. BT-18, the seller, buyer and tax representative, and BG-24."""
        return {
            "buyer_reference": self.text(agreement, "BuyerReference"),
            "project_reference": self.text(agreement, "SpecifiedProcuringProject/ID"),
            "contract_reference": self.reference(agreement, "ContractReferencedDocument"),
            "purchase_order_reference": self.reference(agreement, "BuyerOrderReferencedDocument"),
            "sales_order_reference": self.reference(agreement, "SellerOrderReferencedDocument"),
            "tender_reference": self.text(self.typed_reference(agreement, _TENDER),
                                          self.d.document_id),
            "invoiced_object_id": self.referenced_object(
                self.typed_reference(agreement, _INVOICED_OBJECT)),
            "seller": self.seller(self.find(agreement, "SellerTradeParty")),
            "buyer": self.buyer(self.find(agreement, "BuyerTradeParty")),
            "tax_representative": self.tax_representative(
                self.find(agreement, "SellerTaxRepresentativeTradeParty")),
            "supporting_documents": [
                document for ref in self.all(agreement, "AdditionalReferencedDocument")
                if self.text(ref, "TypeCode") == _SUPPORTING_DOCUMENT
                and (document := self.supporting_document(ref)) is not None],
        }

    def referenced_object(self, ref: _Element | None) -> Identifier | None:
        """BT-18 / BT-128: the object id with its scheme (ReferenceTypeCode)."""
        value = self.text(ref, self.d.document_id)
        if value is None:
            return None
        return Identifier(value=value, scheme=self.text(ref, "ReferenceTypeCode"))

    def delivery(self, delivery: _Element | None) -> dict[str, Any]:
        """BT-15, BT-16 and BG-13."""
        ship_to = self.find(delivery, "ShipToTradeParty")
        ids = self.party_ids(ship_to)
        return {
            "receiving_advice_reference": self.reference(
                delivery, "ReceivingAdviceReferencedDocument"),
            "despatch_advice_reference": self.reference(delivery, self.d.despatch_advice),
            "delivery": _group(
                Delivery,
                party_name=self.text(ship_to, "Name"),
                location_id=ids[0] if ids else None,
                actual_date=self.date(
                    delivery, "ActualDeliverySupplyChainEvent/OccurrenceDateTime"),
                address=self.address(self.find(ship_to, "PostalTradeAddress")),
            ),
        }

    def settlement(self, settlement: _Element | None) -> dict[str, Any]:
        """Currencies, payment, BG-3, payee, period, document allowances/charges and totals."""
        currency = self.text(settlement, "InvoiceCurrencyCode")
        vat_currency = self.text(settlement, "TaxCurrencyCode")
        return {
            "currency": currency,
            "vat_currency": vat_currency,
            "due_date": self.date(settlement, "SpecifiedTradePaymentTerms/DueDateDateTime"),
            "buyer_accounting_reference": self.text(settlement, self.d.accounting_account + "/ID"),
            "payment_terms": self.joined(settlement, "SpecifiedTradePaymentTerms/Description"),
            "preceding_invoices": [
                invoice for ref in self.all(settlement, "InvoiceReferencedDocument")
                if (invoice := self.preceding_invoice(ref)) is not None],
            "payee": self.payee(self.find(settlement, "PayeeTradeParty")),
            "invoicing_period": self.period(self.find(settlement, "BillingSpecifiedPeriod")),
            "payment": self.payment(settlement),
            "allowances_charges": self.allowances_charges(settlement),
            "totals": self.totals(self.find(settlement, self.d.header_summation),
                                  currency, vat_currency),
        }

    def preceding_invoice(self, ref: _Element) -> PrecedingInvoice | None:
        number = self.text(ref, self.d.document_id)
        if number is None:
            return None
        return PrecedingInvoice(number=number, issue_date=self.date(ref, "FormattedIssueDateTime"))

    # ------------------------------------------------------------ parties

    def party_ids(self, party: _Element | None) -> list[Identifier]:
        """Party identifiers (BT-29, BT-46, BT-60, BT-71): plain IDs, then GlobalIDs."""
        return [Identifier(value=value, scheme=clean(el.get("schemeID")))
                for el in self.all(party, "ID") + self.all(party, "GlobalID")
                if (value := text_of(el)) is not None]

    def tax_id(self, party: _Element | None, scheme: str) -> str | None:
        """The tax registration of a scheme: VA = VAT id, FC = other tax registration."""
        return next((text_of(el) for el in self.all(party, "SpecifiedTaxRegistration/ID")
                     if clean(el.get("schemeID")) == scheme), None)

    def address(self, el: _Element | None) -> Address | None:
        return _group(
            Address,
            line1=self.text(el, "LineOne"),
            line2=self.text(el, "LineTwo"),
            line3=self.text(el, "LineThree"),
            city=self.text(el, "CityName"),
            post_code=self.text(el, "PostcodeCode"),
            subdivision=self.text(el, "CountrySubDivisionName"),
            country=self.text(el, "CountryID"),
        )

    def contact(self, el: _Element | None) -> Contact | None:
        """BG-6 / BG-9; the binding takes the contact point from a person or a department."""
        return _group(
            Contact,
            name=self.text(el, "PersonName") or self.text(el, "DepartmentName"),
            phone=self.text(el, "TelephoneUniversalCommunication/CompleteNumber"),
            email=self.text(el, "EmailURIUniversalCommunication/URIID"),
        )

    def seller(self, party: _Element | None) -> Seller:
        return Seller(
            name=self.text(party, "Name"),
            trading_name=self.text(party, "SpecifiedLegalOrganization/TradingBusinessName"),
            identifiers=self.party_ids(party),
            legal_registration_id=self.identifier(party, "SpecifiedLegalOrganization/ID"),
            vat_id=self.tax_id(party, "VA"),
            tax_registration_id=self.tax_id(party, "FC"),
            additional_legal_info=self.text(party, "Description"),
            electronic_address=self.identifier(party, "URIUniversalCommunication/URIID"),
            address=self.address(self.find(party, "PostalTradeAddress")),
            contact=self.contact(self.find(party, "DefinedTradeContact")),
        )

    def buyer(self, party: _Element | None) -> Buyer:
        ids = self.party_ids(party)
        return Buyer(
            name=self.text(party, "Name"),
            trading_name=self.text(party, "SpecifiedLegalOrganization/TradingBusinessName"),
            identifier=ids[0] if ids else None,
            legal_registration_id=self.identifier(party, "SpecifiedLegalOrganization/ID"),
            vat_id=self.tax_id(party, "VA"),
            electronic_address=self.identifier(party, "URIUniversalCommunication/URIID"),
            address=self.address(self.find(party, "PostalTradeAddress")),
            contact=self.contact(self.find(party, "DefinedTradeContact")),
        )

    def payee(self, party: _Element | None) -> Payee | None:
        ids = self.party_ids(party)
        return _group(
            Payee,
            name=self.text(party, "Name"),
            identifier=ids[0] if ids else None,
            legal_registration_id=self.identifier(party, "SpecifiedLegalOrganization/ID"),
        )

    def tax_representative(self, party: _Element | None) -> TaxRepresentative | None:
        return _group(
            TaxRepresentative,
            name=self.text(party, "Name"),
            vat_id=self.tax_id(party, "VA"),
            address=self.address(self.find(party, "PostalTradeAddress")),
        )

    def period(self, el: _Element | None) -> Period | None:
        return _group(Period, start=self.date(el, "StartDateTime"),
                      end=self.date(el, "EndDateTime"))

    # ------------------------------------------------------------ payment

    def payment(self, settlement: _Element | None) -> PaymentInstructions | None:
        """BG-16 over all payment means: code and text from the first, accounts from all."""
        means = self.all(settlement, "SpecifiedTradeSettlementPaymentMeans")
        first = means[0] if means else None
        return _group(
            PaymentInstructions,
            means_code=self.text(first, "TypeCode"),
            means_text=self.joined(first, "Information"),
            remittance_information=self.text(settlement, "PaymentReference"),
            credit_transfers=[transfer for el in means
                              if (transfer := self.credit_transfer(el)) is not None],
            card=next((card for el in means if (card := self.card(el)) is not None), None),
            direct_debit=_group(
                DirectDebit,
                mandate_reference=self.text(settlement,
                                            "SpecifiedTradePaymentTerms/DirectDebitMandateID"),
                creditor_id=self.text(settlement, "CreditorReferenceID"),
                debited_account_id=next(
                    (iban for el in means
                     if (iban := self.text(el, "PayerPartyDebtorFinancialAccount/IBANID"))),
                    None),
            ),
        )

    def credit_transfer(self, means: _Element) -> CreditTransfer | None:
        """BG-17 of one payment means; the account is an IBAN or a proprietary id."""
        account = self.find(means, "PayeePartyCreditorFinancialAccount")
        account_id = self.text(account, "IBANID") or self.text(account, "ProprietaryID")
        if account_id is None:
            return None
        return CreditTransfer(
            account_id=account_id,
            account_name=self.text(account, "AccountName"),
            service_provider_id=self.text(
                means, "PayeeSpecifiedCreditorFinancialInstitution/BICID"),
        )

    def card(self, means: _Element) -> PaymentCard | None:
        card = self.find(means, "ApplicableTradeSettlementFinancialCard")
        number = self.text(card, "ID")
        if number is None:
            return None
        return PaymentCard(primary_account_number=number,
                           holder_name=self.text(card, "CardholderName"))

    # ------------------------------------------------------------ allowances, totals, VAT

    def allowances_charges(self, el: _Element | None) -> list[AllowanceCharge]:
        """BG-20/21 below the header settlement, BG-27/28 below a line settlement."""
        return [self.allowance_charge(ac) for ac in self.all(el, "SpecifiedTradeAllowanceCharge")]

    def allowance_charge(self, el: _Element) -> AllowanceCharge:
        """One allowance or charge; one without an amount makes the document unreadable."""
        return AllowanceCharge(
            is_charge=self.indicator(el),
            amount=self.decimal(el, "ActualAmount"),
            base_amount=self.decimal(el, "BasisAmount"),
            percent=self.decimal(el, "CalculationPercent"),
            vat_category=self.text(el, "CategoryTradeTax/CategoryCode"),
            vat_rate=self.decimal(el, "CategoryTradeTax/" + self.d.rate),
            reason=self.text(el, "Reason"),
            reason_code=self.text(el, "ReasonCode"),
        )

    def totals(self, summation: _Element | None, currency: str | None,
               vat_currency: str | None) -> Totals:
        vat, vat_accounting = self.vat_totals(summation, currency, vat_currency)
        return Totals(
            line_net=self.decimal(summation, "LineTotalAmount"),
            allowances=self.decimal(summation, "AllowanceTotalAmount"),
            charges=self.decimal(summation, "ChargeTotalAmount"),
            without_vat=self.decimal(summation, "TaxBasisTotalAmount"),
            vat=vat,
            vat_accounting_currency=vat_accounting,
            with_vat=self.decimal(summation, "GrandTotalAmount"),
            prepaid=self.decimal(summation, "TotalPrepaidAmount"),
            rounding=self.decimal(summation, "RoundingAmount"),
            payable=self.decimal(summation, "DuePayableAmount"),
        )

    def vat_totals(self, summation: _Element | None, currency: str | None,
                   vat_currency: str | None) -> tuple[Decimal | None, Decimal | None]:
        """(BT-110, BT-111): TaxTotalAmount told apart by currencyID; one without is BT-110."""
        vat = vat_accounting = None
        for el in self.all(summation, "TaxTotalAmount"):
            amount_currency = clean(el.get("currencyID"))
            if vat is None and amount_currency in (None, currency):
                vat = to_decimal(el.text)
            elif vat_accounting is None and amount_currency == vat_currency:
                vat_accounting = to_decimal(el.text)
        return vat, vat_accounting

    def tax(self, settlement: _Element | None) -> dict[str, Any]:
        """BG-23, and BT-7 / BT-8 that the binding places inside it."""
        taxes = self.all(settlement, "ApplicableTradeTax")
        return {
            "vat_breakdown": [self.vat_breakdown(el) for el in taxes],
            "tax_point_date": next((day for el in taxes if (
                day := self.date(el, "TaxPointDate")) is not None), None),
            "tax_point_date_code": next((_TAX_POINT_CODES.get(code, code) for el in taxes if (
                code := self.text(el, "DueDateTypeCode")) is not None), None),
        }

    def vat_breakdown(self, el: _Element) -> VatBreakdown:
        return VatBreakdown(
            taxable_amount=self.decimal(el, "BasisAmount"),
            tax_amount=self.decimal(el, "CalculatedAmount"),
            category=self.text(el, "CategoryCode"),
            rate=self.decimal(el, self.d.rate),
            exemption_reason=self.text(el, "ExemptionReason"),
            exemption_reason_code=self.text(el, "ExemptionReasonCode"),
        )

    # ------------------------------------------------------------ supporting documents

    def supporting_document(self, ref: _Element) -> SupportingDocument | None:
        reference = self.text(ref, self.d.document_id)
        if reference is None:
            return None
        return SupportingDocument(
            reference=reference,
            description=self.text(ref, "Name"),
            external_uri=self.text(ref, "URIID"),
            attachment=self.attachment(self.find(ref, "AttachmentBinaryObject")),
        )

    @staticmethod
    def attachment(el: _Element | None) -> Attachment | None:
        """BT-125; the model decodes the base64 text (invalid base64 fails validation)."""
        content = text_of(el)
        if el is None or content is None:
            return None
        return Attachment(content=content, mime_code=clean(el.get("mimeCode")),
                          filename=clean(el.get("filename")))

    # ------------------------------------------------------------ lines

    def line(self, item: _Element) -> Line:
        trade = self.d.line_trade
        agreement = self.find(item, trade + "Agreement")
        quantity = self.find(item, trade + "Delivery/BilledQuantity")
        settlement = self.find(item, trade + "Settlement")
        document = self.find(item, "AssociatedDocumentLineDocument")
        return Line(
            id=self.text(document, "LineID") or "",
            note=self.joined(document, "IncludedNote/Content"),
            object_id=self.referenced_object(
                self.typed_reference(settlement, _INVOICED_OBJECT)),
            quantity=None if quantity is None else to_decimal(quantity.text),
            unit_code=None if quantity is None else clean(quantity.get("unitCode")),
            net_amount=self.decimal(settlement, self.d.line_summation + "/LineTotalAmount"),
            order_line_reference=self.text(agreement, "BuyerOrderReferencedDocument/LineID"),
            accounting_reference=self.text(settlement, self.d.accounting_account + "/ID"),
            period=self.period(self.find(settlement, "BillingSpecifiedPeriod")),
            allowances_charges=self.allowances_charges(settlement),
            price=self.price(agreement),
            vat_category=self.text(settlement, "ApplicableTradeTax/CategoryCode"),
            vat_rate=self.decimal(settlement, "ApplicableTradeTax/" + self.d.rate),
            item=self.item(self.find(item, "SpecifiedTradeProduct")),
        )

    def price(self, agreement: _Element | None) -> Price:
        """BG-29; BT-149/150 belong to the net price, but writers also put them on the gross."""
        gross = self.find(agreement, "GrossPriceProductTradePrice")
        net = self.find(agreement, "NetPriceProductTradePrice")
        base = self.find(net, "BasisQuantity")
        if base is None:
            base = self.find(gross, "BasisQuantity")
        return Price(
            net=self.decimal(net, "ChargeAmount"),
            discount=self.price_discount(gross),
            gross=self.decimal(gross, "ChargeAmount"),
            base_quantity=None if base is None else to_decimal(base.text),
            base_quantity_unit=None if base is None else clean(base.get("unitCode")),
        )

    def price_discount(self, gross: _Element | None) -> Decimal | None:
        """BT-147. EN 16931 has one price allowance, EXTENDED profiles may list several
        allowances and charges: then their net reduction of the gross price is the discount."""
        signed = [-amount if self.indicator(el) else amount
                  for el in self.all(gross, "AppliedTradeAllowanceCharge")
                  if (amount := self.decimal(el, "ActualAmount")) is not None]
        return sum(signed[1:], start=signed[0]) if signed else None

    def item(self, product: _Element | None) -> Item:
        return Item(
            name=self.text(product, "Name"),
            description=self.text(product, "Description"),
            seller_id=self.text(product, "SellerAssignedID"),
            buyer_id=self.text(product, "BuyerAssignedID"),
            standard_id=self.identifier(product, "GlobalID"),
            classifications=[classification for el in
                             self.all(product, "DesignatedProductClassification/ClassCode")
                             if (classification := self.classification(el)) is not None],
            origin_country=self.text(product, "OriginTradeCountry/ID"),
            attributes=[attribute for el in self.all(product, "ApplicableProductCharacteristic")
                        if (attribute := self.attribute(el)) is not None],
        )

    @staticmethod
    def classification(code: _Element) -> Classification | None:
        value = text_of(code)
        if value is None:
            return None
        return Classification(code=value, scheme=clean(code.get("listID")),
                              version=clean(code.get("listVersionID")))

    def attribute(self, el: _Element) -> ItemAttribute | None:
        name, value = self.text(el, "Description"), self.text(el, "Value")
        if name is None or value is None:
            return None
        return ItemAttribute(name=name, value=value)
