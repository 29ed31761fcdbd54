"""Documents the validation engine could not decide are validated again, never left waiting.

An invoice stays ``received`` (verdict ``undefined``) when a rule could not run on a schema-valid
document that no rule found an error in. ``revalidate_received`` reads each such original from
the archive again, validates it by the rule release in force on the day it was received (as
ingest did) and asks the lifecycle what it becomes. A move is written as ingest writes it: the
case's verdict, its findings and an audit event, in one transaction, under a version check so
that a concurrent run (or a person) wins cleanly. Still undefined: nothing is written; the next
run tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from einvoice.context import Context
from einvoice.lifecycle import Status
from einvoice.lifecycle.ingest import status_after_revalidation
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
    sha256: str
    filename: str | None
    submission_id: int
    channel: str
    received_at: datetime


def revalidate_received(ctx: Context, check: Callable[[], None] = lambda: None) -> Revalidated:
    """Validate every received invoice again, oldest first; ``check`` runs before each one
    (the scheduler's stop flag)."""
    done = Revalidated()
    for case in _waiting(ctx.engine):
        check()
        report = examine(ctx.archive.get(case.sha256), ctx.settings, case.filename,
                         case.received_at).report
        after = status_after_revalidation(Status.RECEIVED,
                                          report.verdict if report else None)
        if report is None or after is None or not _move(ctx.engine, case, report, after):
            done.waiting.append(case.invoice_id)
            continue
        done.moved[case.invoice_id] = after.value
        if after is Status.INVALID:
            done.rejected_submissions[case.submission_id] = case.channel
    return done


def _waiting(engine: Engine) -> list[_Waiting]:
    query = (select(col(t.Invoice.id), col(t.Invoice.version), col(t.Document.sha256),
                    col(t.Document.filename), col(t.Document.submission_id),
                    col(t.Submission.channel), col(t.Submission.received_at))
             .join(t.Document, col(t.Document.id) == col(t.Invoice.document_id))
             .join(t.Submission, col(t.Submission.id) == col(t.Document.submission_id))
             .where(col(t.Invoice.status) == Status.RECEIVED.value)
             .order_by(col(t.Invoice.id)))
    with engine.connect() as conn:
        return [_Waiting(inv_id, version, sha, name, sub_id, channel, at)
                for inv_id, version, sha, name, sub_id, channel, at in conn.execute(query).all()
                if inv_id is not None]


def any_waiting(engine: Engine) -> bool:
    """Is any invoice left received? (A cheap look before a run is worth recording.)"""
    query = select(col(t.Invoice.id)).where(col(t.Invoice.status) == Status.RECEIVED.value)
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None


def _move(engine: Engine, case: _Waiting, report: Report, after: Status) -> bool:
    """Write the new verdict, findings and the audit event; False when the invoice changed
    meanwhile (then whoever changed it decided)."""
    for attempt in range(retry.ATTEMPTS):
        try:
            with engine.begin() as conn:
                moved = conn.execute(
                    update(t.Invoice)
                    .where(col(t.Invoice.id) == case.invoice_id,
                           col(t.Invoice.version) == case.version,
                           col(t.Invoice.status) == Status.RECEIVED.value)
                    .values(status=after.value, verdict=report.verdict.value,
                            scenario=report.scenario, error=report.error,
                            rule_release=report.release, profile=report.profile,
                            version=case.version + 1,
                            updated_at=utcnow()))
                if moved.rowcount != 1:
                    return False
                conn.execute(delete(t.Finding).where(col(t.Finding.invoice_id) == case.invoice_id))
                if report.findings:
                    conn.execute(insert(t.Finding), finding_rows(case.invoice_id, report.findings))
                chain.append(conn, invoice_id=case.invoice_id, actor=SYSTEM, action=ACTION,
                             before=Status.RECEIVED.value, after=after.value, reason=report.error,
                             detail={"verdict": report.verdict.value, "release": report.release})
            return True
        except DBAPIError as exc:
            if not retry.is_conflict(exc):
                raise
            retry.pause(attempt)  # the audit chain head moved: try again
    return False


def finding_rows(invoice_id: int, findings: list[Finding]) -> list[dict[str, Any]]:
    """The stored form of findings (as ingest stores them)."""
    return [{"invoice_id": invoice_id, "rule_id": f.rule_id, "flag": f.flag.value,
             "level": f.effective.value, "term": f.term, "location": f.location, "line": f.line,
             "pack": f.pack, "message": f.message} for f in findings]
