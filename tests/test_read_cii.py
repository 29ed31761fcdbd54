"""The CII D16B and ZUGFeRD 1.0 readers: every invoice of the corpus reads, and spot checks
that terms land where the EN 16931 CII binding puts them, with amounts exactly as written."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from einvoice.errors import UnsupportedDocument
from einvoice.formats.cii import read_cii
from einvoice.formats.xmlsafe import parse_xml
from einvoice.formats.zugferd1 import read_zugferd1
from einvoice.model import AllowanceCharge, Identifier, Invoice, Note

pytestmark = pytest.mark.corpus

CII = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"
ZUGFERD1 = "{urn:ferd:CrossIndustryDocument:invoice:1p0}CrossIndustryDocument"
READERS: dict[str, Callable[[etree._Element], Invoice]] = {CII: read_cii, ZUGFERD1: read_zugferd1}
CIUS = "valid/xrechnung-testsuite/technical-cases/cius"
COMPREHENSIVE = f"{CIUS}/01.01_comprehensive_test_uncefact.xml"


def root_of(path: Path) -> etree._Element:
    return parse_xml(path.read_bytes()).getroot()


def read(path: Path) -> Invoice:
    root = root_of(path)
    return READERS[root.tag](root)


def read_all(paths: list[Path]) -> tuple[dict[str, Invoice], dict[str, str]]:
    """Each file's invoice, and the error of each file that failed to read."""
    invoices: dict[str, Invoice] = {}
    failures: dict[str, str] = {}
    for path in paths:
        try:
            invoices[path.name] = read(path)
        except Exception as exc:  # every failure is collected and reported at once
            failures[path.name] = f"{type(exc).__name__}: {exc}"
    return invoices, failures


# ---------------------------------------------------------------- the whole corpus

def test_every_valid_cii_file_reads(corpus: Path) -> None:
    manifest = json.loads((corpus / "valid" / "manifest.json").read_text())
    paths = [corpus / "valid" / name for name, entry in manifest.items()
             if entry["syntax"] == "cii"]
    invoices, failures = read_all(paths)
    assert not failures
    assert len(invoices) == len(paths) >= 50
    for name, invoice in invoices.items():
        assert invoice.number and invoice.issue_date and invoice.lines, name
        assert invoice.totals.payable is not None, name


def test_every_embedded_invoice_reads_with_its_reader(corpus: Path) -> None:
    paths = [path for path in sorted(corpus.glob("zugferd/**/*.embedded.xml"))
             if root_of(path).tag in READERS]  # leaves out Order-X
    invoices, failures = read_all(paths)
    assert not failures
    roots = [root_of(path).tag for path in paths]
    assert roots.count(CII) >= 15 and roots.count(ZUGFERD1) >= 5
    for name, invoice in invoices.items():
        assert invoice.number and invoice.totals.payable is not None, name


def test_a_reader_refuses_the_other_syntax(corpus: Path) -> None:
    with pytest.raises(UnsupportedDocument):
        read_zugferd1(root_of(corpus / COMPREHENSIVE))


# ---------------------------------------------------------------- XRechnung CII in depth

@pytest.fixture(scope="module")
def comprehensive(corpus: Path) -> Invoice:
    return read(corpus / COMPREHENSIVE)


def test_header_terms(comprehensive: Invoice) -> None:
    inv = comprehensive
    assert (inv.number, inv.issue_date, inv.type_code) == ("1234567", date(2018, 4, 13), "380")
    assert (inv.currency, inv.vat_currency) == ("EUR", "GBP")
    assert inv.tax_point_date == inv.due_date == date(2018, 4, 13)
    assert inv.buyer_reference == "90000000-03083-72"
    assert inv.project_reference == "PR12345678"
    assert inv.contract_reference == "0000000752"
    assert inv.purchase_order_reference == "65002278"
    assert inv.sales_order_reference == "ABC123456789"
    assert inv.receiving_advice_reference == "RAR123456789"
    assert inv.despatch_advice_reference == "DAR123456789"
    assert inv.tender_reference == "ANG987654321"
    assert inv.invoiced_object_id == Identifier(value="OK987654321")
    assert inv.buyer_accounting_reference == "Buchungscode1"
    assert inv.business_process == "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    assert inv.specification_id == (
        "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0")
    assert inv.notes == [Note(text="Invoice Note Description", subject_code="AAC"),
                         Note(text="Invoice Note Description 2", subject_code="AAC")]
    assert [(p.number, p.issue_date) for p in inv.preceding_invoices] == [
        ("PIR1234567890", date(2018, 2, 4))]
    assert inv.invoicing_period is not None
    assert inv.invoicing_period.start == inv.invoicing_period.end == date(2018, 4, 13)


