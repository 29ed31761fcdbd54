"""One document's bytes in, the canonical invoice (or the reason there is none) out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from pydantic import ValidationError

from einvoice.errors import InputError, ReadError, UnsupportedDocument
from einvoice.formats.cii import read_cii
from einvoice.formats.detect import Container, Kind, sniff, xml_kind
from einvoice.formats.pdf import extract_invoice_xml
from einvoice.formats.problems import ReaderProblem, collecting
from einvoice.formats.ubl import read_ubl
from einvoice.formats.xmlsafe import parse_xml
from einvoice.formats.zugferd1 import read_zugferd1
from einvoice.model import Invoice

READERS: dict[Kind, tuple[str, Callable[[etree._Element], Invoice]]] = {
    Kind.UBL_INVOICE: ("ubl", read_ubl),
    Kind.UBL_CREDITNOTE: ("ubl", read_ubl),
    Kind.CII: ("cii", read_cii),
    Kind.ZUGFERD1: ("zugferd1", read_zugferd1),
}


@dataclass
class Reading:
    """What reading one document gave: its kind, and the invoice or the error; ``problems``:
    values of the invoice that could not be read (kept as None in the model)."""

    kind: Kind
    syntax: str | None = None
    invoice: Invoice | None = None
    xml: bytes | None = None
    xml_filename: str | None = None
    error: str | None = None
    problems: list[ReaderProblem] = field(default_factory=list)


def detect_xml(data: bytes, max_xml_bytes: int) -> tuple[Kind, etree._Element]:
    """Parse (hardened) and detect; raises ``InputError`` for broken or hostile XML."""
    root = parse_xml(data, max_xml_bytes).getroot()
    return xml_kind(root), root


def map_xml(kind: Kind, root: etree._Element) -> tuple[str, Invoice]:
    """The syntax name and canonical model of an invoice root; ``InputError`` if unmappable."""
    if kind not in READERS:
        raise UnsupportedDocument(
            f"XML root element {root.tag} is not an invoice of a known syntax")
    syntax, reader = READERS[kind]
    try:
        return syntax, reader(root)
    except ValidationError as exc:
        raise ReadError(f"{syntax} document cannot be mapped: {exc}") from exc


def _read_xml(data: bytes, max_xml_bytes: int, reading: Reading) -> Reading:
    try:
        kind, root = detect_xml(data, max_xml_bytes)
        if reading.kind is Kind.NOT_AN_INVOICE:
            reading.kind = kind
        with collecting() as problems:
            reading.syntax, reading.invoice = map_xml(kind, root)
        reading.problems = problems
    except InputError as exc:
        where = f"embedded {reading.xml_filename}: " if reading.xml_filename else ""
        reading.error = f"{where}{exc}"
    return reading


def read_document(data: bytes, max_xml_bytes: int) -> Reading:
    """Read one non-container document. Never raises ``InputError``: it becomes ``error``."""
    container = sniff(data)
    if container is Container.XML:
        return _read_xml(data, max_xml_bytes, Reading(Kind.NOT_AN_INVOICE, xml=data))
    if container is Container.PDF:
        try:
            found = extract_invoice_xml(data)
        except InputError as exc:
            return Reading(Kind.PDF_WITHOUT_XML, error=str(exc))
        if found is None:
            return Reading(Kind.PDF_WITHOUT_XML, error="PDF without embedded invoice XML")
        name, xml = found
        return _read_xml(xml, max_xml_bytes, Reading(Kind.FACTURX_PDF, xml=xml, xml_filename=name))
    return Reading(Kind.NOT_AN_INVOICE, error="neither XML, PDF nor ZIP: not an invoice")
