"""Hostile bytes get a clear error, never an expansion, a network access or a hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from einvoice.errors import ForbiddenXML, MalformedXML, TooLarge
from einvoice.formats.detect import Kind
from einvoice.formats.reader import read_document
from einvoice.formats.xmlsafe import parse_xml
from einvoice.formats.ziparchive import safe_name

LIMIT = 64 * 1024 * 1024

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol9;</Invoice>"""


def xxe(target: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "{target}">]>'
            '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
            "<ID xmlns='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>"
            "&e;</ID></Invoice>").encode()


def test_entity_bomb_is_refused_not_expanded() -> None:
    with pytest.raises(ForbiddenXML):
        parse_xml(BOMB)
    reading = read_document(BOMB, LIMIT)
    assert reading.invoice is None and "DTD" in (reading.error or "")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://127.0.0.1:9/x"])
def test_external_entities_are_refused(target: str) -> None:
    reading = read_document(xxe(target), LIMIT)
    assert reading.invoice is None
    assert "DTD" in (reading.error or "")
    assert "root:" not in (reading.error or "")


def test_malformed_and_oversized_xml() -> None:
    with pytest.raises(MalformedXML):
        parse_xml(b"<a><b></a>")
    with pytest.raises(TooLarge):
        parse_xml(b"<a>" + b" " * 2000 + b"</a>", max_bytes=1000)


def test_wrong_namespace_ubl_is_not_an_invoice() -> None:
    data = b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-3'/>"
    reading = read_document(data, LIMIT)
    assert reading.kind is Kind.NOT_AN_INVOICE and "not an invoice" in (reading.error or "")


def test_truncated_pdf_is_a_clear_error(corpus: Path) -> None:
    pdf = (corpus / "zugferd/mustang/library/EN16931_Einfach.pdf").read_bytes()
    reading = read_document(pdf[: len(pdf) // 3], LIMIT)
    assert reading.kind is Kind.PDF_WITHOUT_XML and reading.invoice is None
    assert reading.error


def test_large_non_invoice_is_rejected_quickly() -> None:
    data = b"\x89PNG" + b"\0" * (50 * 1024 * 1024)
    started = time.perf_counter()
    reading = read_document(data, LIMIT)
    elapsed = time.perf_counter() - started
    assert reading.kind is Kind.NOT_AN_INVOICE and reading.invoice is None
    assert reading.error and "neither XML, PDF nor ZIP" in reading.error
    assert elapsed < 1.0, f"{elapsed:.2f} s to refuse 50 MB that are no invoice"


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("C:\\Windows\\evil.xml", "evil.xml"), ("a/b/", "unnamed"),
    ("x\x00y\n.xml", "xy.xml"),
])
def test_zip_member_names_lose_their_paths(name: str, safe: str) -> None:
    assert safe_name(name) == safe
