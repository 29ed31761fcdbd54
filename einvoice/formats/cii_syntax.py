"""The CII vocabulary of the path walker: where a CII flavour puts things (``Dialect``), and the
value getters all CII modules share (``CiiPaths``).

CII D16B is the syntax of XRechnung CII and of the XML that ZUGFeRD 2.x / Factur-X embed in PDFs.
ZUGFeRD 1.0 is the same vocabulary under older namespaces and partly other element names, so the
reading code is shared and a dialect names the differences (see ``zugferd1.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from einvoice import model
from einvoice.errors import ReadError
from einvoice.formats.groups import group
from einvoice.formats.problems import note
from einvoice.formats.values import cii_date, to_bool
from einvoice.formats.xmlwalk import Node, Paths


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


class CiiPaths(Paths):
    """Paths of ram elements (bare names, e.g. ``SellerTradeParty/Name``) in one dialect, whose
    element names it keeps at hand as ``d``; ``rsm:`` steps reach the document level."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(default=dialect.ram, rsm=dialect.rsm)
        self.d = dialect

    def date(self, node: Node | None, path: str, term: str | None = None) -> date | None:
        """A date in the UN/CEFACT format the ``format`` attribute of its udt element names;
        one that cannot be read is a reader problem (None kept)."""
        container = self.find(node, path)
        found = None if container is None else container.first_element()
        if found is None:
            return None
        try:
            return cii_date(found.text, found.attr("format"))
        except ReadError as exc:
            if not note(found.el, term, str(exc)):
                raise
            return None

    def indicator(self, node: Node) -> bool:
        """ChargeIndicator: true for a charge, false for an allowance."""
        container = self.find(node, "ChargeIndicator")
        found = None if container is None else container.first_element()
        return to_bool(None if found is None else found.text)

    def document_id(self, node: Node | None, path: str | None = None) -> str | None:
        """The id of the referenced document at ``path`` below ``node``, or of ``node`` itself
        (BT-12 .. BT-17, BT-25, BT-122)."""
        id_path = self.d.document_id if path is None else f"{path}/{self.d.document_id}"
        return self.text(node, id_path)

    def typed_reference(self, node: Node | None, type_code: str) -> Node | None:
        """The AdditionalReferencedDocument with the given TypeCode (BT-17, BT-18, BT-128)."""
        return next((ref for ref in self.all(node, "AdditionalReferencedDocument")
                     if self.text(ref, "TypeCode") == type_code), None)

    def referenced_object(self, ref: Node | None) -> model.Identifier | None:
        """BT-18 / BT-128: the object id with its scheme (ReferenceTypeCode)."""
        return group(model.Identifier, key="value", value=self.document_id(ref),
                     scheme=self.text(ref, "ReferenceTypeCode"))

    def period(self, node: Node | None, terms: tuple[str, str] = ("BT-73", "BT-74"),
               ) -> model.Period | None:
        """BG-14 of the invoice or, with ``terms`` BT-134/135, BG-26 of a line."""
        return group(model.Period, start=self.date(node, "StartDateTime", terms[0]),
                     end=self.date(node, "EndDateTime", terms[1]))


@functools.cache
def cii_paths(dialect: Dialect) -> CiiPaths:
    """The paths of a dialect, made once so that each path is translated once."""
    return CiiPaths(dialect)
