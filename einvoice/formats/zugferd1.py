"""Reader for ZUGFeRD 1.0 (``rsm:CrossIndustryDocument``) onto the canonical EN 16931 model.

ZUGFeRD 1.0 predates EN 16931 but is CII of an older release (D13B): parties, addresses, taxes,
allowances and prices are built alike, only namespaces and some element names differ. It is
therefore read by the CII reader in the ``ZUGFERD1`` dialect below, which maps those names onto
the places CEN/TS 16931-3-3 gives them in D16B. The delivery note (ZUGFeRD 1.0 knows no despatch
advice) stands in for BT-16.
"""

from __future__ import annotations

from lxml import etree

from einvoice.formats.cii import read_cross_industry
from einvoice.formats.cii_syntax import Dialect
from einvoice.model import Invoice

ZUGFERD1 = Dialect(
    rsm="urn:ferd:CrossIndustryDocument:invoice:1p0",
    ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
    root="CrossIndustryDocument",
    context="SpecifiedExchangedDocumentContext",
    document="HeaderExchangedDocument",
    transaction="SpecifiedSupplyChainTradeTransaction",
    header_trade="ApplicableSupplyChainTrade",
    line_trade="SpecifiedSupplyChainTrade",
    header_summation="SpecifiedTradeSettlementMonetarySummation",
    line_summation="SpecifiedTradeSettlementMonetarySummation",
    rate="ApplicablePercent",
    document_id="ID",
    accounting_account="SpecifiedTradeAccountingAccount",
    despatch_advice="DeliveryNoteReferencedDocument",
)


def read_zugferd1(root: etree._Element) -> Invoice:
    """The canonical invoice of a ZUGFeRD 1.0 ``rsm:CrossIndustryDocument`` root element."""
    return read_cross_industry(root, ZUGFERD1)
