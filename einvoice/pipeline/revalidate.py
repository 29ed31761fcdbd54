"""Documents the validation engine could not decide are validated again, never left waiting.

An invoice stays ``received`` (verdict ``undefined``) when a rule could not run on a schema-valid
document that no rule found an error in. ``revalidate_received`` reads each such original that
is due (``lifecycle.revalidation``: a minute after it arrived, then after 5 and 30 minutes, 2
hours, then daily) from the archive again, validates it by the rule release in force on the day
it was received (as ingest did) and asks the lifecycle what it becomes. A move is written as
ingest writes it: the case's verdict, its findings and an audit event, in one transaction, under
a version check so that a concurrent run (or a person) wins cleanly. Still undefined: the
attempt is counted, the next one scheduled and the engine's reason kept; ``waiting`` lists
them for ``einvoice status``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlmodel import col

from einvoice.context import Context
from einvoice.lifecycle import Status
from einvoice.lifecycle.ingest import status_after_revalidation
from einvoice.lifecycle.revalidation import BACKOFF, next_attempt
from einvoice.pipeline.ingest import examine
from einvoice.pipeline.persist import SYSTEM
from einvoice.store import chain, retry
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.validation.findings import Finding, Report

ACTION = "revalidate"


@dataclass
class Revalidated:
    """What one run did: invoices moved on (id → status), those still undecided, and the
    submissions (id → channel) of the invoices now invalid, whose rejection notices are due."""

    moved: dict[int, str] = field(default_factory=dict)
    waiting: list[int] = field(default_factory=list)
    rejected_submissions: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Waiting:
    invoice_id: int
    version: int
    attempts: int
    sha256: str
    filename: str | None
    submission_id: int
    channel: str
    received_at: datetime
    unbound: bool  # ingest found the channel does not speak for the seller: on hold, not pending


@dataclass(frozen=True)
class Waiting:
    """Documents received but undecided: how many, and the one waiting longest."""

    count: int
    oldest_id: int | None = None
    oldest_received_at: datetime | None = None
    oldest_attempts: int = 0
    oldest_next_at: datetime | None = None
    oldest_error: str | None = None


def revalidate_received(ctx: Context, check: Callable[[], None] = lambda: None) -> Revalidated:
    """Validate every received invoice whose next attempt is due again, oldest first; ``check``
    runs before each one (the scheduler's stop flag)."""
    done = Revalidated()
    for case in _due(ctx.engine, utcnow()):
        check()
        report = examine(ctx.archive.get(case.sha256), ctx.settings, case.filename,
                         case.received_at).report
        after = status_after_revalidation(Status.RECEIVED,
                                          report.verdict if report else None, case.unbound)
        if report is None or after is None or not _move(ctx.engine, case, report, after):
            _postpone(ctx.engine, case, report.error if report else None)
            done.waiting.append(case.invoice_id)
            continue
        done.moved[case.invoice_id] = after.value
        if after is Status.INVALID:
            done.rejected_submissions[case.submission_id] = case.channel
    return done


def _is_due(now: datetime) -> Any:
    """Received, and the next attempt due: as scheduled, or (none yet) the first wait after
    the arrival passed."""
    return (col(t.Invoice.status) == Status.RECEIVED.value) & (
        (col(t.Invoice.next_revalidation_at) <= now)
        | (col(t.Invoice.next_revalidation_at).is_(None)
           & (col(t.Invoice.received_at) <= now - BACKOFF[0])))


def _due(engine: Engine, now: datetime) -> list[_Waiting]:
    query = (select(col(t.Invoice.id), col(t.Invoice.version),
                    col(t.Invoice.revalidation_attempts), col(t.Document.sha256),
                    col(t.Document.filename), col(t.Document.submission_id),
                    col(t.Submission.channel), col(t.Submission.received_at),
                    col(t.Invoice.unbound))
             .join(t.Document, col(t.Document.id) == col(t.Invoice.document_id))
             .join(t.Submission, col(t.Submission.id) == col(t.Document.submission_id))
             .where(_is_due(now))
             .order_by(col(t.Invoice.id)))
    with engine.connect() as conn:
        return [_Waiting(inv_id, version, attempts, sha, name, sub_id, channel, at, unbound)
                for inv_id, version, attempts, sha, name, sub_id, channel, at, unbound
                in conn.execute(query).all() if inv_id is not None]


def any_due(engine: Engine) -> bool:
    """Is any received invoice due to be validated again? (A cheap look before a run is worth
    recording.)"""
    with engine.connect() as conn:
        found = conn.execute(select(col(t.Invoice.id)).where(_is_due(utcnow())).limit(1))
        return found.first() is not None


def waiting(engine: Engine) -> Waiting:
    """How many documents wait undecided, and the one waiting longest."""
    received = col(t.Invoice.status) == Status.RECEIVED.value
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.Invoice).where(received))
        oldest = conn.execute(
            select(col(t.Invoice.id), col(t.Invoice.received_at),
                   col(t.Invoice.revalidation_attempts), col(t.Invoice.next_revalidation_at),
                   col(t.Invoice.error))
            .where(received).order_by(col(t.Invoice.received_at), col(t.Invoice.id)).limit(1)
        ).first()
        total = int(count.scalar_one())
    if oldest is None:
        return Waiting(total)
    inv_id, received_at, attempts, next_at, error = oldest
    return Waiting(total, inv_id, received_at, attempts,
                   next_at or next_attempt(0, received_at), error)


