"""Staff actions on an invoice: approve, reject, hold, release, reassign, assign accounts.

Which transitions are allowed, and when an invoice is approved, is decided by
``einvoice.lifecycle``. Every action reads the invoice, asks the lifecycle, writes the change with
an optimistic version check and appends an audit event (and, for a rejection, queues the notice
to the supplier), all in one transaction. Two people acting on the
same invoice at once: exactly one change wins; the other is re-checked against the new state
and fails with a clear message (or succeeds, when it is still allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from einvoice import lifecycle
from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Action, Role, Status, WorkflowError
from einvoice.notify import outbox
from einvoice.store import chain, retry
from einvoice.store import tables as t
from einvoice.store.types import utcnow

__all__ = ["Change", "WorkflowError", "approve", "assign", "hold", "reassign", "reject",
           "release"]

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


def _change(ctx: Context, invoice_id: int, actor: str, action: Action, decide: Decide,
            reason: str | None = None) -> Change:
    """Run one transition; ``decide`` returns (status after, columns to set, audit detail,
    message) and may write rows of its own in the same transaction."""
    for attempt in range(retry.ATTEMPTS):
        try:
            with ctx.engine.begin() as conn:
                row: Row[Any] | None = conn.execute(_READ, {"id": invoice_id}).first()
                if row is None:
                    raise NotFound(f"no invoice with id {invoice_id}")
                lifecycle.check_transition(action, row.status, Role.STAFF, invoice_id)
                after, values, detail, message = decide(conn, row)
                done = conn.execute(
                    update(t.Invoice)
                    .where(col(t.Invoice.id) == invoice_id, col(t.Invoice.version) == row.version)
                    .values(status=after, version=row.version + 1, updated_at=utcnow(), **values))
                if done.rowcount != 1:
                    raise _Changed
                chain.append(conn, invoice_id=invoice_id, actor=actor, action=action,
                             before=row.status, after=after, reason=reason, detail=detail)
            return Change(invoice_id, action, row.status, after, message)
        except _Changed:
            retry.pause(attempt)  # someone else changed the invoice first: check again
        except DBAPIError as exc:
            if not retry.is_conflict(exc):
                raise
            retry.pause(attempt)  # e.g. the audit chain head moved: try again
    raise WorkflowError(f"invoice {invoice_id} is being changed by someone else; try again")


class _Changed(Exception):
    """The version check failed: another transaction changed the invoice first."""


def approve(ctx: Context, invoice_id: int, actor: str) -> Change:
    threshold = ctx.settings.four_eyes_threshold

    def decide(conn: Connection, row: Row[Any]) -> tuple[str, dict[str, Any], None, str]:
        earlier = conn.execute(select(col(t.Approval.actor))
                               .where(col(t.Approval.invoice_id) == invoice_id)).scalars()
        outcome = lifecycle.approval(invoice_id, actor, earlier, row.gross_total, threshold)
        conn.execute(insert(t.Approval), {"invoice_id": invoice_id, "actor": actor,
                                          "at": utcnow()})
        if outcome.status is Status.APPROVED:
            return outcome.status, {}, None, f"invoice {invoice_id} approved"
        return outcome.status, {}, None, (
            f"invoice {invoice_id}: approval {outcome.have} of {outcome.needed} "
            "(four-eyes rule); waiting for a second person")

    return _change(ctx, invoice_id, actor, Action.APPROVE, decide)


def reject(ctx: Context, invoice_id: int, actor: str, reason: str) -> Change:
    if not reason.strip():
        raise WorkflowError("a rejection needs a reason (it is sent to the supplier)")

    def decide(conn: Connection, row: Row[Any]) -> tuple[str, dict[str, Any], None, str]:
        outbox.queue_rejection(conn, invoice_id, reason, ctx.settings.zone)
        return Status.REJECTED, {"note": reason}, None, f"invoice {invoice_id} rejected"

    return _change(ctx, invoice_id, actor, Action.REJECT, decide, reason)


def hold(ctx: Context, invoice_id: int, actor: str, note: str) -> Change:
    return _change(ctx, invoice_id, actor, Action.HOLD,
                   lambda conn, row: (Status.ON_HOLD, {"note": note}, None,
                                      f"invoice {invoice_id} on hold"), note)


def release(ctx: Context, invoice_id: int, actor: str) -> Change:
    return _change(ctx, invoice_id, actor, Action.RELEASE,
                   lambda conn, row: (Status.PENDING, {}, None,
                                      f"invoice {invoice_id} pending again"))


def reassign(ctx: Context, invoice_id: int, actor: str, office: str, reason: str | None) -> Change:
    return _change(ctx, invoice_id, actor, Action.REASSIGN,
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

    return _change(ctx, invoice_id, actor, Action.ASSIGN, decide)
