"""The status machine: approve, reject, hold, release, reassign, assign accounts.

Every action reads the invoice, checks the transition, writes the change with an optimistic
version check, and appends an audit event, all in one transaction. Two people acting on the
same invoice at once: exactly one change wins; the other is re-checked against the new state
and fails with a clear message (or succeeds, when it is still allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import col

from einvoice import audit
from einvoice.context import Context
from einvoice.errors import EinvoiceError, NotFound
from einvoice.store import retry
from einvoice.store import tables as t
from einvoice.store.types import utcnow

PENDING, ON_HOLD, APPROVED, REJECTED = "pending", "on_hold", "approved", "rejected"


class WorkflowError(EinvoiceError):
    """A transition that is not allowed; nothing was changed."""


@dataclass(frozen=True)
class Change:
    invoice_id: int
    action: str
    before: str
    after: str
    message: str


Decide = Callable[[Connection, Row[Any]], tuple[str, dict[str, Any], dict[str, Any] | None, str]]
_READ: Any = (select(col(t.Invoice.id), col(t.Invoice.status), col(t.Invoice.version),
                    col(t.Invoice.gross_total), col(t.Invoice.office))
              .where(col(t.Invoice.id) == bindparam("id")))


def _change(ctx: Context, invoice_id: int, actor: str, action: str, allowed: set[str],
            decide: Decide, reason: str | None = None) -> Change:
    """Run one transition; ``decide`` returns (status after, columns to set, audit detail,
    message) and may write rows of its own in the same transaction."""
    for attempt in range(retry.ATTEMPTS):
        try:
            with ctx.engine.begin() as conn:
                row: Row[Any] | None = conn.execute(_READ, {"id": invoice_id}).first()
                if row is None:
                    raise NotFound(f"no invoice with id {invoice_id}")
                if row.status not in allowed:
                    raise WorkflowError(f"invoice {invoice_id} is {row.status}: cannot {action} "
                                        f"(allowed from {', '.join(sorted(allowed))})")
                after, values, detail, message = decide(conn, row)
                done = conn.execute(
                    update(t.Invoice)
                    .where(col(t.Invoice.id) == invoice_id, col(t.Invoice.version) == row.version)
                    .values(status=after, version=row.version + 1, updated_at=utcnow(), **values))
                if done.rowcount != 1:
                    raise _Changed
                audit.append(conn, invoice_id=invoice_id, actor=actor, action=action,
                             before=row.status, after=after, reason=reason, detail=detail)
            return Change(invoice_id, action, row.status, after, message)
        except (_Changed, IntegrityError, OperationalError):
            retry.pause(attempt)  # someone else changed it (or the audit chain head) first
    raise WorkflowError(f"invoice {invoice_id} is being changed by someone else; try again")


class _Changed(Exception):
    """The version check failed: another transaction changed the invoice first."""


def approvals_needed(gross_total: Decimal | None, threshold: Decimal) -> int:
    """Four-eyes rule: above the threshold two different people must approve."""
    return 2 if gross_total is not None and gross_total > threshold else 1


def approve(ctx: Context, invoice_id: int, actor: str) -> Change:
    threshold = ctx.settings.four_eyes_threshold

    def decide(conn: Connection, row: Row[Any]) -> tuple[str, dict[str, Any], None, str]:
        approvers = set(conn.execute(select(col(t.Approval.actor))
                                     .where(col(t.Approval.invoice_id) == invoice_id)).scalars())
        if actor in approvers:
            raise WorkflowError(f"{actor} has already approved invoice {invoice_id}; "
                                "a second approval must come from someone else")
        conn.execute(insert(t.Approval), {"invoice_id": invoice_id, "actor": actor,
                                          "at": utcnow()})
        needed = approvals_needed(row.gross_total, threshold)
        have = len(approvers) + 1
        if have >= needed:
            return APPROVED, {}, None, f"invoice {invoice_id} approved"
        return PENDING, {}, None, (f"invoice {invoice_id}: approval {have} of {needed} "
                                   "(four-eyes rule); waiting for a second person")

    return _change(ctx, invoice_id, actor, "approve", {PENDING}, decide)


def reject(ctx: Context, invoice_id: int, actor: str, reason: str) -> Change:
    if not reason.strip():
        raise WorkflowError("a rejection needs a reason (it is sent to the supplier)")
    return _change(ctx, invoice_id, actor, "reject", {PENDING, ON_HOLD},
                   lambda conn, row: (REJECTED, {"note": reason}, None,
                                      f"invoice {invoice_id} rejected"), reason)


def hold(ctx: Context, invoice_id: int, actor: str, note: str) -> Change:
    return _change(ctx, invoice_id, actor, "hold", {PENDING},
                   lambda conn, row: (ON_HOLD, {"note": note}, None,
                                      f"invoice {invoice_id} on hold"), note)


def release(ctx: Context, invoice_id: int, actor: str) -> Change:
    return _change(ctx, invoice_id, actor, "release", {ON_HOLD},
                   lambda conn, row: (PENDING, {}, None, f"invoice {invoice_id} pending again"))


def reassign(ctx: Context, invoice_id: int, actor: str, office: str, reason: str | None) -> Change:
    return _change(ctx, invoice_id, actor, "reassign", {"received", PENDING, ON_HOLD, "invalid"},
                   lambda conn, row: (row.status, {"office": office},
                                      {"office": [row.office, office]},
                                      f"invoice {invoice_id} now with {office}"), reason)


def assign(ctx: Context, invoice_id: int, actor: str, account: str | None,
           cost_centre: str | None, line: int | None = None) -> Change:
    """G/L account and cost centre for the invoice, or for one line (position ``line``)."""
    values = {k: v for k, v in (("account", account), ("cost_centre", cost_centre)) if v}
    if not values:
        raise WorkflowError("nothing to assign: give --account and/or --cost-centre")

    def decide(conn: Connection, row: Row[Any]) -> tuple[str, dict[str, Any], dict[str, Any],
                                                          str]:
        detail: dict[str, Any] = {"line": line, **values}
        if line is None:
            return row.status, values, detail, f"invoice {invoice_id}: assigned {values}"
        done = conn.execute(update(t.InvoiceLine)
                            .where(col(t.InvoiceLine.invoice_id) == invoice_id,
                                   col(t.InvoiceLine.position) == line).values(**values))
        if done.rowcount != 1:
            raise WorkflowError(f"invoice {invoice_id} has no line {line}")
        return row.status, {}, detail, f"invoice {invoice_id} line {line}: assigned {values}"

    return _change(ctx, invoice_id, actor, "assign", {PENDING, ON_HOLD}, decide)
