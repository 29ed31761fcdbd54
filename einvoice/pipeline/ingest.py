"""``ingest(submission)``: store the original, then detect, read and persist each document.

Order of work is what makes "nothing lost, nothing twice" hold under crashes:
1. the raw bytes go to the content-addressed archive (atomic, fsynced) before anything else,
   unless the sender's archive quota for the day is used up (``quota``): then nothing is kept;
2. a ZIP (also one in a mail) is taken apart within one budget for the whole submission before
   any document is written (``formats.ziparchive``): a submission beyond it becomes one
   quarantined case of its original, nothing more unpacked;
3. every document is persisted in its own transaction (the submission row with the first one),
   unique by its SHA-256, so a re-run after kill -9 skips what was committed and finishes the
   rest (``batch.ingest_batch`` writes many single-document submissions in one).
Besides the original only what was read as an invoice is archived: anything else in a
submission can be unpacked from its original again, so a bomb of junk costs no disk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from einvoice.config import Settings
from einvoice.context import Context
from einvoice.errors import OverBudget, QuotaExceeded, TooLarge
from einvoice.formats.detect import Container, Kind, sniff
from einvoice.formats.reader import Reading, read_document
from einvoice.formats.ziparchive import Budget, Opened, open_zip
from einvoice.lifecycle import Status
from einvoice.pipeline import quota
from einvoice.pipeline.persist import Leaf, persist_leaf
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

    def __post_init__(self) -> None:
        """A NUL in a file name, sender, subject or Message-ID (any channel can send one) is
        kept as the visible ␀: PostgreSQL text cannot hold NUL and would refuse the record."""
        for name in ("filename", "sender", "subject", "message_id"):
            value = getattr(self, name)
            if value is not None and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", "\u2400"))


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


def reference(sub: Submission, digest: str, kept: bool = True) -> SubmissionRef:
    """The submission row's values, to be inserted with its first document."""
    return SubmissionRef(digest, {
        "size": len(sub.data), "channel": sub.channel, "filename": sub.filename,
        "sender": sub.sender, "subject": sub.subject, "message_id": sub.message_id,
        "supplier_id": sub.supplier_id, "received_at": sub.received_at,
        "archive_removed_at": None if kept else sub.received_at})


def _admit(ctx: Context, sub: Submission) -> tuple[str, str | None]:
    """The size check, then the digest and why the quota refuses the submission, if it does."""
    limit = ctx.settings.max_submission_bytes
    if len(sub.data) > limit:
        raise TooLarge(f"submission of {len(sub.data)} bytes exceeds the limit of {limit} bytes")
    digest = sha256_hex(sub.data)
    return digest, quota.refusal(ctx, arrival(sub, digest))


def arrival(sub: Submission, digest: str) -> quota.Arrival:
    """What the quota needs to know of a submission."""
    return quota.Arrival(digest, len(sub.data), sub.supplier_id, sub.sender, sub.channel,
                         sub.received_at)


def _budget(settings: Settings) -> Budget:
    return Budget(settings.max_zip_members, settings.max_zip_total_bytes, settings.max_zip_depth)


def _open(data: bytes, budget: Budget) -> Opened | None:
    """A ZIP taken apart within the submission's budget; None for anything else."""
    return open_zip(data, budget) if sniff(data) is Container.ZIP else None


def _refused(reason: str) -> Examined:
    return Examined(Reading(Kind.NOT_AN_INVOICE, error=reason), None)


def ingest(ctx: Context, sub: Submission, examined: Examined | None = None) -> IngestResult:
    """Store and process one submission; idempotent for the same bytes. ``TooLarge`` (also
    ``QuotaExceeded``) when it is refused before anything is kept.

    ``examined`` is ``examine(sub.data)`` when a worker process has already done it.
    """
    digest, refusal = _admit(ctx, sub)
    if refusal is not None:
        raise QuotaExceeded(refusal)
    ctx.archive.put(sub.data)
    ref = reference(sub, digest)
    outcomes: list[Outcome] = []
    try:
        zipped = _open(sub.data, _budget(ctx.settings))
    except OverBudget as exc:
        zipped, examined = None, Examined(Reading(Kind.ZIP, error=str(exc)), None)
    _process(ctx, ref, None, sub.filename, sub.data, digest, zipped, outcomes, examined, True)
    return IngestResult(records.submission_id(ctx.engine, ref), digest, outcomes)


