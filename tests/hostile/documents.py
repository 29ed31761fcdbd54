"""Hostile documents, made from the official test invoices: XML that reaches for files, the
network or memory; PDFs that inflate or carry such XML; ZIPs that nest, swarm or name paths.
The corpus is read, never copied into the repository."""

from __future__ import annotations

import base64
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

CIUS = "valid/xrechnung-testsuite/technical-cases/cius"
COMPREHENSIVE = f"{CIUS}/01.01_comprehensive_test_ubl.xml"  # seller "[Seller name]", 1234567
MINIMAL = f"{CIUS}/01.05_minimal_test_ubl.xml"
MINIMAL_CII = f"{CIUS}/01.05_minimal_test_uncefact.xml"
UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CII_ROOT = ("<rsm:CrossIndustryInvoice xmlns:rsm='urn:un:unece:uncefact:data:standard:"
            "CrossIndustryInvoice:100'>{}</rsm:CrossIndustryInvoice>")
NUMBER = b"<cbc:ID>1234567</cbc:ID>"
SELLER = b"[Seller name]"
BUYER_REFERENCE = b"90000000-03083-72"
ATTACHMENT = b'filename="01_15_Anhang_01.pdf">'
ATTACHMENT_END = b"</cbc:EmbeddedDocumentBinaryObject>"


def escaped(text: str) -> bytes:
    """``text`` as XML character data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def replaced(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert old in data, old
    return data.replace(old, new, count)


def renumber(data: bytes, number: str) -> bytes:
    """The invoice with another number (BT-1), as XML text."""
    return replaced(data, NUMBER, b"<cbc:ID>" + escaped(number) + b"</cbc:ID>")


def saying(data: bytes, text: str, number: str | None = None) -> bytes:
    """The comprehensive invoice with ``text`` in its number (after ``number``, if given), as
    seller, buyer reference, payment terms, order reference and item name."""
    x = escaped(text)
    data = renumber(data, f"{number} {text}" if number else text)
    for old, new in ((SELLER, x), (BUYER_REFERENCE, x),
                     (b"Beschreibung 1: Bitte", x + b" Bitte"),
                     (b"<cbc:ID>65002278</cbc:ID>", b"<cbc:ID>" + x + b"</cbc:ID>"),
                     (b"<cbc:Name>Beratung</cbc:Name>", b"<cbc:Name>" + x + b"</cbc:Name>")):
        data = replaced(data, old, new, -1)
    return data


# ------------------------------------------------------------------ XML


def _body(invoice: bytes) -> bytes:
    """The invoice without its XML declaration, to put a DOCTYPE in front of it."""
    return invoice.split(b"?>", 1)[1] if invoice.startswith(b"<?xml") else invoice


def with_doctype(invoice: bytes, subset: str, reference: str = "&e;") -> bytes:
    """The invoice with an internal DTD subset, ``reference`` as its number."""
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Invoice [{subset}]>'.encode()
    return head + renumber(_body(invoice), "§").replace("§".encode(), reference.encode())


def xxe(invoice: bytes, target: str) -> bytes:
    return with_doctype(invoice, f'<!ENTITY e SYSTEM "{target}">')


def parameter_entity(invoice: bytes, url: str) -> bytes:
    """An external parameter entity: the DTD itself would be fetched (blind XXE)."""
    return with_doctype(invoice, f'<!ENTITY % p SYSTEM "{url}"> %p;', "x")


def billion_laughs(invoice: bytes) -> bytes:
    return with_doctype(invoice, laughs_subset(), "&e9;")


def quadratic(invoice: bytes) -> bytes:
    """One 100 kB entity referenced 20,000 times (2 GB expanded), under any nesting limit."""
    return with_doctype(invoice, f'<!ENTITY a "{"A" * 100_000}">', "&a;" * 20_000)


def doctype_after_comment(invoice: bytes, subset: str, reference: str) -> bytes:
    """A DTD behind a 100 kB comment, beyond the prolog a quick scan would look at."""
    head = b'<?xml version="1.0"?>\n<!--' + b"x" * 100_000 + b"-->\n"
    dtd = f"<!DOCTYPE Invoice [{subset}]>".encode()
    return head + dtd + renumber(_body(invoice), "§").replace("§".encode(), reference.encode())


def laughs_subset() -> str:
    """Nine levels of ten: ``&e9;`` is a billion ``lol``."""
    return '<!ENTITY e0 "lol">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))


def utf16(data: bytes) -> bytes:
    text = data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    return text.encode("utf-16")  # with its byte order mark


def nested(invoice: bytes, depth: int, number: str) -> bytes:
    """Elements ``depth`` deep inside the invoice (after its number)."""
    inner = b"<x>" * depth + b"</x>" * depth
    return replaced(invoice, NUMBER, b"<cbc:ID>" + number.encode() + b"</cbc:ID>" + inner)


def attributes(invoice: bytes, count: int, number: str) -> bytes:
    """``count`` attributes on the invoice number's element."""
    attrs = " ".join(f'a{i}="{i}"' for i in range(count)).encode()
    return replaced(invoice, NUMBER, b"<cbc:ID " + attrs + b">" + number.encode() + b"</cbc:ID>")


