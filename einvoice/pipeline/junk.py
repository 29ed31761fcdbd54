"""Originals of junk removed from the archive once their retention has passed.

Junk is a submission that held no invoice of any kind (``lifecycle.retention``); its cases stay
in the database (what arrived, when, why it was refused), only the bytes go. A file is removed
only when nothing that is kept refers to it (the archive is content-addressed: the same bytes
may also be the original of another submission or a document elsewhere). Per submission, the
files go first, then the submission is marked and an audit event written in one transaction:
a run killed in between finds the files gone and records it the next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, exists, select, update
from sqlmodel import col

from einvoice.context import Context
from einvoice.lifecycle.retention import JUNK_KINDS, JUNK_STATUSES, junk_cutoff
from einvoice.pipeline.persist import SYSTEM
from einvoice.store import chain, retry
from einvoice.store import tables as t
from einvoice.store.types import utcnow

ACTION = "remove-junk"
BATCH = 200


@dataclass
class Removed:
    """What one run removed: submission id → the digests whose files went."""

    submissions: dict[int, list[str]] = field(default_factory=dict)
    bytes: int = 0


def remove_junk(ctx: Context, check: Callable[[], None] = lambda: None) -> Removed:
    """Remove the originals of every junk submission received before the retention cutoff;
    ``check`` runs before each one (the scheduler's stop flag)."""
    days = ctx.settings.junk_retention_days
    cutoff = junk_cutoff(utcnow(), days)
    done = Removed()
    after = 0
    while batch := _candidates(ctx.engine, cutoff, after):
        for sub_id, digests in batch:
            check()
            after = sub_id
            done.bytes += sum(ctx.archive.remove(d) for d in digests)
            if _record(ctx.engine, sub_id, digests, days) and digests:
                done.submissions[sub_id] = digests
    return done


def _candidates(engine: Engine, cutoff: datetime, after: int) -> list[tuple[int, list[str]]]:
    """Up to ``BATCH`` junk submissions past the cutoff (ids above ``after``), each with the
    digests only it refers to. Junk: no case of it is of a kind that may hold an invoice, or
    not ended (a container without a case of its own does not count)."""
    not_junk = (select(col(t.Document.id))
                .join(t.Invoice, col(t.Invoice.document_id) == col(t.Document.id))
                .where(col(t.Document.submission_id) == col(t.Submission.id),
                       col(t.Document.kind).not_in(JUNK_KINDS)
                       | col(t.Invoice.status).not_in(JUNK_STATUSES)))
    query = (select(col(t.Submission.id), col(t.Submission.sha256))
             .where(col(t.Submission.id) > after,
                    col(t.Submission.received_at) < cutoff,
                    col(t.Submission.archive_removed_at).is_(None),
                    ~exists(not_junk))
             .order_by(col(t.Submission.id)).limit(BATCH))
    found: list[tuple[int, list[str]]] = []
    with engine.connect() as conn:
        for sub_id, sha in conn.execute(query).all():
            assert sub_id is not None
            docs = conn.execute(select(col(t.Document.sha256), col(t.Document.xml_sha256))
                                .where(col(t.Document.submission_id) == sub_id)).all()
            digests = {sha} | {d for row in docs for d in row if d}
            found.append((sub_id, sorted(digests - _kept_elsewhere(conn, sub_id, digests))))
    return found


def _kept_elsewhere(conn: Connection, sub_id: int, digests: set[str]) -> set[str]:
    """The digests another submission, or a document of one, refers to as well."""
    docs = conn.execute(
        select(col(t.Document.sha256), col(t.Document.xml_sha256))
        .where(col(t.Document.submission_id) != sub_id,
               col(t.Document.sha256).in_(digests) | col(t.Document.xml_sha256).in_(digests)))
    subs = conn.execute(select(col(t.Submission.sha256))
                        .where(col(t.Submission.id) != sub_id,
                               col(t.Submission.sha256).in_(digests)))
    return {d for row in docs for d in row if d} | {sha for (sha,) in subs}


def _record(engine: Engine, sub_id: int, digests: list[str], days: int) -> bool:
    """Mark the submission and write the audit event (none when no file went); False when
    another run did."""
    def write(conn: Connection) -> bool:
        marked = conn.execute(
            update(t.Submission)
            .where(col(t.Submission.id) == sub_id, col(t.Submission.archive_removed_at).is_(None))
            .values(archive_removed_at=utcnow()))
        if marked.rowcount != 1:
            return False
        if digests:  # none: every file is another's too, nothing was removed
            chain.append(conn, invoice_id=None, actor=SYSTEM, action=ACTION, before=None,
                         after=None, reason=f"kein Rechnungsinhalt, nach {days} Tagen "
                         f"entfernt / no invoice in it, removed after {days} days",
                         detail={"submission_id": sub_id, "sha256": digests})
        return True
    return retry.in_transaction(engine, write)
