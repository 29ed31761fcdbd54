"""IMAP intake: every message in a configured mailbox becomes one submission.

The database is the truth, the mailbox only a queue. Per message: the raw bytes go to the
archive, its candidates through ``ingest_parts``, then a ``MailMessage`` row (UIDVALIDITY + UID
+ content hash + Message-ID) is committed; only then, batch by batch, is the message moved (or
flagged) to the processed or failed folder and the row marked moved. A poll cut short anywhere
is finished by the next one: unmoved rows are moved first, unrecorded UIDs are fetched again
(ingest is idempotent), and a rebuilt mailbox (new UIDVALIDITY) is re-scanned with content hash
and Message-ID deduplication.
"""

from __future__ import annotations

import imaplib
import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from imapclient import IMAPClient  # type: ignore[import-untyped]
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from einvoice.config import Mailbox
from einvoice.context import Context
from einvoice.errors import ConfigError
from einvoice.intake import mime
from einvoice.lifecycle import MAIL_CHANNEL
from einvoice.notify import outbox as notify
from einvoice.pipeline import Submission, ingest_parts
from einvoice.store.archive import sha256_hex
from einvoice.store.db import session_scope
from einvoice.store.tables import MailMessage
from einvoice.store.types import utcnow

CHANNEL = MAIL_CHANNEL  # its sender is checked against the seller (``lifecycle.binding``)
PROCESSED = "processed"
DUPLICATE = "duplicate"
FAILED = "failed"
NO_INVOICE = "no-invoice"
TOO_LARGE = "too-large"
GOOD = frozenset({PROCESSED, DUPLICATE})
FLAGS = {True: b"$EinvoiceProcessed", False: b"$EinvoiceFailed"}
TIMEOUT = 60.0
Progress = Callable[[int, int], None]  # (messages done, messages to do)


@dataclass
class MessageResult:
    """What became of one message."""

    uid: int
    outcome: str
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    submission_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in GOOD


@dataclass
class MailboxReport:
    """One mailbox's poll: the messages handled, and the error that cut it short, if any."""

    mailbox: str
    messages: list[MessageResult] = field(default_factory=list)
    moved: int = 0
    error: str | None = None


def password(box: Mailbox) -> str:
    """The mailbox password from the settings, a file or an environment variable."""
    if box.password is not None:
        return box.password
    if box.password_file is not None:
        try:
            return box.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"mailbox {box.name}: password file: {exc}") from exc
    if box.password_env is not None and box.password_env in os.environ:
        return os.environ[box.password_env]
    raise ConfigError(f"mailbox {box.name}: no password (password, password_file or "
                      "password_env)")


def connect(box: Mailbox) -> IMAPClient:
    """A logged-in client with the read folder selected and the target folders present."""
    client = IMAPClient(box.host, box.port, ssl=box.security == "tls", timeout=TIMEOUT)
    client.normalise_times = False
    if box.security == "starttls":
        client.starttls(ssl.create_default_context())
    client.login(box.user, password(box))
    for folder in _targets(box):
        if not client.folder_exists(folder):
            client.create_folder(folder)
    return client


def _targets(box: Mailbox) -> list[str]:
    if box.after_commit == "flag":
        return []
    return [f for f in (box.processed_folder, box.failed_folder) if f]


def poll(ctx: Context, box: Mailbox, progress: Progress | None = None) -> MailboxReport:
    """Process every new message of one mailbox; a server or connection error ends the poll
    and is reported (the next poll finishes the work)."""
    report = MailboxReport(box.name)
    try:
        client = connect(box)
    except (imaplib.IMAP4.error, OSError) as exc:
        report.error = f"cannot connect to {box.host}:{box.port}: {exc}"
        return report
    try:
        _poll(ctx, box, client, report, progress)
    except (imaplib.IMAP4.error, OSError) as exc:
        report.error = f"connection to {box.host}:{box.port} failed: {exc}"
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            client.shutdown()
    return report


def _poll(ctx: Context, box: Mailbox, client: IMAPClient, report: MailboxReport,
          progress: Progress | None) -> None:
    uidvalidity = int(client.select_folder(box.folder)[b"UIDVALIDITY"])
    report.moved += settle(ctx, box, client, uidvalidity)
    last = _last_uid(ctx, box.name, uidvalidity)
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    for start in range(0, len(uids), box.batch_size):
        batch = uids[start:start + box.batch_size]
        for uid, info in sorted(client.fetch(batch, ["RFC822.SIZE", "INTERNALDATE"]).items()):
            result = _message(ctx, box, client, uidvalidity, uid, info)
            if result is not None:
                report.messages.append(result)
        report.moved += settle(ctx, box, client, uidvalidity)
        if progress is not None:
            progress(start + len(batch), len(uids))


