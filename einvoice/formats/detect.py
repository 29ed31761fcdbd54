"""Content-based detection: what kind of document these bytes are (never by file name)."""

from __future__ import annotations

from enum import StrEnum

from lxml import etree

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDITNOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
ZUGFERD1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"


class Kind(StrEnum):
    """Document kinds of DESIGN.md, plus the ZIP container."""

    UBL_INVOICE = "ubl-invoice"
    UBL_CREDITNOTE = "ubl-creditnote"
    CII = "cii"
    ZUGFERD1 = "zugferd1"
    FACTURX_PDF = "facturx-pdf"
    PDF_WITHOUT_XML = "pdf-without-xml"
    ZIP = "zip"
    NOT_AN_INVOICE = "not-an-invoice"


class Container(StrEnum):
    """The outer shape of a byte string, from its first bytes."""

    PDF = "pdf"
    ZIP = "zip"
    XML = "xml"
    OTHER = "other"


XML_KINDS: dict[str, Kind] = {
    f"{{{UBL_INVOICE_NS}}}Invoice": Kind.UBL_INVOICE,
    f"{{{UBL_CREDITNOTE_NS}}}CreditNote": Kind.UBL_CREDITNOTE,
    f"{{{CII_NS}}}CrossIndustryInvoice": Kind.CII,
    f"{{{ZUGFERD1_NS}}}CrossIndustryDocument": Kind.ZUGFERD1,
}


def sniff(data: bytes) -> Container:
    """PDF and ZIP by magic number (a PDF header may follow up to 1 KiB of junk), else XML by
    its first character."""
    if b"%PDF-" in data[:1024]:
        return Container.PDF
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return Container.ZIP
    head = data[:1024].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<") or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Container.XML
    return Container.OTHER


def xml_kind(root: etree._Element) -> Kind:
    """The invoice kind of a parsed XML root element (namespace and local name)."""
    return XML_KINDS.get(root.tag if isinstance(root.tag, str) else "", Kind.NOT_AN_INVOICE)
