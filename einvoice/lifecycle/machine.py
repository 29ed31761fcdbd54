"""The status machine: statuses, actions, the one table of allowed transitions with the least
role that may take each, and who may act (the staff register's view of a person)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from einvoice.errors import EinvoiceError


class Status(StrEnum):
    RECEIVED = "received"  # read, validation engine failed: validated again later
    PENDING = "pending"  # valid, awaiting approval
    INVALID = "invalid"  # rejected by validation
    ON_HOLD = "on_hold"
    APPROVED = "approved"
    REJECTED = "rejected"  # by a person, with a reason
    EXPORTED = "exported"  # in exactly one export batch
    PAID = "paid"  # the accounting paid it (date in ``paid_on``)
    DUPLICATE = "duplicate"  # same seller, number, type and gross total as an earlier invoice
    QUARANTINED = "quarantined"  # could not be read
    CLOSED = "closed"  # an invalid, duplicate or quarantined document closed by a person


class Role(StrEnum):
    """Who takes a transition: the service itself, or a member of staff holding at least the
    named role in the staff register (viewer < approver < admin)."""

    SYSTEM = "system"
    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"


STAFF_ROLES: tuple[Role, ...] = (Role.VIEWER, Role.APPROVER, Role.ADMIN)  # least first


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    HOLD = "hold"
    RELEASE = "release"
    REASSIGN = "reassign"
    ASSIGN = "assign"
    CLOSE = "close"
    EXPORT = "export"
    PAY = "pay"


@dataclass(frozen=True)
class Transition:
    """From which statuses an action may start, where it leads (None: the status stays, or,
    for ``approve``, is decided by the approval rules) and the least role that may take it."""

    sources: frozenset[Status]
    target: Status | None
    role: Role


def _from(*statuses: Status) -> frozenset[Status]:
    return frozenset(statuses)


TRANSITIONS: Mapping[Action, Transition] = {
    Action.APPROVE: Transition(_from(Status.PENDING), Status.APPROVED, Role.APPROVER),
    Action.REJECT: Transition(_from(Status.PENDING, Status.ON_HOLD), Status.REJECTED,
                              Role.APPROVER),
    Action.HOLD: Transition(_from(Status.PENDING), Status.ON_HOLD, Role.APPROVER),
    Action.RELEASE: Transition(_from(Status.ON_HOLD), Status.PENDING, Role.APPROVER),
    Action.REASSIGN: Transition(_from(Status.RECEIVED, Status.PENDING, Status.ON_HOLD,
                                      Status.INVALID), None, Role.APPROVER),
    Action.ASSIGN: Transition(_from(Status.PENDING, Status.ON_HOLD), None, Role.APPROVER),
    Action.CLOSE: Transition(_from(Status.INVALID, Status.DUPLICATE, Status.QUARANTINED),
                             Status.CLOSED, Role.APPROVER),
    Action.EXPORT: Transition(_from(Status.APPROVED), Status.EXPORTED, Role.SYSTEM),
    # paid only after the export: the export hands the payment order (Anordnung) to the
    # accounting, which pays; an approved invoice not yet exported has no payment order
    Action.PAY: Transition(_from(Status.EXPORTED), Status.PAID, Role.APPROVER),
}

# a corrected invoice resent after one of these is a new invoice, not a duplicate of it
NOT_ORIGINALS: frozenset[Status] = _from(Status.QUARANTINED, Status.INVALID, Status.REJECTED,
                                         Status.CLOSED)


# a supplier is told the expected payment date (pay-by) only while the invoice is on its way to
# being paid: valid and awaiting approval, approved, or handed to the accounting
PAYMENT_EXPECTED: frozenset[Status] = _from(Status.PENDING, Status.ON_HOLD, Status.APPROVED,
                                            Status.EXPORTED)


class WorkflowError(EinvoiceError):
    """A transition that is not allowed; nothing was changed."""


class NotPermitted(EinvoiceError):
    """The acting account may not do this (unknown, disabled, role, office, step, limit);
    nothing was changed."""


def role_covers(held: Role, needed: Role) -> bool:
    """The service takes only its own actions; a staff role covers the roles below it."""
    if Role.SYSTEM in (held, needed):
        return held is needed
    return STAFF_ROLES.index(held) >= STAFF_ROLES.index(needed)


def check_transition(action: Action, status: str, role: Role, invoice_id: int) -> None:
    """Raise unless ``role`` may take ``action`` on an invoice that is ``status``."""
    rule = TRANSITIONS[action]
    if not role_covers(role, rule.role):
        raise WorkflowError(f"{action} is taken by {rule.role}, not by {role}")
    if status not in rule.sources:
        allowed = ", ".join(sorted(rule.sources))
        raise WorkflowError(f"invoice {invoice_id} is {status}: cannot {action} "
                            f"(allowed from {allowed})")


def expected_payment(status: str, pay_by: date | None) -> date | None:
    """The pay-by date a supplier may be told: none for an invoice that will not be paid
    (invalid, rejected, duplicate, closed, unreadable), is not checked yet, or is paid."""
    return pay_by if status in PAYMENT_EXPECTED else None


def seen_by_supplier(status: str) -> str:
    """The status a supplier is told: an internal hold (by a person, or because the channel
    did not speak for the seller) reads as pending, so that it tips nobody off."""
    return Status.PENDING.value if status == Status.ON_HOLD else status


def check_paid_on(paid_on: date, today: date, invoice_id: int) -> None:
    """A payment is recorded when it has happened: never on a day still to come."""
    if paid_on > today:
        raise WorkflowError(f"invoice {invoice_id}: payment date {paid_on.isoformat()} is in "
                            f"the future (today is {today.isoformat()})")


@dataclass(frozen=True)
class Member:
    """A member of staff as the register knows them: ``limit`` in EUR (None: no limit), no
    ``offices``: every office; ``steps``: the municipal steps they may sign."""

    login: str
    role: Role
    active: bool = True
    limit: Decimal | None = None
    offices: frozenset[str] = frozenset()
    steps: frozenset[str] = frozenset()
    staff_id: int = 0  # the register's key, which signatures refer to


def require(login: str, member: Member | None, needed: Role, doing: str) -> Member:
    """The member, unless the account is unknown, disabled or holds too small a role."""
    if member is None:
        raise NotPermitted(f"{login} is not on the staff register: {doing} needs the role "
                           f"{needed}")
    if not member.active:
        raise NotPermitted(f"{login} is disabled in the staff register: {doing} is refused")
    if not role_covers(member.role, needed):
        raise NotPermitted(f"{login} has the role {member.role}: {doing} needs the role "
                           f"{needed}")
    return member


def authorise(login: str, member: Member | None, action: Action, office: str | None) -> Member:
    """May this account take ``action`` on an invoice of ``office``? (The status is
    ``check_transition``'s question.)"""
    doing = action.removesuffix("e") + "ing"  # approve → approving, hold → holding
    found = require(login, member, TRANSITIONS[action].role, doing)
    if found.offices and office not in found.offices:
        raise NotPermitted(f"{login} acts for {', '.join(sorted(found.offices))} only: this "
                           f"invoice is with {office or 'no office (unassigned)'}")
    return found