def _postpone(engine: Engine, case: _Waiting, error: str | None) -> None:
    """Count the attempt and schedule the next; the engine's latest reason is kept. Not a
    status change (no audit event, no new version): a person acting meanwhile still wins."""
    attempts = case.attempts + 1
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(update(t.Invoice)
                     .where(col(t.Invoice.id) == case.invoice_id,
                            col(t.Invoice.version) == case.version,
                            col(t.Invoice.status) == Status.RECEIVED.value)
                     .values(revalidation_attempts=attempts, error=error,
                             next_revalidation_at=next_attempt(attempts, now)))


def _move(engine: Engine, case: _Waiting, report: Report, after: Status) -> bool:
    """Write the new verdict, findings and the audit event; False when the invoice changed
    meanwhile (then whoever changed it decided)."""
    def write(conn: Connection) -> bool:
        moved = conn.execute(
            update(t.Invoice)
            .where(col(t.Invoice.id) == case.invoice_id, col(t.Invoice.version) == case.version,
                   col(t.Invoice.status) == Status.RECEIVED.value)
            .values(status=after.value, verdict=report.verdict.value, scenario=report.scenario,
                    error=report.error, rule_release=report.release, profile=report.profile,
                    version=case.version + 1, next_revalidation_at=None,
                    revalidation_attempts=case.attempts + 1, updated_at=utcnow()))
        if moved.rowcount != 1:
            return False
        conn.execute(delete(t.Finding).where(col(t.Finding.invoice_id) == case.invoice_id))
        if report.findings:
            conn.execute(insert(t.Finding), finding_rows(case.invoice_id, report.findings))
        chain.append(conn, invoice_id=case.invoice_id, actor=SYSTEM, action=ACTION,
                     before=Status.RECEIVED.value, after=after.value, reason=report.error,
                     detail={"verdict": report.verdict.value, "release": report.release})
        return True
    return retry.in_transaction(engine, write)


def finding_rows(invoice_id: int, findings: list[Finding]) -> list[dict[str, Any]]:
    """The stored form of findings (as ingest stores them)."""
    return [{"invoice_id": invoice_id, "rule_id": f.rule_id, "flag": f.flag.value,
             "level": f.effective.value, "term": f.term, "location": f.location, "line": f.line,
             "pack": f.pack, "message": f.message} for f in findings]
