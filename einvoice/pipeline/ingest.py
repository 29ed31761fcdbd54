"""``ingest(submission)``: store the original, then detect, read and persist each document.

Order of work is what makes "nothing lost, nothing twice" hold under crashes:
1. the raw bytes go to the content-addressed archive (atomic, fsynced) before anything else;
2. every document is persisted in its own transaction (the submission row with the first one),
   unique by its SHA-256, so a re-run after kill -9 skips what was committed and finishes the
   rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from einvoice.config import Settings
from einvoice.context import Context
from einvoice.errors import InputError, TooLarge
from einvoice.formats.detect import Container, Kind, sniff
from einvoice.formats.reader import Reading, read_document
from einvoice.formats.ziparchive import Member, unpack
from einvoice.lifecycle import Status
from einvoice.pipeline.persist import persist_leaf
from einvoice.store import records
from einvoice.store.archive import sha256_hex
from einvoice.store.records import Outcome, SubmissionRef
from einvoice.store.types import utcnow
from einvoice.validation.findings import Report
from einvoice.validation.rulebook import rulebook_for

log = logging.getLogger(__name__)

__all__ = ["IngestResult", "Outcome", "Submission", "ingest", "ingest_parts"]


@dataclass(frozen=True)
class Submission:
    """What arrived through one channel at one moment."""

    data: bytes
    channel: str
    filename: str | None = None
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    supplier_id: int | None = None  # the authenticated uploader, if any
    received_at: datetime = field(default_factory=utcnow)


@dataclass
class IngestResult:
    submission_id: int
    sha256: str
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        """True when every document in the submission could be read."""
        return bool(self.outcomes) and all(o.status != Status.QUARANTINED for o in self.outcomes)


@dataclass(frozen=True)
class Examined:
    """A document read and, when it is an invoice, validated: the CPU-heavy part of ingest,
    which a worker process may do ahead of time."""

    reading: Reading
    report: Report | None


def examine(data: bytes, settings: Settings, name: str | None = None,
            received: datetime | None = None) -> Examined:
    """Read one non-ZIP document and validate it (no database, so any process can do it) by
    the rule release in force on the (local) day it was received, default now."""
    reading = _read(data, settings.max_xml_bytes)
    if reading.invoice is None:
        return Examined(reading, None)
    moment = received or utcnow()
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored times are UTC
    day = moment.astimezone(ZoneInfo(settings.timezone)).date()
    report = rulebook_for(settings).validate(reading, name or "", settings.max_xml_bytes, day)
    return Examined(reading, report)


def _store_original(ctx: Context, sub: Submission) -> tuple[str, SubmissionRef]:
    """The size check and the archived original: what every submission gets first."""
    limit = ctx.settings.max_submission_bytes
    if len(sub.data) > limit:
        raise TooLarge(f"submission of {len(sub.data)} bytes exceeds the limit of {limit} bytes")
    digest = ctx.archive.put(sub.data)
    return digest, SubmissionRef(digest, {
        "size": len(sub.data), "channel": sub.channel, "filename": sub.filename,
        "sender": sub.sender, "subject": sub.subject, "message_id": sub.message_id,
        "supplier_id": sub.supplier_id, "received_at": sub.received_at})


def ingest(ctx: Context, sub: Submission, examined: Examined | None = None) -> IngestResult:
    """Store and process one submission; idempotent for the same bytes.

    ``examined`` is ``examine(sub.data)`` when a worker process has already done it.
    """
    digest, ref = _store_original(ctx, sub)
    outcomes: list[Outcome] = []
    _process(ctx, ref, None, sub.filename, sub.data, digest, 0, outcomes, examined)
    return IngestResult(records.submission_id(ctx.engine, ref), digest, outcomes)


def ingest_parts(ctx: Context, sub: Submission, parts: Sequence[tuple[str | None, bytes]],
                 problem: str | None = None) -> IngestResult:
    """Store and process a submission that is an envelope (a mail): its raw bytes are the
    submission, each ``(name, bytes)`` part a document of it. With no parts the submission is
    still recorded; ``problem`` (why the envelope could not be fully taken apart) is recorded as
    a quarantined document of the raw bytes, so a broken envelope shows up as a case.
    Idempotent like ``ingest``.
    """
    digest, ref = _store_original(ctx, sub)
    outcomes: list[Outcome] = []
    for name, data in parts:
        _process(ctx, ref, None, name, data, ctx.archive.put(data), 0, outcomes)
    if problem is not None:
        broken = Examined(Reading(Kind.NOT_AN_INVOICE, error=problem), None)
        _process(ctx, ref, None, sub.filename, sub.data, digest, 0, outcomes, broken)
    return IngestResult(records.submission_id(ctx.engine, ref), digest, outcomes)


def _process(ctx: Context, ref: SubmissionRef, parent_id: int | None, name: str | None,
             data: bytes, digest: str, depth: int, outcomes: list[Outcome],
             examined: Examined | None = None) -> None:
    """Persist one document; ZIPs recurse into their members (each idempotent on its own)."""
    if sniff(data) is Container.ZIP:
        members_or_error = _unpack(ctx, data, depth)
        if not isinstance(members_or_error, str):
            if depth:
                ctx.archive.put(data)
            container_id = records.container(ctx.engine, ref, parent_id, name, len(data), digest,
                                             Kind.ZIP.value)
            for member in members_or_error:
                _process(ctx, ref, container_id, member.name, member.data,
                         sha256_hex(member.data), depth + 1, outcomes)
            return
        examined = Examined(Reading(Kind.ZIP, error=members_or_error), None)
    known = records.known_outcome(ctx.engine, digest, name)
    if known is not None:
        outcomes.append(known)
        return
    if depth:
        ctx.archive.put(data)
    examined = examined or examine(data, ctx.settings, name, ref.values.get("received_at"))
    reading = examined.reading
    xml_sha = None
    if reading.xml is not None:
        xml_sha = digest if reading.xml is data else ctx.archive.put(reading.xml)
    outcomes.append(persist_leaf(ctx.engine, ref, parent_id, name, len(data), digest, reading,
                                 examined.report, xml_sha, ctx.settings))


def _unpack(ctx: Context, data: bytes, depth: int) -> list[Member] | str:
    """The members of a ZIP, or why it cannot be taken apart."""
    settings = ctx.settings
    if depth > settings.max_zip_depth:
        return f"ZIP nested deeper than {settings.max_zip_depth} levels"
    try:
        members = unpack(data, settings.max_zip_members, settings.max_zip_total_bytes)
    except InputError as exc:
        return str(exc)
    return members or "ZIP archive contains no files"


def _read(data: bytes, max_xml_bytes: int) -> Reading:
    """A bug in a reader quarantines the document instead of stopping intake."""
    if not data:
        return Reading(Kind.NOT_AN_INVOICE, error="empty document")
    try:
        return read_document(data, max_xml_bytes)
    except Exception as exc:
        log.exception("reader failed")
        return Reading(Kind.NOT_AN_INVOICE, error=f"internal error while reading: {exc!r}")
