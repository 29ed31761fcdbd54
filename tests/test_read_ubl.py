"""The UBL reader against the official corpus and against hand-made edge cases."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from einvoice.errors import ReadError, UnsupportedDocument
from einvoice.formats.detect import Kind
from einvoice.formats.reader import map_xml
from einvoice.formats.ubl import read_ubl
from einvoice.formats.xmlsafe import parse_xml
from einvoice.model import (
    Address,
    Classification,
    CreditTransfer,
    DirectDebit,
    Identifier,
    Invoice,
    Note,
    PrecedingInvoice,
    SkontoTerm,
)

XRECHNUNG = "valid/xrechnung-testsuite"
COMPREHENSIVE = f"{XRECHNUNG}/technical-cases/cius/01.01_comprehensive_test_ubl.xml"
CREDIT_NOTE_MAX = "valid/en16931-testfiles/CreditNote-Max_content.xml"
INVOICE_MIN = "valid/en16931-testfiles/Invoice-Min_content_with_VAT.xml"

NAMESPACES = (
    'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
)


def read(corpus: Path, name: str) -> Invoice:
    return read_ubl(parse_xml((corpus / name).read_bytes()).getroot())


def inline(body: str, kind: str = "Invoice") -> etree._Element:
    """A UBL document of ``kind`` around ``body``, parsed the way intake parses it."""
    xml = (f'<{kind} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{kind}-2" '
           f"{NAMESPACES}>{body}</{kind}>")
    return parse_xml(xml.encode()).getroot()


@pytest.mark.corpus
def test_every_valid_ubl_file_reads(corpus: Path) -> None:
    manifest = json.loads((corpus / "valid" / "manifest.json").read_text())
    ubl = [name for name, entry in manifest.items() if entry["syntax"] in ("ubl-inv", "ubl-cn")]
    assert len(ubl) > 90
    for name in ubl:
        invoice = read(corpus, f"valid/{name}")
        assert invoice.number and invoice.issue_date and invoice.type_code, name
        assert invoice.lines and invoice.totals.payable is not None, name


@pytest.mark.corpus
def test_comprehensive_xrechnung_header(corpus: Path) -> None:
    invoice = read(corpus, COMPREHENSIVE)
    assert invoice.number == "1234567"
    assert invoice.issue_date == date(2018, 4, 13)
    assert invoice.type_code == "380"
    assert (invoice.currency, invoice.vat_currency) == ("EUR", "GBP")
    assert invoice.buyer_reference == "90000000-03083-72"
    assert invoice.project_reference == "PR12345678"
    assert invoice.tender_reference == "ANG987654321"
    assert invoice.invoiced_object_id == Identifier(value="OK987654321")
    assert invoice.sales_order_reference == "ABC123456789"
    assert invoice.notes == [Note(text="Invoice Note Description", subject_code="AAC"),
                             Note(text="Invoice Note Description 2", subject_code="AAC")]
    assert invoice.preceding_invoices[1] == PrecedingInvoice(number="PIR0987654321",
                                                             issue_date=date(2018, 3, 5))
    assert invoice.specification_id is not None
    assert invoice.specification_id.endswith("xrechnung_3.0")


@pytest.mark.corpus
def test_comprehensive_xrechnung_parties_and_payment(corpus: Path) -> None:
    invoice = read(corpus, COMPREHENSIVE)
    seller = invoice.seller
    assert seller.name == "[Seller name]"
    assert seller.trading_name == "[Seller trading name]"
    assert seller.identifiers == [Identifier(value="987654321", scheme="0088")]
    assert (seller.vat_id, seller.tax_registration_id) == ("ATU123456789", "123/456/789")
    assert seller.electronic_address == Identifier(value="rechnungsausgang@test.com", scheme="EM")
    assert seller.address is not None and seller.address.line3 == "[Seller address line 3]"
    assert invoice.buyer.legal_registration_id == Identifier(value="90000000-03083-72",
                                                             scheme="0204")
    assert invoice.payee is not None and invoice.payee.name == "[Payee name]"
    assert invoice.tax_representative is not None
    assert invoice.tax_representative.vat_id == "DE124567"
    assert invoice.delivery is not None and invoice.delivery.address == Address(
        line1="[Deliver to street]", line2="4. OG", line3="More Details",
        city="[Deliver to city]", post_code="98765", subdivision="Bayern", country="DE")
    payment = invoice.payment
    assert payment is not None
    assert (payment.means_code, payment.means_text) == ("58", "[Payment means text]")
    assert payment.remittance_information == "Deb. 12345 / Fact. 9876543"
    assert [t.account_id for t in payment.credit_transfers] == ["DE79000000001234567890",
                                                                "DE16000000002345678901"]
    assert payment.direct_debit is None and payment.card is None


@pytest.mark.corpus
def test_comprehensive_xrechnung_totals_and_lines(corpus: Path) -> None:
    invoice = read(corpus, COMPREHENSIVE)
    assert invoice.totals.vat == Decimal("2048.44")
    assert invoice.totals.vat_accounting_currency == Decimal("2048.44")
    assert invoice.totals.payable == Decimal("12829.69")
    assert [ac.is_charge for ac in invoice.allowances_charges] == [True, True, False, False]
    assert invoice.allowances_charges[0].vat_category == "E"
    exempt = invoice.vat_breakdown[1]
    assert (exempt.category, exempt.exemption_reason_code) == ("E", "VATEX-EU-132-1A")
    line = invoice.lines[0]
    assert (line.id, line.quantity, line.unit_code) == ("1", Decimal("30"), "XPP")
    assert line.object_id == Identifier(value="ANG987654321", scheme="ABZ")
    assert line.order_line_reference == "6171175.1"
    assert (line.price.net, line.price.discount, line.price.gross) == (
        Decimal("158.125"), Decimal("10"), Decimal("168.125"))
    assert (line.vat_category, line.vat_rate) == ("S", Decimal("19"))
    assert line.item.seller_id == "1034" and line.item.buyer_id == "5034"
    assert line.item.standard_id == Identifier(value="123456789", scheme="0088")
    assert line.item.classifications[0] == Classification(code="0721-880X", scheme="IB",
                                                          version="88")
    assert [a.value for a in line.item.attributes] == ["[Value]", "[Value 2]"]
    assert invoice.lines[1].period is None


@pytest.mark.corpus
def test_attachment_is_decoded(corpus: Path) -> None:
    documents = read(corpus, COMPREHENSIVE).supporting_documents
    assert [d.reference for d in documents] == ["01_15_Anhang_01.pdf", "01_15_Anhang_02.pdf"]
    attachment = documents[0].attachment
    assert attachment is not None
    assert attachment.content.startswith(b"%PDF-")
    assert (attachment.mime_code, attachment.filename) == ("application/pdf",
                                                           "01_15_Anhang_01.pdf")
    assert documents[0].external_uri == "https://xeinkauf.de/xrechnung/"


@pytest.mark.corpus
def test_credit_note_max_content(corpus: Path) -> None:
    note = read(corpus, CREDIT_NOTE_MAX)
    assert note.is_credit_note and note.type_code == "381"
    assert note.project_reference == "11111111"  # AdditionalDocumentReference type 50
    assert note.invoiced_object_id == Identifier(value="ABC123", scheme="VT")
    assert (note.totals.vat, note.totals.vat_accounting_currency) == (Decimal("2500"),
                                                                      Decimal("249"))
    assert note.payment_terms == ("30 days net. Penalty rate 12 %\n"
                                  "Line break should be respected here.")
    assert note.payment is not None and len(note.payment.credit_transfers) == 4
    assert [d.reference for d in note.supporting_documents] == ["MT123", "Time report 1",
                                                                "Example 1"]
    attachment = note.supporting_documents[1].attachment
    assert attachment is not None and attachment.content == base64.b64decode("01234567")
    assert [line.quantity for line in note.lines] == [Decimal("500"), Decimal("10000")]
    assert note.lines[0].price.discount == Decimal("0.50")


@pytest.mark.corpus
def test_empty_groups_stay_none(corpus: Path) -> None:
    invoice = read(corpus, INVOICE_MIN)
    assert invoice.seller.address == Address(country="SE")
    assert invoice.seller.contact is None
    assert invoice.payee is None and invoice.delivery is None
    assert invoice.tax_representative is None and invoice.invoicing_period is None
    assert invoice.payment is None
    assert invoice.payment_terms == "As per contract clasuse X.123"


@pytest.mark.corpus
def test_skonto_terms(corpus: Path) -> None:
    invoice = read(corpus, f"{XRECHNUNG}/business-cases/standard/01.10a-INVOICE_ubl.xml")
    assert invoice.skonto == [SkontoTerm(days=7, percent=Decimal("2.00")),
                              SkontoTerm(days=14, percent=Decimal("1.00")),
                              SkontoTerm(days=30, percent=Decimal("0.00"))]


@pytest.mark.corpus
def test_direct_debit_takes_the_sepa_creditor_id(corpus: Path) -> None:
    invoice = read(corpus, f"{XRECHNUNG}/business-cases/standard/03.01a-INVOICE_ubl.xml")
    assert invoice.payment is not None
    assert invoice.payment.direct_debit == DirectDebit(
        mandate_reference="[Mandate reference identifier]",
        creditor_id="[Bank assigned creditor identifier]",
        debited_account_id="DE79000000001234567890")
    assert all(i.scheme != "SEPA" for i in invoice.seller.identifiers)


@pytest.mark.corpus
def test_sub_invoice_lines_are_ignored(corpus: Path) -> None:
    invoice = read(corpus, f"{XRECHNUNG}/business-cases/extension/04.01a-INVOICE_ubl.xml")
    assert [line.id for line in invoice.lines] == ["1", "2"]


def test_comments_and_odd_whitespace() -> None:
    root = inline("""
      <cbc:ID>
         INV-<!-- split -->0042 </cbc:ID>
      <cbc:IssueDate>  2024-01-15
      </cbc:IssueDate>
      <!-- a comment between elements -->
      <cbc:InvoiceTypeCode>3<?pi x?>80</cbc:InvoiceTypeCode>
      <cbc:Note><!-- lead -->#ADU#  Bitte <!-- x -->beachten </cbc:Note>
      <cbc:Note>   </cbc:Note>
      <cbc:DocumentCurrencyCode>	EUR
      </cbc:DocumentCurrencyCode>
      <cac:PaymentMeans>
        <cbc:PaymentMeansCode> 58 </cbc:PaymentMeansCode>
        <cac:PayeeFinancialAccount><cbc:ID>DE02<!-- c -->120300000000202051</cbc:ID>
        </cac:PayeeFinancialAccount>
      </cac:PaymentMeans>
      <cac:LegalMonetaryTotal>
        <cbc:PayableAmount currencyID="EUR"> 1<!-- c -->68.1250000000 </cbc:PayableAmount>
      </cac:LegalMonetaryTotal>
      <cac:InvoiceLine>
        <cbc:ID> 1 </cbc:ID>
        <cbc:InvoicedQuantity unitCode=" H87 "> 2,5 </cbc:InvoicedQuantity>
      </cac:InvoiceLine>""")
    invoice = read_ubl(root)
    assert invoice.number == "INV-0042"
    assert invoice.issue_date == date(2024, 1, 15)
    assert invoice.type_code == "380"
    assert invoice.currency == "EUR"
    assert invoice.notes == [Note(text="Bitte beachten", subject_code="ADU")]
    assert invoice.payment is not None
    assert invoice.payment.means_code == "58"
    assert invoice.payment.credit_transfers == [CreditTransfer(account_id="DE02120300000000202051")]
    assert str(invoice.totals.payable) == "168.1250000000"  # as written, not normalised
    assert (invoice.lines[0].id, invoice.lines[0].quantity) == ("1", Decimal("2.5"))
    assert invoice.lines[0].unit_code == "H87"


def test_incomplete_groups() -> None:
    """Lines and allowances are kept without their key term; other groups are left out."""
    root = inline("""
      <cac:AdditionalDocumentReference><cbc:DocumentDescription>no id</cbc:DocumentDescription>
      </cac:AdditionalDocumentReference>
      <cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator></cac:AllowanceCharge>
      <cac:InvoiceLine><cbc:LineExtensionAmount currencyID="EUR">5</cbc:LineExtensionAmount>
      </cac:InvoiceLine>""")
    invoice = read_ubl(root)
    assert invoice.supporting_documents == []
    assert [(ac.is_charge, ac.amount) for ac in invoice.allowances_charges] == [(True, None)]
    assert [(line.id, line.net_amount) for line in invoice.lines] == [(None, Decimal("5"))]


def test_credit_note_due_date_comes_from_payment_means() -> None:
    root = inline("""
      <cbc:ID>CN-1</cbc:ID>
      <cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>
      <cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode></cac:PaymentMeans>
      <cac:PaymentMeans>
        <cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>
        <cbc:PaymentDueDate>2024-02-01</cbc:PaymentDueDate>
      </cac:PaymentMeans>""", kind="CreditNote")
    invoice = read_ubl(root)
    assert invoice.is_credit_note
    assert invoice.due_date == date(2024, 2, 1)


def test_broken_attachment_makes_the_document_unreadable() -> None:
    root = inline("""
      <cac:AdditionalDocumentReference>
        <cbc:ID>a</cbc:ID>
        <cac:Attachment>
          <cbc:EmbeddedDocumentBinaryObject mimeCode="text/csv" filename="a.csv">QUJDRA
          </cbc:EmbeddedDocumentBinaryObject>
        </cac:Attachment>
      </cac:AdditionalDocumentReference>""")
    with pytest.raises(ReadError, match="base64"):
        map_xml(Kind.UBL_INVOICE, root)


def test_other_roots_are_refused() -> None:
    root = parse_xml(b'<Invoice xmlns="urn:example">x</Invoice>').getroot()
    with pytest.raises(UnsupportedDocument):
        read_ubl(root)