def test_parties(comprehensive: Invoice) -> None:
    seller, buyer = comprehensive.seller, comprehensive.buyer
    assert seller.identifiers == [Identifier(value="9876543217894897438"),
                                  Identifier(value="748387437438"),
                                  Identifier(value="987654321", scheme="0088")]
    assert seller.legal_registration_id == Identifier(value="123456789", scheme="0088")
    assert (seller.name, seller.trading_name) == ("[Seller name]", "[Seller trading name]")
    assert (seller.vat_id, seller.tax_registration_id) == ("ATU123456789", "123/456/789")
    assert seller.electronic_address == Identifier(value="rechnungsausgang@test.com", scheme="EM")
    assert seller.contact is not None and seller.contact.email == "tim.tester@test.com"
    assert seller.address is not None
    assert (seller.address.line3, seller.address.subdivision) == ("[Seller address line 3]",
                                                                  "Bayern")
    assert buyer.identifier == Identifier(value="138")
    assert buyer.legal_registration_id == Identifier(value="90000000-03083-72", scheme="0204")
    assert buyer.vat_id == "DE12345ABC"
    assert comprehensive.payee is not None and comprehensive.payee.name == "[Payee name]"
    representative = comprehensive.tax_representative
    assert representative is not None and representative.vat_id == "DE124567"
    delivery = comprehensive.delivery
    assert delivery is not None and delivery.location_id == Identifier(value="68")
    assert delivery.actual_date == date(2018, 4, 13)
    assert delivery.address is not None and delivery.address.line2 == "4. OG"


def test_payment_allowances_totals_and_vat(comprehensive: Invoice) -> None:
    payment = comprehensive.payment
    assert payment is not None
    assert (payment.means_code, payment.means_text) == ("58", "[Payment means text]")
    assert payment.remittance_information == "Deb. 12345 / Fact. 9876543"
    assert [(t.account_id, t.service_provider_id) for t in payment.credit_transfers] == [
        ("DE79000000001234567890", "[BIC]"), ("DE16000000002345678901", "[BIC]")]
    assert payment.card is None and payment.direct_debit is None
    assert [ac.is_charge for ac in comprehensive.allowances_charges] == [True, True, False, False]
    assert comprehensive.allowances_charges[0] == AllowanceCharge(
        is_charge=True, amount=Decimal("10"), base_amount=Decimal("100"),
        percent=Decimal("10"), vat_category="E", vat_rate=Decimal("0"), reason="Testing",
        reason_code="TAC")
    totals = comprehensive.totals
    assert (totals.vat, totals.vat_accounting_currency) == (Decimal("2048.44"),
                                                            Decimal("2048.44"))
    assert str(totals.payable) == "12829.69" and str(totals.rounding) == "0"
    breakdown = comprehensive.vat_breakdown
    assert [(v.category, v.rate) for v in breakdown] == [("S", Decimal("19")), ("E", Decimal("0"))]
    assert breakdown[1].exemption_reason_code == "VATEX-EU-132-1A"


def test_line_with_allowances_charges_and_price(comprehensive: Invoice) -> None:
    line = comprehensive.lines[0]
    assert [x.id for x in comprehensive.lines] == ["1", "2"]
    assert line.note is not None and line.note.startswith("Die letzte Lieferung")
    assert line.object_id == Identifier(value="ANG987654321", scheme="ABZ")
    assert (str(line.quantity), line.unit_code) == ("30.00000000000", "XPP")
    assert line.net_amount == Decimal("4743.75")
    assert (line.order_line_reference, line.accounting_reference) == ("6171175.1", "Konto 1")
    assert line.period is not None and line.period.start == date(2018, 4, 13)
    assert [(ac.is_charge, ac.reason) for ac in line.allowances_charges] == [
        (True, "Testing"), (True, "Testing 2"),
        (False, "Fixed long term"), (False, "Fixed long term 2")]
    assert line.allowances_charges[2].reason_code == "102"
    assert str(line.price.net) == "158.1250000000"
    assert str(line.price.gross) == "168.1250000000"
    assert str(line.price.discount) == "10.000000000000000000"
    assert (line.price.base_quantity, line.price.base_quantity_unit) == (Decimal("1"), "XPP")
    assert (line.vat_category, line.vat_rate) == ("S", Decimal("19"))
    item = line.item
    assert (item.name, item.seller_id, item.buyer_id) == ("Beratung", "1034", "5034")
    assert item.standard_id == Identifier(value="123456789", scheme="0088")
    assert [(c.code, c.scheme, c.version) for c in item.classifications] == [
        ("0721-880X", "IB", "88"), ("0721-880XYZ", "IB", "88")]
    assert [(a.name, a.value) for a in item.attributes] == [
        ("[Description]", "[Value]"), ("[Description 2]", "[Value 2]")]
    assert item.origin_country == "DE"


