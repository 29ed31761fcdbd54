"""Staff actions on an invoice: approve (or sign a step), reject, hold, release, reassign,
assign accounts, close.

Who may act, which transitions are allowed and when an invoice is approved is decided by
``einvoice.lifecycle``. Every action reads the invoice and the actor's entry in the staff
register, asks the lifecycle, writes the change with an optimistic version check and appends an
audit event (and, for a rejection, queues the notice to the supplier), all in one transaction.
The actor is an authenticated login (``approval.identity``); an admin acting for an absent
colleague names them and a reason, both kept in the event. Two people acting on the same
invoice at once: exactly one change wins; the other is re-checked against the new state and
fails with a clear message (or succeeds, when it is still allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from einvoice import lifecycle
from einvoice.approval import audit, staff, steps
from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.lifecycle import Action, Member, Role, Signature, Status, WorkflowError
from einvoice.notify import outbox
from einvoice.store import chain, retry
from einvoice.store import tables as t
from einvoice.store.types import utcnow

__all__ = ["Change", "OnBehalf", "WorkflowError", "approve", "assign", "close", "hold",
           "reassign", "reject", "release"]


@dataclass(frozen=True)
class Change:
    invoice_id: int
    action: str
    before: str
    after: str
    message: str


@dataclass(frozen=True)
class OnBehalf:
    """An admin acting for an absent colleague: whom for, and why."""

    login: str
    reason: str


@dataclass(frozen=True)
class Acting:
    """The authenticated actor and the colleague acted for, whose rights then count."""

    actor: Member
    colleague: Member | None

    @property
    def rights(self) -> Member:
        return self.colleague or self.actor


Decide = Callable[[Connection, Row[Any], Acting],
                  tuple[str, dict[str, Any], dict[str, Any] | None, str]]
_READ: Any = (select(col(t.Invoice.id), col(t.Invoice.status), col(t.Invoice.version),
                    col(t.Invoice.gross_total), col(t.Invoice.currency), col(t.Invoice.office))
              .where(col(t.Invoice.id) == bindparam("id")))


def _acting(conn: Connection, actor: str, on_behalf: OnBehalf | None, action: Action,
            office: str | None) -> Acting:
    """Only an admin may act for a colleague, and only in what the colleague may do."""
    if on_behalf is None:
        return Acting(lifecycle.authorise(actor, staff.lookup(conn, actor), action, office), None)
    admin = lifecycle.require(actor, staff.lookup(conn, actor), Role.ADMIN,
                              f"acting on behalf of {on_behalf.login}")
    return Acting(admin, lifecycle.authorise(on_behalf.login,
                                             staff.lookup(conn, on_behalf.login), action, office))


def _change(ctx: Context, invoice_id: int, actor: str, action: Action, decide: Decide,
            reason: str | None = None, on_behalf: OnBehalf | None = None) -> Change:
    """Run one transition; ``decide`` returns (status after, columns to set, audit detail,
    message) and may write rows of its own in the same transaction."""
    if on_behalf is not None and not on_behalf.reason.strip():
        raise WorkflowError(f"acting on behalf of {on_behalf.login} needs a reason")
    for attempt in range(retry.ATTEMPTS):
        try:
            with ctx.engine.begin() as conn:
                row: Row[Any] | None = conn.execute(_READ, {"id": invoice_id}).first()
                if row is None:
                    raise NotFound(f"no invoice with id {invoice_id}")
                acting = _acting(conn, actor, on_behalf, action, row.office)
                lifecycle.check_transition(action, row.status, acting.rights.role, invoice_id)
                after, values, detail, message = decide(conn, row, acting)
                done = conn.execute(
                    update(t.Invoice)
                    .where(col(t.Invoice.id) == invoice_id, col(t.Invoice.version) == row.version)
                    .values(status=after, version=row.version + 1, updated_at=utcnow(), **values))
                if done.rowcount != 1:
                    raise _Changed
                if on_behalf is not None:
                    detail = {**(detail or {}), "on_behalf_of": on_behalf.login,
                              "on_behalf_reason": on_behalf.reason}
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


def approve(ctx: Context, invoice_id: int, actor: str, step: str | None = None, *,
            on_behalf: OnBehalf | None = None) -> Change:
    """Sign the plain approval (no ``step``) or the named municipal step."""
    settings = ctx.settings
    signed = step or lifecycle.APPROVE_STEP

    def decide(conn: Connection, row: Row[Any], acting: Acting) -> tuple[
            str, dict[str, Any], dict[str, Any], str]:
        plan = steps.plan(settings, row.office, row.gross_total, row.currency)
        earlier = steps.signatures(conn, [invoice_id]).get(invoice_id, [])
        new = Signature(signed, actor, on_behalf.login if on_behalf else None)
        outcome = lifecycle.approval(invoice_id, new, earlier, plan)
        lifecycle.may_sign(acting.rights, signed, row.gross_total, row.currency,
                           settings.eur_rates, invoice_id)
        conn.execute(insert(t.Approval), {
            "invoice_id": invoice_id, "step": signed, "staff_id": acting.actor.staff_id,
            "on_behalf_of_id": acting.colleague.staff_id if acting.colleague else None,
            "at": utcnow()})
        # what was approved (hashed; the export compares it), and the step when it is one
        content = audit.approved_content(conn, invoice_id)
        detail = content if step is None else {**content, "step": step}
        if outcome.status is Status.APPROVED:
            return outcome.status, {}, detail, f"invoice {invoice_id} approved"
        if step is not None:
            return outcome.status, {}, detail, (
                f"invoice {invoice_id}: {step} signed; next step {outcome.next_step}")
        return outcome.status, {}, detail, (
            f"invoice {invoice_id}: approval {outcome.have} of {outcome.needed} "
            "(four-eyes rule); waiting for a second person")

    return _change(ctx, invoice_id, actor, Action.APPROVE, decide, on_behalf=on_behalf)


def reject(ctx: Context, invoice_id: int, actor: str, reason: str, *,
           on_behalf: OnBehalf | None = None) -> Change:
    if not reason.strip():
        raise WorkflowError("a rejection needs a reason (it is sent to the supplier)")

    def decide(conn: Connection, row: Row[Any], acting: Acting) -> tuple[
            str, dict[str, Any], dict[str, Any] | None, str]:
        try:
            outbox.queue_rejection(conn, invoice_id, reason, ctx.settings.zone,
                                   ctx.settings.finance_office_email)
        except outbox.NotQueued as exc:  # recorded in the outbox; the rejection stands
            return (Status.REJECTED, {"note": reason}, {"notice": str(exc)},
                    f"invoice {invoice_id} rejected; {exc}")
        return Status.REJECTED, {"note": reason}, None, f"invoice {invoice_id} rejected"

    return _change(ctx, invoice_id, actor, Action.REJECT, decide, reason, on_behalf)


def close(ctx: Context, invoice_id: int, actor: str, reason: str, *,
          on_behalf: OnBehalf | None = None) -> Change:
    """End an invalid, duplicate or quarantined document, with the reason why."""
    if not reason.strip():
        raise WorkflowError("closing a document needs a reason")
    return _change(ctx, invoice_id, actor, Action.CLOSE,
                   lambda conn, row, acting: (Status.CLOSED, {"note": reason}, None,
                                              f"invoice {invoice_id} closed"),
                   reason, on_behalf)


def hold(ctx: Context, invoice_id: int, actor: str, note: str, *,
         on_behalf: OnBehalf | None = None) -> Change:
    return _change(ctx, invoice_id, actor, Action.HOLD,
                   lambda conn, row, acting: (Status.ON_HOLD, {"note": note}, None,
                                              f"invoice {invoice_id} on hold"),
                   note, on_behalf)


def release(ctx: Context, invoice_id: int, actor: str, *,
            on_behalf: OnBehalf | None = None) -> Change:
    return _change(ctx, invoice_id, actor, Action.RELEASE,
                   lambda conn, row, acting: (Status.PENDING, {}, None,
                                              f"invoice {invoice_id} pending again"),
                   on_behalf=on_behalf)


def reassign(ctx: Context, invoice_id: int, actor: str, office: str, reason: str | None, *,
             on_behalf: OnBehalf | None = None) -> Change:
    return _change(ctx, invoice_id, actor, Action.REASSIGN,
                   lambda conn, row, acting: (row.status, {"office": office},
                                              {"office": [row.office, office]},
                                              f"invoice {invoice_id} now with {office}"),
                   reason, on_behalf)


def assign(ctx: Context, invoice_id: int, actor: str, account: str | None,
           cost_centre: str | None, line: int | None = None, *,
           on_behalf: OnBehalf | None = None) -> Change:
    """G/L account and cost centre for the invoice, or for one line (position ``line``)."""
    values = {k: v for k, v in (("account", account), ("cost_centre", cost_centre)) if v}
    if not values:
        raise WorkflowError("nothing to assign: give --account and/or --cost-centre")

    def decide(conn: Connection, row: Row[Any], acting: Acting) -> tuple[
            str, dict[str, Any], dict[str, Any], str]:
        detail: dict[str, Any] = {"line": line, **values}
        if line is None:
            return row.status, values, detail, f"invoice {invoice_id}: assigned {values}"
        done = conn.execute(update(t.InvoiceLine)
                            .where(col(t.InvoiceLine.invoice_id) == invoice_id,
                                   col(t.InvoiceLine.position) == line).values(**values))
        if done.rowcount != 1:
            raise WorkflowError(f"invoice {invoice_id} has no line {line}")
        return row.status, {}, detail, f"invoice {invoice_id} line {line}: assigned {values}"

    return _change(ctx, invoice_id, actor, Action.ASSIGN, decide, on_behalf=on_behalf)
