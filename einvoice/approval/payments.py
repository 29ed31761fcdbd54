"""Payments: an exported invoice becomes ``paid``, with the day it was paid, by hand
(``einvoice paid ID --on DATE``) or from the accounting's bank statement (camt.053).

Recording a payment is a transition like any other (``workflow``): the lifecycle says who may
take it and from where (only an exported invoice is paid: the export hands the payment order to
the accounting), the change is written under a version check with its audit event in one
transaction. A bank statement is read through the hardened parser (``formats.camt``); which
invoice a line pays is the lifecycle's decision (``lifecycle.payments``). Only a line that fits
exactly one invoice records anything; unmatched and ambiguous lines are reported and change
nothing, and each matched line is recorded on its own, so one refusal stops no other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, and_, func, or_
from sqlmodel import Session, col, select

from einvoice import lifecycle
from einvoice.approval import workflow
from einvoice.approval.workflow import Acting, Change, OnBehalf
from einvoice.context import Context
from einvoice.formats.camt import BankLine, read_statement
from einvoice.lifecycle import Action, Candidate, NotPermitted, Role, Status, WorkflowError
from einvoice.store import tables as t

PAID, WOULD_PAY, REFUSED, AMBIGUOUS, UNMATCHED = (
    "paid", "would pay", "refused", "ambiguous", "unmatched")
_CHUNK = 500  # values per IN (...) of the candidate query
T = TypeVar("T")


def local_today(ctx: Context) -> date:
    """Today where the city is (the ``timezone`` setting)."""
    return datetime.now(ctx.settings.zone).date()


def pay(ctx: Context, invoice_id: int, actor: str, paid_on: date | None = None, *,
        detail: dict[str, Any] | None = None, on_behalf: OnBehalf | None = None) -> Change:
    """Record that the exported invoice was paid on ``paid_on`` (default: today); ``detail``
    (where the payment was seen) goes into the audit event."""
    today = local_today(ctx)
    day = paid_on or today

    def decide(conn: Connection, row: Row[Any], acting: Acting) -> tuple[
            str, dict[str, Any], dict[str, Any], str]:
        lifecycle.check_paid_on(day, today, invoice_id)
        return Status.PAID, {"paid_on": day}, {
            "paid_on": day.isoformat(), **(detail or {"source": "manual"})}, (
            f"invoice {invoice_id} paid on {day.isoformat()}")

    return workflow._change(ctx, invoice_id, actor, Action.PAY, decide, on_behalf=on_behalf)


# ------------------------------------------------------------------ bank statements

@dataclass(frozen=True)
class LineResult:
    """What became of one line of the statement."""

    line: BankLine
    outcome: str  # PAID, WOULD_PAY, REFUSED, AMBIGUOUS, UNMATCHED
    invoice_ids: tuple[int, ...]
    message: str


@dataclass(frozen=True)
class Imported:
    statements: tuple[str, ...]
    sha256: str
    results: tuple[LineResult, ...]

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)


def import_statement(ctx: Context, data: bytes, actor: str, *, dry_run: bool = False,
                     on_behalf: OnBehalf | None = None) -> Imported:
    """Match every line of a camt.053 statement and record the payments that fit exactly one
    invoice (``dry_run``: only say what would be recorded). Raises an ``InputError`` for a file
    that is not a readable camt.053 statement; then nothing is recorded."""
    statement = read_statement(data, ctx.settings.max_xml_bytes)
    sha = hashlib.sha256(data).hexdigest()
    found = candidates(ctx, statement.lines)
    status = {c.invoice_id: c.status for c in found}
    results = []
    for line in statement.lines:
        m = lifecycle.match(line, found)
        if not m.invoice_ids:
            results.append(LineResult(line, UNMATCHED, (), m.reason))
        elif m.ambiguous:
            results.append(LineResult(line, AMBIGUOUS, m.invoice_ids, m.reason))
        else:
            results.append(_record(ctx, line, m.invoice_ids[0], actor, status, sha, dry_run,
                                   on_behalf))
    return Imported(statement.ids, sha, tuple(results))


def _record(ctx: Context, line: BankLine, invoice_id: int, actor: str,
            status: dict[int, str], sha: str, dry_run: bool,
            on_behalf: OnBehalf | None) -> LineResult:
    assert line.booking_date is not None  # the lifecycle matches booked lines only
    ids = (invoice_id,)
    try:
        if dry_run:
            lifecycle.check_transition(Action.PAY, status[invoice_id], Role.APPROVER,
                                       invoice_id)
            return LineResult(line, WOULD_PAY, ids, f"invoice {invoice_id} would be paid on "
                              f"{line.booking_date.isoformat()}")
        change = pay(ctx, invoice_id, actor, line.booking_date, detail=bank_detail(line, sha),
                     on_behalf=on_behalf)
    except (WorkflowError, NotPermitted) as exc:
        return LineResult(line, REFUSED, ids, str(exc))
    return LineResult(line, PAID, ids, change.message)


def bank_detail(line: BankLine, sha: str) -> dict[str, Any]:
    """Where a payment was seen, for its audit event."""
    return {"source": "camt.053", "statement": line.statement, "line": line.where,
            "bank_reference": line.entry_ref, "end_to_end_id": line.end_to_end_id,
            "amount": None if line.amount is None else str(line.amount),
            "currency": line.currency, "file_sha256": sha}


def candidates(ctx: Context, lines: Iterable[BankLine]) -> list[Candidate]:
    """The invoices the lines may pay: of a status a payment may belong to, and either of an
    amount one of the lines carries (in full; when not paid, Skonto invoices of any amount) or
    numbered as a line quotes (then a differing amount is said as such)."""
    lines = list(lines)
    amounts = sorted({ln.amount for ln in lines if ln.amount is not None})
    quoted = sorted(_quoted(lines))
    due = func.coalesce(col(t.Invoice.payable), col(t.Invoice.gross_total))  # BT-115, else gross
    found: dict[int, Candidate] = {}
    wheres = [or_(due.in_(chunk), and_(col(t.Invoice.skonto_percent).is_not(None),
                                       col(t.Invoice.status) != Status.PAID))
              for chunk in _chunks(amounts)]
    wheres += [col(t.Invoice.number).in_(chunk) for chunk in _chunks(quoted)]
    with Session(ctx.engine) as s:
        for where in wheres:
            for inv in s.exec(select(t.Invoice).where(
                    col(t.Invoice.status).in_(lifecycle.PAYMENT_CANDIDATES), where)).all():
                if inv.id is not None and inv.id not in found:
                    found[inv.id] = _candidate(inv)
    return [found[i] for i in sorted(found)]


def _quoted(lines: list[BankLine]) -> set[str]:
    """What the lines quote that may be an invoice number: references, and the words of the
    remittance text."""
    out: set[str] = set()
    for ln in lines:
        out.update(r.strip() for r in (ln.end_to_end_id, *ln.references) if r)
        out.update(w.strip(".,;:()") for text in ln.unstructured for w in text.split())
    return {q for q in out if 0 < len(q) <= 256}


def _chunks(values: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def _candidate(inv: t.Invoice) -> Candidate:
    assert inv.id is not None
    model = json.loads(inv.model_json) if inv.model_json else {}
    remittance = (model.get("payment") or {}).get("remittance_information")
    return Candidate(invoice_id=inv.id, status=inv.status, number=inv.number,
                     remittance=remittance, amount=inv.payable if inv.payable is not None
                     else inv.gross_total, currency=inv.currency,
                     skonto_percent=inv.skonto_percent,
                     ibans=tuple(i for i in (inv.ibans or "").split(",") if i))