def test_attachment_bytes(comprehensive: Invoice) -> None:
    document = comprehensive.supporting_documents[0]
    assert [d.reference for d in comprehensive.supporting_documents] == [
        "01_15_Anhang_01.pdf", "01_15_Anhang_02.pdf"]
    assert document.external_uri == "https://xeinkauf.de/xrechnung/"
    assert document.attachment is not None
    assert document.attachment.content.startswith(b"%PDF-1.5")
    assert (document.attachment.mime_code, document.attachment.filename) == (
        "application/pdf", "01_15_Anhang_01.pdf")


def test_xrechnung_sub_lines_are_left_out(corpus: Path) -> None:
    root = root_of(corpus / COMPREHENSIVE)
    ram = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
    second = root.findall(f".//{ram}AssociatedDocumentLineDocument")[1]
    etree.SubElement(second, f"{ram}ParentLineID").text = "1"
    assert [line.id for line in read_cii(root).lines] == ["1"]


def test_a_comment_does_not_cut_a_value(corpus: Path) -> None:
    root = root_of(corpus / COMPREHENSIVE)
    ram = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
    for el, head in ((root.findall(f".//{ram}DuePayableAmount")[0], "128"),
                     (root.findall(f".//{ram}LineID")[0], "")):
        text = el.text or ""
        el.text = head
        comment = etree.Comment(" split ")
        comment.tail = text[len(head):]
        el.append(comment)
    invoice = read_cii(root)
    assert str(invoice.totals.payable) == "12829.69"
    assert invoice.lines[0].id == "1"


def test_tax_point_date_code_is_translated_to_untdid_2005(corpus: Path) -> None:
    invoice = read(corpus / CIUS / "01.02_comprehensive_test_uncefact.xml")
    assert invoice.tax_point_date_code == "3"  # written as UNTDID 2475 code 5


def test_empty_groups_stay_none(corpus: Path) -> None:
    invoice = read(corpus / "zugferd/synthesized/synth_MINIMUM_facturFrMinimum.pdf.embedded.xml")
    assert invoice.lines == []
    assert invoice.payment is None and invoice.delivery is None and invoice.payee is None
    assert invoice.seller.contact is None and invoice.buyer.contact is None


# ---------------------------------------------------------------- ZUGFeRD 1.0

def test_zugferd1_basic(corpus: Path) -> None:
    invoice = read(corpus / "zugferd/mustang/library/zugferd_invoice.pdf.embedded.xml")
    assert (invoice.number, invoice.issue_date) == ("2014-03", date(2014, 7, 11))
    assert invoice.specification_id == "urn:ferd:CrossIndustryDocument:invoice:1p0:basic"
    assert invoice.seller.vat_id == "DE123456789"
    totals = invoice.totals
    assert [str(t) for t in (totals.line_net, totals.vat, totals.with_vat, totals.payable)] == [
        "845.00", "160.55", "1005.55", "1005.55"]
    assert [(v.taxable_amount, str(v.rate)) for v in invoice.vat_breakdown] == [
        (Decimal("845.00"), "19.0")]
    assert [(x.id, x.item.name, x.quantity, x.unit_code, x.net_amount)
            for x in invoice.lines[:2]] == [
        ("1", "Superdrachen", Decimal("2"), "C62", Decimal("40.00")),
        ("2", "Turbo Flyer", Decimal("5"), "C62", Decimal("200.00"))]
    assert len(invoice.lines) == 7


def test_zugferd1_extended(corpus: Path) -> None:
    invoice = read(corpus / "zugferd/mustang/validator/validV1WithAdditionalData.pdf.embedded.xml")
    assert invoice.despatch_advice_reference == "L87654321012345"  # the delivery note
    assert invoice.purchase_order_reference == "B123456789"
    assert [ac.amount for ac in invoice.allowances_charges] == [
        Decimal("5.60"), Decimal("2.61"), Decimal("2.50"), Decimal("0.50")]
    assert invoice.allowances_charges[0].vat_rate == Decimal("19.00")
    assert [x.id for x in invoice.lines] == [None] * 7  # ZUGFeRD 1.0 lines need no id
    sugar = invoice.lines[2]
    assert sugar.vat_rate == Decimal("7.00")
    assert str(sugar.price.discount) == "0.0500"  # two price allowances, 0.0300 + 0.0200