def _message(ctx: Context, box: Mailbox, client: IMAPClient, uidvalidity: int, uid: int,
             info: dict[bytes, object]) -> MessageResult | None:
    """Fetch, ingest and record one message (committed; not yet moved)."""
    size = info.get(b"RFC822.SIZE")
    limit = ctx.settings.max_submission_bytes
    if isinstance(size, int) and size > limit:
        result = MessageResult(uid, TOO_LARGE, problem=f"message of {size} bytes exceeds the "
                               f"limit of {limit} bytes; left on the server, not fetched")
        _record(ctx, box.name, uidvalidity, result, "")
        return result
    raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
    if not isinstance(raw, bytes):
        return None  # expunged by someone else meanwhile: nothing left to take
    arrived = info.get(b"INTERNALDATE")
    result = handle(ctx, raw, uid, arrived if isinstance(arrived, datetime) else None)
    _record(ctx, box.name, uidvalidity, result, sha256_hex(raw))
    return result


def handle(ctx: Context, raw: bytes, uid: int, arrived: datetime | None) -> MessageResult:
    """Ingest one raw message. A copy already recorded (same bytes, or same Message-ID with
    nothing new in it) is a duplicate."""
    letter = mime.parse(raw, ctx.settings.max_xml_bytes)
    result = MessageResult(uid, PROCESSED, letter.sender, letter.subject, letter.message_id)
    seen = _seen(ctx, sha256_hex(raw), letter.message_id)
    if seen is not None and seen[0] == sha256_hex(raw):
        result.outcome, result.submission_id = DUPLICATE, seen[1]
        return result
    # the server's arrival time is the legal date of receipt; the Date header is the sender's
    sub = Submission(raw, CHANNEL, sender=letter.sender, subject=letter.subject,
                     message_id=letter.message_id, received_at=arrived or letter.date or utcnow())
    ingested = ingest_parts(ctx, sub, letter.parts, letter.problem)
    result.submission_id = ingested.submission_id
    notify.queue_for_ingest(ctx, ingested.submission_id)  # receipt / rejection, sent after poll
    errors = [f"{o.filename or 'document'}: {o.error}" for o in ingested.outcomes if o.error]
    if letter.problem or errors:
        result.outcome, result.problem = FAILED, "\n".join(errors) or letter.problem
    elif not letter.parts:
        result.outcome, result.problem = NO_INVOICE, "no invoice attachment or body found"
    elif seen is not None and not any(o.new for o in ingested.outcomes):
        result.outcome = DUPLICATE
    return result


def _seen(ctx: Context, digest: str, message_id: str | None) -> tuple[str, int | None] | None:
    """``(sha256, submission id)`` of an earlier message with these bytes or this Message-ID."""
    match = col(MailMessage.sha256) == digest
    if message_id:
        match = match | (col(MailMessage.message_id) == message_id)
    query = (select(MailMessage.sha256, MailMessage.submission_id).where(match)
             .order_by(col(MailMessage.sha256) != digest))
    with Session(ctx.engine) as s:
        row = s.exec(query).first()
    return None if row is None else (row[0], row[1])


def _last_uid(ctx: Context, mailbox: str, uidvalidity: int) -> int:
    query = select(func.max(MailMessage.uid)).where(
        MailMessage.mailbox == mailbox, MailMessage.uidvalidity == uidvalidity)
    with Session(ctx.engine) as s:
        return s.exec(query).first() or 0


def _record(ctx: Context, mailbox: str, uidvalidity: int, result: MessageResult,
            digest: str) -> None:
    """Commit the message's row; a concurrent poll that recorded it first wins."""
    try:
        with session_scope(ctx.engine) as s:
            s.add(MailMessage(mailbox=mailbox, uidvalidity=uidvalidity, uid=result.uid,
                              message_id=result.message_id, sha256=digest,
                              submission_id=result.submission_id, outcome=result.outcome))
    except IntegrityError:
        pass


def settle(ctx: Context, box: Mailbox, client: IMAPClient, uidvalidity: int) -> int:
    """Move (or flag) every committed but unmoved message of the selected folder; the number
    moved. Safe to repeat: a UID that is gone already is simply not found by the server."""
    query = select(MailMessage).where(
        MailMessage.mailbox == box.name, MailMessage.uidvalidity == uidvalidity,
        col(MailMessage.moved).is_(False))
    with Session(ctx.engine) as s:
        rows = list(s.exec(query))
    for good in (True, False):
        uids = [r.uid for r in rows if (r.outcome in GOOD) is good]
        if uids:
            _act(box, client, uids, good)
    if rows:
        with session_scope(ctx.engine) as s:
            s.exec(update(MailMessage).where(col(MailMessage.id).in_([r.id for r in rows]))
                   .values(moved=True))
    return len(rows)


def _act(box: Mailbox, client: IMAPClient, uids: Sequence[int], good: bool) -> None:
    """The configured after-commit action: move to the folder, or set a keyword."""
    folder = box.processed_folder if good else box.failed_folder
    if box.after_commit == "flag" or not folder:
        client.add_flags(uids, [FLAGS[good]])
    elif client.has_capability("MOVE"):
        client.move(uids, folder)
    else:
        client.copy(uids, folder)
        client.delete_messages(uids)
        client.uid_expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
