"""Notices to suppliers: an outbox of receipts and rejection notices, sent by SMTP.

Queueing records one ``Notice`` per event; ``event_key`` is unique, so asking twice for the same
event adds nothing. A notice whose text cannot be made is recorded all the same, given up with
the reason (so ``einvoice status`` shows it), and :class:`NotQueued` says so to the caller: a
rejection stands without its notice rather than fail for it.

``send_pending`` claims each due notice with a conditional update (a ``sending since …`` marker
in ``error``, and one more in ``attempts``) before handing it to the server, and sets ``sent_at``
only after the server accepted it. One notice's failure never stops the others: whatever goes
wrong with it (refused, its mail cannot be made, the database) is recorded on it, and it waits
``BACKOFF`` before its next try; after ``MAX_ATTEMPTS`` tries it is given up (``failed_at``, its
error kept). An outage of the server is not the notice's fault: it gives the try back and the
next run tries again. A process that dies between the server's acceptance and that update
leaves a claim which expires after ``LEASE``; the notice then goes out again under the same
Message-ID (and the dead try counts, so a notice that kills its sender is given up in the end).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, and_, not_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Status
from einvoice.notify import text as notify_text
from einvoice.notify.recipient import address, invoice_suspicious, recipient
from einvoice.notify.smtp import Failure, Link
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.views.formatting import count
from einvoice.views.queries import flags, invoice_rows, supplier_for

log = logging.getLogger(__name__)

RECEIPT, INVALID, REJECTED = "receipt", "invalid", "rejected"  # kinds of notice
RECEIPT_CHANNELS = frozenset({"mail"})  # uploads get their receipt in the HTTP answer
CLAIM = "sending since "
LEASE = timedelta(minutes=10)
# the wait after the 1st, 2nd, ... failed try; every later one waits as long as the last
BACKOFF = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6),
           timedelta(days=1))
MAX_ATTEMPTS = 8  # tries before a notice is given up (about three days)
GIVEN_UP = "aufgegeben / given up after {} attempts: "
Clock = Callable[[], datetime]


class NotQueued(Exception):
    """A notice could not be made; it is recorded as given up, with the reason."""


@dataclass
class SendReport:
    """What one ``send_pending`` run did."""

    configured: bool
    sent: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        """For logs and tests (the CLI says it in German and English)."""
        if not self.configured:
            return (f"SMTP not configured: {count(self.pending, 'notice', 'notices')} "
                    "recorded, not sent")
        text = f"{count(self.sent, 'notice', 'notices')} sent, {self.failed} failed"
        return text + "".join(f"\n  {e}" for e in self.errors)


# ------------------------------------------------------------------ queueing

def queue_for_ingest(ctx: Context, submission_id: int) -> list[int]:
    """Record the notices an ingested submission calls for: a receipt to the sender of a
    mailed submission (``smtp.send_receipts``) and a notice for each invalid invoice in it
    (see ``recipient`` for where that goes).
    Returns the ids of the notices this call added; each is committed on its own, so a notice
    another process recorded first is skipped, not an error, and one that cannot be made is
    recorded as given up without keeping the others from being queued."""
    with Session(ctx.engine) as s:
        sub = s.get(t.Submission, submission_id)
        if sub is None:
            raise NotFound(f"no submission with id {submission_id}")
        cases = list(s.exec(
            select(t.Document, t.Invoice)
            .join(t.Invoice, col(t.Invoice.document_id) == col(t.Document.id))
            .where(col(t.Document.submission_id) == submission_id)
            .order_by(col(t.Document.id))).all())
        invalid_ids = [inv.id for _, inv in cases if inv.status == Status.INVALID]
        findings = list(s.exec(select(t.Finding)
                               .where(col(t.Finding.invoice_id).in_(invalid_ids))
                               .order_by(col(t.Finding.id))).all())
        suppliers = {inv.id: supplier_for(s, inv.seller_vat_id, inv.seller_name)
                     for _, inv in cases if inv.id in invalid_ids}
        uploader = _uploader(s, sub)
    wanted: list[tuple[str, str, str | None, Callable[[], notify_text.Text], int | None]] = []
    smtp = ctx.settings.smtp
    sender = address(sub.sender)
    if (cases and sender and sub.channel in RECEIPT_CHANNELS and smtp is not None
            and smtp.send_receipts):
        wanted.append((f"receipt:submission:{submission_id}", RECEIPT, sender,
                       partial(notify_text.receipt, sub, cases, zone=ctx.settings.zone), None))
    for _, inv in cases:
        if inv.status != Status.INVALID or inv.id is None:
            continue
        own = [f for f in findings if f.invoice_id == inv.id]
        supplier = suppliers[inv.id]
        wanted.append((f"invalid:invoice:{inv.id}", INVALID,
                       recipient(sub, inv, supplier, ctx.settings.finance_office_email,
                                 uploader),
                       partial(notify_text.invalid, sub, inv, own, zone=ctx.settings.zone,
                               redirected=_redirected(inv, supplier)), inv.id))
    added: list[int] = []
    for key, kind, to, make, invoice_id in wanted:
        try:
            with Session(ctx.engine) as s:
                try:
                    notice_id = _record(s, key, kind, to, make, sub, invoice_id)
                except NotQueued:
                    notice_id = None  # recorded as given up (and logged) by _record
                s.commit()
        except IntegrityError:  # a concurrent caller recorded the same event first
            continue
        if notice_id is not None:
            added.append(notice_id)
    return added


def queue_rejection(conn: Connection, invoice_id: int, reason: str, zone: ZoneInfo,
                    finance_office: str | None = None) -> int | None:
    """Record the notice that a person rejected the invoice, with the reason, in the caller's
    transaction (the rejection's own, so the two are written together or not at all). Returns
    its id, or None when it was recorded before or there is no address to send it to; raises
    :class:`NotQueued` (the transaction still usable) when its text cannot be made.
    ``finance_office`` is the setting ``finance_office_email`` (see ``recipient``)."""
    with Session(bind=conn) as s:
        inv, _doc, sub = invoice_rows(s, invoice_id)
        supplier = supplier_for(s, inv.seller_vat_id, inv.seller_name)
        return _record(s, f"rejected:invoice:{invoice_id}", REJECTED,
                       recipient(sub, inv, supplier, finance_office, _uploader(s, sub)),
                       partial(notify_text.rejected, sub, inv, reason, zone=zone,
                               redirected=_redirected(inv, supplier)), sub, invoice_id)


def _uploader(s: Session, sub: t.Submission) -> t.Supplier | None:
    """The supplier whose token uploaded the submission (None for other channels)."""
    return s.get(t.Supplier, sub.supplier_id) if sub.supplier_id is not None else None


def _redirected(inv: t.Invoice, supplier: t.Supplier | None) -> list[str]:
    """The supplier warnings that send a notice to the finance office (none: to the supplier,
    at the address on file when the invoice is suspicious)."""
    on_file = supplier is not None and address(supplier.email) is not None
    return flags(inv, supplier) if invoice_suspicious(inv, supplier) and not on_file else []


def _record(s: Session, key: str, kind: str, to: str | None,
            make: Callable[[], notify_text.Text], sub: t.Submission,
            invoice_id: int | None) -> int | None:
    """Add the notice for ``key`` in ``s`` unless it exists or there is nobody to send it to;
    the id when this call added it. A text that cannot be made: the notice is added as given
    up, with the reason, and :class:`NotQueued` raised."""
    if to is None:
        log.warning("no address for notice %s (submission %s via %s)", key, sub.id, sub.channel)
        return None
    if s.exec(select(t.Notice.id).where(t.Notice.event_key == key)).first() is not None:
        return None
    try:
        text = make()
    except Exception as exc:  # a template, a value it cannot show: this notice only
        log.exception("notice %s could not be made", key)
        error = f"the notice could not be made: {exc!r}"
        s.add(t.Notice(event_key=key, kind=kind, recipient=to, subject=key, body="",
                       submission_id=sub.id, invoice_id=invoice_id, failed_at=utcnow(),
                       error=GIVEN_UP.format(0) + error))
        s.flush()
        raise NotQueued("die Nachricht an den Lieferanten konnte nicht gespeichert werden / "
                        f"the notice to the supplier could not be queued ({error})") from exc
    notice = t.Notice(event_key=key, kind=kind, recipient=to, subject=text.subject,
                      body=text.body, submission_id=sub.id, invoice_id=invoice_id)
    s.add(notice)
    s.flush()
    return notice.id


# ------------------------------------------------------------------ sending

def send_pending(ctx: Context, *, now: Clock = utcnow) -> SendReport:
    """Send every due notice that no other process is sending (see the module's docstring);
    without SMTP settings, count them only. ``now``: the clock (tests move it)."""
    smtp = ctx.settings.smtp
    due = _due(ctx.engine, now())
    if smtp is None:
        return SendReport(configured=False, pending=len(due))
    report = SendReport(configured=True)
    token = uuid.uuid4().hex[:12]
    link = Link(smtp)
    try:
        for notice_id in due:
            try:
                _send_one(ctx.engine, notice_id, link, token, now, report)
            except Exception as exc:  # the database, say: the notice waits for the next run
                log.exception("notice %s", notice_id)
                report.failed += 1
                report.errors.append(f"notice {notice_id}: {exc!r}")
    finally:
        link.close()
    return report


def _send_one(engine: Engine, notice_id: int, link: Link, token: str, now: Clock,
              report: SendReport) -> None:
    """Claim, send and record one notice (nothing when another process has it or sent it)."""
    at = now()
    claim = f"{CLAIM}{at:%Y-%m-%dT%H:%M:%S}Z {token}"
    claimed = _claim(engine, notice_id, claim, at)
    if claimed is None:
        return
    notice, in_reply_to = claimed
    if notice.attempts > MAX_ATTEMPTS:  # its last tries died with their process
        failure: Failure | None = Failure("the process sending it stopped before an answer",
                                          own=True)
    else:
        failure = link.send(notice, in_reply_to)
    error = _finish(engine, notice, claim, failure, now())
    if error is None:
        report.sent += 1
    else:
        report.failed += 1
        report.errors.append(f"notice {notice_id}: {error}")


def _unclaimed(at: datetime) -> ColumnElement[bool]:
    """Unsent, not given up, its back-off over, and not being sent by anyone (or their claim
    has expired)."""
    error = col(t.Notice.error)
    stale = f"{CLAIM}{at - LEASE:%Y-%m-%dT%H:%M:%S}"
    waits = col(t.Notice.next_attempt_at)
    return and_(col(t.Notice.sent_at).is_(None), col(t.Notice.failed_at).is_(None),
                or_(waits.is_(None), waits <= at),
                or_(error.is_(None), not_(error.startswith(CLAIM)), error < stale))


def _due(engine: Engine, at: datetime) -> list[int]:
    with Session(engine) as s:
        return [i for i in s.exec(select(t.Notice.id).where(_unclaimed(at))
                                  .order_by(col(t.Notice.id))).all() if i is not None]


def _claim(engine: Engine, notice_id: int, claim: str, at: datetime
           ) -> tuple[t.Notice, str | None] | None:
    """Take the notice for this try; None when another process has it or it was sent."""
    with Session(engine, expire_on_commit=False) as s:
        done = s.connection().execute(update(t.Notice)
                                      .where(col(t.Notice.id) == notice_id, _unclaimed(at))
                                      .values(error=claim, attempts=col(t.Notice.attempts) + 1))
        if done.rowcount != 1:
            return None
        notice = s.get(t.Notice, notice_id)
        assert notice is not None
        sub = s.get(t.Submission, notice.submission_id) if notice.submission_id else None
        s.commit()
    in_reply_to = sub.message_id if sub is not None and sub.channel == "mail" else None
    return notice, in_reply_to


def _finish(engine: Engine, notice: t.Notice, claim: str, failure: Failure | None,
            at: datetime) -> str | None:
    """Record the try, if this run still holds the claim: sent; failed, to be tried again
    after its back-off or given up; or not tried for the server's sake (the try given back).
    Returns the error recorded (None: sent)."""
    error = None if failure is None else failure.error
    values: dict[str, Any] = {}
    if failure is None:
        values["sent_at"] = at
    elif not failure.own:
        values["attempts"] = col(t.Notice.attempts) - 1
    elif notice.attempts >= MAX_ATTEMPTS:
        values["failed_at"] = at
        error = GIVEN_UP.format(notice.attempts) + failure.error
    else:
        values["next_attempt_at"] = at + BACKOFF[min(notice.attempts, len(BACKOFF)) - 1]
    with engine.begin() as conn:
        conn.execute(update(t.Notice)
                     .where(col(t.Notice.id) == notice.id, col(t.Notice.error) == claim)
                     .values(error=error, **values))
    return error
