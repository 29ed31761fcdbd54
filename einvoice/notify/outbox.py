"""Notices to suppliers: an outbox of receipts and rejection notices, sent by SMTP.

Queueing records one ``Notice`` per event; ``event_key`` is unique, so asking twice for the same
event adds nothing. ``send_pending`` claims each unsent notice with a conditional update (a
``sending since …`` marker in ``error``) before handing it to the server, and sets ``sent_at`` only
after the server accepted it; a failure is recorded in ``error`` and retried on the next call.
A process that dies between the server's acceptance and that update leaves a claim which expires
after ``LEASE``; the notice then goes out again under the same Message-ID.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, and_, not_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from einvoice.config import Smtp
from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Status
from einvoice.notify import text as notify_text
from einvoice.notify.recipient import address, invoice_suspicious, recipient
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.views.formatting import count
from einvoice.views.queries import flags, invoice_rows, supplier_for

log = logging.getLogger(__name__)

RECEIPT, INVALID, REJECTED = "receipt", "invalid", "rejected"  # kinds of notice
RECEIPT_CHANNELS = frozenset({"mail"})  # uploads get their receipt in the HTTP answer
CLAIM = "sending since "
LEASE = timedelta(minutes=10)
TIMEOUT = 30.0


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
    another process recorded first is skipped, not an error."""
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
                       recipient(sub, inv, supplier, ctx.settings.finance_office_email),
                       partial(notify_text.invalid, sub, inv, own, zone=ctx.settings.zone,
                               redirected=_redirected(inv, supplier)), inv.id))
    added: list[int] = []
    for key, kind, to, make, invoice_id in wanted:
        try:
            with Session(ctx.engine) as s:
                notice_id = _record(s, key, kind, to, make, sub, invoice_id)
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
    its id, or None when it was recorded before or there is no address to send it to.
    ``finance_office`` is the setting ``finance_office_email`` (see ``recipient``)."""
    with Session(bind=conn) as s:
        inv, _doc, sub = invoice_rows(s, invoice_id)
        supplier = supplier_for(s, inv.seller_vat_id, inv.seller_name)
        return _record(s, f"rejected:invoice:{invoice_id}", REJECTED,
                       recipient(sub, inv, supplier, finance_office),
                       partial(notify_text.rejected, sub, inv, reason, zone=zone,
                               redirected=_redirected(inv, supplier)), sub, invoice_id)


def _redirected(inv: t.Invoice, supplier: t.Supplier | None) -> list[str]:
    """The supplier warnings that send a notice to the finance office (none: to the supplier,
    at the address on file when the invoice is suspicious)."""
    on_file = supplier is not None and address(supplier.email) is not None
    return flags(inv, supplier) if invoice_suspicious(inv, supplier) and not on_file else []


def _record(s: Session, key: str, kind: str, to: str | None,
            make: Callable[[], notify_text.Text], sub: t.Submission,
            invoice_id: int | None) -> int | None:
    """Add the notice for ``key`` in ``s`` unless it exists or there is nobody to send it to;
    the id when this call added it."""
    if to is None:
        log.warning("no address for notice %s (submission %s via %s)", key, sub.id, sub.channel)
        return None
    if s.exec(select(t.Notice.id).where(t.Notice.event_key == key)).first() is not None:
        return None
    text = make()
    notice = t.Notice(event_key=key, kind=kind, recipient=to, subject=text.subject,
                      body=text.body, submission_id=sub.id, invoice_id=invoice_id)
    s.add(notice)
    s.flush()
    return notice.id


# ------------------------------------------------------------------ sending

def send_pending(ctx: Context) -> SendReport:
    """Send every unsent notice that no other process is sending; without SMTP settings,
    count them only."""
    smtp = ctx.settings.smtp
    due = _due(ctx.engine)
    if smtp is None:
        return SendReport(configured=False, pending=len(due))
    report = SendReport(configured=True)
    token = uuid.uuid4().hex[:12]
    server: smtplib.SMTP | None = None
    broken: str | None = None  # the connection failed: the rest fail the same way
    try:
        for notice_id in due:
            claim = f"{CLAIM}{utcnow():%Y-%m-%dT%H:%M:%S}Z {token}"
            claimed = _claim(ctx.engine, notice_id, claim)
            if claimed is None:
                continue
            error = broken
            if error is None:
                try:
                    server = server or _connect(smtp)
                    server.send_message(_message(*claimed, smtp.sender))
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                    error = f"refused by {smtp.host}: {exc}"
                except OSError as exc:
                    error = broken = f"SMTP server {smtp.host}:{smtp.port}: {exc!r}"
                    server = None
            _finish(ctx.engine, notice_id, claim, error)
            if error is None:
                report.sent += 1
            else:
                report.failed += 1
                report.errors.append(f"notice {notice_id}: {error}")
    finally:
        if server is not None:
            _quit(server)
    return report


def _connect(smtp: Smtp) -> smtplib.SMTP:
    if smtp.security == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT)
        if smtp.security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if smtp.user:
        server.login(smtp.user, smtp.password or "")
    return server


def _quit(server: smtplib.SMTP) -> None:
    try:
        server.quit()
    except OSError:
        server.close()


def _unclaimed() -> ColumnElement[bool]:
    """Unsent, and not being sent by anyone (or their claim has expired)."""
    error = col(t.Notice.error)
    stale = f"{CLAIM}{utcnow() - LEASE:%Y-%m-%dT%H:%M:%S}"
    return and_(col(t.Notice.sent_at).is_(None),
                or_(error.is_(None), not_(error.startswith(CLAIM)), error < stale))


def _due(engine: Engine) -> list[int]:
    with Session(engine) as s:
        return [i for i in s.exec(select(t.Notice.id).where(_unclaimed())
                                  .order_by(col(t.Notice.id))).all() if i is not None]


def _claim(engine: Engine, notice_id: int, claim: str) -> tuple[t.Notice, str | None] | None:
    """Take the notice for this run; None when another process has it or it was sent."""
    with Session(engine, expire_on_commit=False) as s:
        done = s.connection().execute(update(t.Notice)
                                      .where(col(t.Notice.id) == notice_id, _unclaimed())
                                      .values(error=claim))
        if done.rowcount != 1:
            return None
        notice = s.get(t.Notice, notice_id)
        assert notice is not None
        sub = s.get(t.Submission, notice.submission_id) if notice.submission_id else None
        s.commit()
    in_reply_to = sub.message_id if sub is not None and sub.channel == "mail" else None
    return notice, in_reply_to


def _finish(engine: Engine, notice_id: int, claim: str, error: str | None) -> None:
    """Mark the notice sent (no error) or failed, if this run still holds its claim."""
    values: dict[str, Any] = {"error": error}
    if error is None:
        values["sent_at"] = utcnow()
    with engine.begin() as conn:
        conn.execute(update(t.Notice)
                     .where(col(t.Notice.id) == notice_id, col(t.Notice.error) == claim)
                     .values(**values))


def _message(notice: t.Notice, in_reply_to: str | None, sender: str) -> EmailMessage:
    """The mail; its Message-ID is derived from the notice, so a resend carries the same one."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notice.recipient
    msg["Subject"] = notice.subject
    msg["Date"] = formatdate(localtime=True)
    digest = hashlib.sha256(f"{notice.event_key} {notice.created_at.isoformat()}".encode())
    domain = (address(sender) or "localhost").rpartition("@")[2]
    msg["Message-ID"] = f"<notice.{digest.hexdigest()[:32]}@{domain}>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(notice.body, charset="utf-8")
    return msg