def ingest_parts(ctx: Context, sub: Submission, parts: Sequence[tuple[str | None, bytes]],
                 problem: str | None = None) -> IngestResult:
    """Store and process a submission that is an envelope (a mail): its raw bytes are the
    submission, each ``(name, bytes)`` part a document of it, all parts and their ZIPs within
    one budget. With no parts the submission is still recorded; ``problem`` (why the envelope
    could not be fully taken apart), a budget exceeded or the quota used up is recorded as a
    quarantined document of the raw bytes, so it shows up as a case and the sender is told
    (over the quota nothing is archived: the message stays in the mailbox). Idempotent like
    ``ingest``.
    """
    digest, refusal = _admit(ctx, sub)
    if refusal is None:
        ctx.archive.put(sub.data)
    ref = reference(sub, digest, kept=refusal is None)
    outcomes: list[Outcome] = []
    opened: list[tuple[str | None, bytes, Opened | None]] = []
    budget = _budget(ctx.settings)
    try:
        if refusal is None:
            budget.take(len(parts), sum(len(data) for _, data in parts))
            opened = [(name, data, _open(data, budget)) for name, data in parts]
    except OverBudget as exc:
        refusal = str(exc)
    for name, data, zipped in opened:
        _process(ctx, ref, None, name, data, sha256_hex(data), zipped, outcomes)
    reason = "; ".join(why for why in (refusal, problem) if why)
    if reason:
        _leaf(ctx, ref, None, sub.filename, sub.data, digest, outcomes, _refused(reason), True)
    return IngestResult(records.submission_id(ctx.engine, ref), digest, outcomes)


def _process(ctx: Context, ref: SubmissionRef, parent_id: int | None, name: str | None,
             data: bytes, digest: str, zipped: Opened | None, outcomes: list[Outcome],
             examined: Examined | None = None, original: bool = False) -> None:
    """Persist one document; a ZIP's members are documents of their own (each idempotent),
    read one at a time; a ZIP that cannot be taken apart is a quarantined document."""
    if zipped is not None and zipped.error is None:
        container_id = records.container(ctx.engine, ref, parent_id, name, len(data), digest,
                                         Kind.ZIP.value)
        for member_name, member in zipped.members:
            inner, member_data = ((member, member.data) if isinstance(member, Opened)
                                  else (None, member.read()))
            _process(ctx, ref, container_id, member_name, member_data, sha256_hex(member_data),
                     inner, outcomes)
        return
    if zipped is not None:
        examined = Examined(Reading(Kind.ZIP, error=zipped.error), None)
    _leaf(ctx, ref, parent_id, name, data, digest, outcomes, examined, original)


def _leaf(ctx: Context, ref: SubmissionRef, parent_id: int | None, name: str | None,
          data: bytes, digest: str, outcomes: list[Outcome], examined: Examined | None,
          original: bool) -> None:
    """Read, validate and persist one document; archived (with its invoice XML) when it was
    read as an invoice, the ``original`` of the submission always is already."""
    known = records.known_outcome(ctx.engine, digest, name)
    if known is not None:
        outcomes.append(known)
        return
    examined = examined or examine(data, ctx.settings, name, ref.values.get("received_at"))
    reading = examined.reading
    taken = reading.invoice is not None
    if taken and not original:
        ctx.archive.put(data)
    xml_sha = None
    if reading.xml is not None and (taken or reading.xml is data):
        xml_sha = digest if reading.xml is data else ctx.archive.put(reading.xml)
    leaf = Leaf(parent_id, name, len(data), digest, reading, examined.report, xml_sha)
    outcomes.append(persist_leaf(ctx.engine, ref, leaf, ctx.settings))


def _read(data: bytes, max_xml_bytes: int) -> Reading:
    """A bug in a reader quarantines the document instead of stopping intake."""
    if not data:
        return Reading(Kind.NOT_AN_INVOICE, error="empty document")
    try:
        return read_document(data, max_xml_bytes)
    except Exception as exc:
        log.exception("reader failed")
        return Reading(Kind.NOT_AN_INVOICE, error=f"internal error while reading: {exc!r}")
