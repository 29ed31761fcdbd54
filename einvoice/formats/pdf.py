"""Invoice XML embedded in a PDF (ZUGFeRD 2.x / Factur-X / XRechnung in PDF, ZUGFeRD 1.0)."""

from __future__ import annotations

import logging

from facturx import get_xml_from_pdf

from einvoice.errors import BrokenPDF

# The names under which the standards embed the invoice; Order-X and other attachments are not
# invoices. Matching is case-insensitive (fnmatch on lower case inside factur-x).
INVOICE_XML_NAMES = ["factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"]

logging.getLogger("factur-x").setLevel(logging.ERROR)


def extract_invoice_xml(data: bytes) -> tuple[str, bytes] | None:
    """(file name, XML bytes) of the embedded invoice, None for a PDF without one.

    Raises ``BrokenPDF`` when the PDF itself cannot be read.
    """
    try:
        filename, xml = get_xml_from_pdf(data, check_xsd=False, filenames=INVOICE_XML_NAMES)
    except Exception as exc:  # pypdf raises a zoo of types on hostile PDFs
        raise BrokenPDF(f"PDF cannot be read: {type(exc).__name__}: {exc}") from exc
    if not filename or not xml:
        return None
    return str(filename), bytes(xml)
