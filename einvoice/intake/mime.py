"""Taking a raw e-mail apart: its metadata and every invoice candidate inside it.

Pure stdlib ``email`` (policy ``default``), no network, no database. The parser is lenient and
records defects instead of raising; a message whose structure is broken (or that makes the
parser fail outright) gets a ``problem`` so that intake records it as failed instead of
guessing, while every candidate that could still be taken out is kept. A message with more
multipart containers than ``MAX_MULTIPARTS`` is not taken apart at all (only its headers are
read): parsing nested ones costs time for every line at every level.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import PurePosixPath

from einvoice.errors import InputError
from einvoice.formats.detect import Container, Kind, sniff
from einvoice.formats.reader import detect_xml

# Content types and file suffixes that name an invoice candidate even when its bytes are broken
# (a broken PDF should be quarantined and seen, not ignored like a logo).
CANDIDATE_TYPES = frozenset({
    "application/xml", "text/xml", "application/pdf", "application/zip",
    "application/x-zip-compressed", "application/x-pdf"})
CANDIDATE_SUFFIXES = frozenset({".xml", ".pdf", ".zip"})
# Defects that mean the MIME tree itself is unreliable (not just a sloppy header).
STRUCTURAL_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64LengthDefect,
)
EXTENSIONS = {Container.PDF: ".pdf", Container.ZIP: ".zip", Container.XML: ".xml"}
# The stdlib parser checks every line against the boundary of each enclosing multipart: nested
# containers make a message cost (lines x depth) to parse: 900 levels and 40,000 short lines,
# 180 kB, took 4.6 s. Counting the boundary parameters bounds the depth before parsing.
MAX_MULTIPARTS = 50
_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)


@dataclass
class Letter:
    """What intake needs from one message."""

    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    date: datetime | None = None
    parts: list[tuple[str | None, bytes]] = field(default_factory=list)
    problem: str | None = None


def parse(raw: bytes, max_xml_bytes: int) -> Letter:
    """Metadata and candidates of a raw message; never raises on hostile input."""
    letter = Letter()
    try:
        containers = sum(1 for _ in _BOUNDARY.finditer(raw))
        if containers > MAX_MULTIPARTS:
            msg = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
            letter.problem = (f"malformed MIME: {containers} multipart containers, more than "
                              f"{MAX_MULTIPARTS}: refused, nothing unpacked")
        else:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        letter.sender = _address(_header(msg, "From"))
        letter.subject = _header(msg, "Subject")
        letter.message_id = _header(msg, "Message-ID")
        letter.date = _date(_header(msg, "Date"))
        if letter.problem is not None:
            return letter
        defects: list[str] = []
        for index, part in enumerate(msg.walk()):
            candidate = _candidate(part, index, max_xml_bytes)
            if candidate is not None:
                letter.parts.append(candidate)
            # after decoding: a transfer encoding's defects (broken base64) are found only then
            defects += [f"{type(d).__name__}: {d}" for d in part.defects
                        if isinstance(d, STRUCTURAL_DEFECTS)]
        if defects:
            letter.problem = "malformed MIME: " + "; ".join(dict.fromkeys(defects))
    except Exception as exc:  # the stdlib parser raises assorted errors on hostile input
        letter.problem = f"message cannot be parsed: {type(exc).__name__}: {exc}"
    return letter


def _header(msg: Message, name: str) -> str | None:
    """A header as text; a header the parser cannot make sense of counts as absent."""
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError, LookupError):
        return None
    text = " ".join(str(value).split())[:1024] if value is not None else ""
    return text or None


def _address(value: str | None) -> str | None:
    return (parseaddr(value)[1] or value) if value else None


def _date(value: str | None) -> datetime | None:
    try:
        found = parsedate_to_datetime(value) if value else None
    except (ValueError, TypeError):
        return None
    return found if found is not None and found.tzinfo is not None else None


def _candidate(part: Message, index: int, max_xml_bytes: int) -> tuple[str | None, bytes] | None:
    """``(name, bytes)`` when the part may be an invoice: a PDF, ZIP or XML attachment by type,
    name or content, or a body that is an invoice XML. Containers and other parts: ``None``."""
    if part.is_multipart():
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return None
    name = part.get_filename()
    ctype = part.get_content_type()
    shape = sniff(data)
    named = ctype in CANDIDATE_TYPES or (
        name is not None and PurePosixPath(name).suffix.lower() in CANDIDATE_SUFFIXES)
    if not (named or shape in (Container.PDF, Container.ZIP) or
            (shape is Container.XML and _is_invoice_xml(data, max_xml_bytes))):
        return None
    return name or f"part-{index}{EXTENSIONS.get(shape, '.bin')}", data


def _is_invoice_xml(data: bytes, max_xml_bytes: int) -> bool:
    """An unnamed XML part (a body, say) counts only when it is an invoice: HTML bodies and
    stray markup are not candidates."""
    try:
        kind, _root = detect_xml(data, max_xml_bytes)
    except InputError:
        return False
    return kind is not Kind.NOT_AN_INVOICE
