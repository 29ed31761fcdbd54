"""Every valid corpus file reads, and key business terms agree with XPath in this test
(independent of the readers): BT-1, BT-2, BT-5, BT-10, BT-112, BT-115, line count, line nets."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from einvoice.formats.detect import Kind
from einvoice.formats.reader import read_document
from einvoice.model import Invoice
from tests.conftest import CORPUS

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "zf": "urn:ferd:CrossIndustryDocument:invoice:1p0",
    "zram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
    "zudt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15",
}

UBL = {
    "number": "/*/cbc:ID", "issue_date": "/*/cbc:IssueDate",
    "currency": "/*/cbc:DocumentCurrencyCode", "buyer_reference": "/*/cbc:BuyerReference",
    "with_vat": "/*/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
    "payable": "/*/cac:LegalMonetaryTotal/cbc:PayableAmount",
    "lines": "/*/cac:InvoiceLine | /*/cac:CreditNoteLine", "line_net": "cbc:LineExtensionAmount",
}
CII = {
    "number": "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
    "issue_date": "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/"
                  "udt:DateTimeString",
    "currency": "//ram:ApplicableHeaderTradeSettlement/ram:InvoiceCurrencyCode",
    "buyer_reference": "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference",
    "with_vat": "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount",
    "payable": "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount",
    "lines": "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/"
             "ram:IncludedSupplyChainTradeLineItem",
    "line_net": "ram:SpecifiedLineTradeSettlement/"
                "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
}
ZUGFERD1 = {
    "number": "/zf:CrossIndustryDocument/zf:HeaderExchangedDocument/zram:ID",
    "issue_date": "/zf:CrossIndustryDocument/zf:HeaderExchangedDocument/zram:IssueDateTime/"
                  "zudt:DateTimeString",
    "currency": "//zram:ApplicableSupplyChainTradeSettlement/zram:InvoiceCurrencyCode",
    "buyer_reference": "//zram:ApplicableSupplyChainTradeAgreement/zram:BuyerReference",
    "with_vat": "//zram:SpecifiedTradeSettlementMonetarySummation/zram:GrandTotalAmount",
    "payable": "//zram:SpecifiedTradeSettlementMonetarySummation/zram:DuePayableAmount",
    "lines": "/zf:CrossIndustryDocument/zf:SpecifiedSupplyChainTradeTransaction/"
             "zram:IncludedSupplyChainTradeLineItem",
    "line_net": "zram:SpecifiedSupplyChainTradeSettlement/"
                "zram:SpecifiedTradeSettlementMonetarySummation/zram:LineTotalAmount",
}


def _valid_files() -> list[str]:
    manifest = CORPUS / "valid" / "manifest.json"
    return sorted(json.loads(manifest.read_text())) if manifest.exists() else ["<corpus missing>"]


def _first(root: etree._Element, path: str) -> str | None:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return ((found[0].text or "").strip() or None) if found else None


def _date(text: str) -> date:
    return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")


def check_against_xpath(xml: bytes, model: Invoice) -> None:
    root = etree.fromstring(xml)
    paths = {NS["rsm"]: CII, NS["zf"]: ZUGFERD1}.get(etree.QName(root).namespace or "", UBL)
    assert model.number == _first(root, paths["number"])
    assert model.issue_date == _date(_first(root, paths["issue_date"]) or "")
    assert model.currency == _first(root, paths["currency"])
    assert model.buyer_reference == _first(root, paths["buyer_reference"])
    for field in ("with_vat", "payable"):
        text = _first(root, paths[field])
        assert getattr(model.totals, field) == (Decimal(text) if text else None), field
    lines = root.xpath(paths["lines"], namespaces=NS)
    assert isinstance(lines, list)
    assert len(model.lines) == len(lines)
    for line, el in zip(model.lines, lines, strict=True):
        net = _first(el, paths["line_net"])
        assert line.net_amount == (Decimal(net) if net else None)


@pytest.mark.parametrize("rel", _valid_files())
def test_valid_file_reads_and_agrees_with_xpath(corpus: Path, rel: str) -> None:
    data = (corpus / "valid" / rel).read_bytes()
    reading = read_document(data, 64 * 1024 * 1024)
    assert reading.error is None
    assert reading.invoice is not None
    assert reading.kind in (Kind.UBL_INVOICE, Kind.UBL_CREDITNOTE, Kind.CII, Kind.ZUGFERD1)
    check_against_xpath(data, reading.invoice)


def _pdfs() -> list[str]:
    manifest = CORPUS / "zugferd" / "manifest.json"
    return sorted(json.loads(manifest.read_text())) if manifest.exists() else ["<corpus missing>"]


@pytest.mark.parametrize("rel", _pdfs())
def test_pdf_yields_its_embedded_invoice_or_is_pdf_without_xml(corpus: Path, rel: str) -> None:
    entry = json.loads((corpus / "zugferd" / "manifest.json").read_text())[rel]
    reading = read_document((corpus / "zugferd" / rel).read_bytes(), 64 * 1024 * 1024)
    embedded = entry["embedded_xml"]
    is_invoice = embedded["has_xml"] and embedded["filename"].lower() != "order-x.xml"
    if not is_invoice:
        assert reading.kind is Kind.PDF_WITHOUT_XML
        assert reading.invoice is None and reading.error
        return
    assert reading.kind is Kind.FACTURX_PDF
    assert reading.xml_filename == embedded["filename"]
    xml = (corpus / "zugferd" / embedded["extracted_to"]).read_bytes()
    assert reading.xml == xml
    assert reading.error is None and reading.invoice is not None
    check_against_xpath(xml, reading.invoice)