def big_attachment(invoice: bytes, megabytes: int, number: str) -> bytes:
    """The comprehensive invoice with a ``megabytes`` MB attachment (BG-24) in one text node."""
    start = invoice.index(ATTACHMENT) + len(ATTACHMENT)
    end = invoice.index(ATTACHMENT_END)
    blob = base64.b64encode(b"%PDF-1.7\n" + os.urandom(megabytes * 1024 * 1024))
    return renumber(invoice[:start], number) + blob + invoice[end:]


def renumber_cii(data: bytes, number: str) -> bytes:
    return replaced(data, b"<ram:ID>1234567</ram:ID>",
                    b"<ram:ID>" + escaped(number) + b"</ram:ID>")


def cii(content: str) -> bytes:
    return CII_ROOT.format(content).encode()


# ------------------------------------------------------------------ PDF


def pdf(name: bytes, stream: bytes, flate: bool = False) -> bytes:
    """A one-page PDF whose embedded file ``name`` has the stream ``stream`` (raw bytes as
    written: with ``flate`` they are the compressed form)."""
    filt = b"/Filter /FlateDecode " if flate else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(" + name
        + b") 4 0 R] >> >> >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /Filespec /F (" + name + b") /UF (" + name + b") /EF << /F 5 0 R >> >>",
        b"<< /Type /EmbeddedFile " + filt + b"/Length %d >>\nstream\n" % len(stream) + stream
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def zeros_deflated(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros as a zlib stream (about 1:1000), made without deflating them
    all: after a full flush, every further MB of zeros deflates to the same bytes."""
    packer = zlib.compressobj(1)
    chunk = bytes(1024 * 1024)
    first = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush()[:-4]  # the last, empty block; the checksum is the whole stream's
    checksum = 1
    for _ in range(megabytes):
        checksum = zlib.adler32(chunk, checksum)
    return first + again * (megabytes - 1) + end + checksum.to_bytes(4, "big")


# ------------------------------------------------------------------ ZIP


def zipped(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, method)
    return buf.getvalue()


def zip_of_zips(levels: int, width: int, leaf: bytes) -> bytes:
    """42.zip in small: ``width`` copies of the level below, ``levels`` deep; the leaves
    deflated, the ZIPs stored (a ZIP does not deflate further)."""
    data = zipped([(f"{i}.xml", leaf) for i in range(width)])
    for level in range(1, levels):
        data = zipped([(f"l{level}-{i}.zip", data) for i in range(width)], zipfile.ZIP_STORED)
    return data


def many_entries(count: int) -> bytes:
    """A ZIP of ``count`` empty files, its headers packed directly (``zipfile`` takes seconds
    for 20,000)."""
    local, central = bytearray(), bytearray()
    for i in range(count):
        name = f"e{i}.txt".encode()
        offset = len(local)
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0,
                             len(name), 0) + name
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0,
                               len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central),
                      len(local), 0)
    return bytes(local + central + end)


def lying_size(true_megabytes: int, claimed: int) -> bytes:
    """One member that inflates to ``true_megabytes`` MB but claims ``claimed`` bytes in both
    its local header and the central directory."""
    data = zipped([("invoice.xml", bytes(true_megabytes * 1024 * 1024))])
    true = (true_megabytes * 1024 * 1024).to_bytes(4, "little")
    assert data.count(true) == 2  # the local header and the central directory entry
    return data.replace(true, claimed.to_bytes(4, "little"))


def corpus_bytes(corpus: Path, name: str) -> bytes:
    return (corpus / name).read_bytes()
