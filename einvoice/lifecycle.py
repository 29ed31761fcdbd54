"""The status machine and every decision that moves an invoice, in one place.

Pure functions over the canonical model and values the caller looked up: nothing here reads
the database, the clock or the settings object. The pipeline asks here what an ingested
document becomes, the approval workflow which transitions are allowed and when an invoice is
approved, the export which invoices may go; the store then writes what was decided.

Statuses (stored values): ``received`` → ``invalid`` or ``pending`` → ``approved`` (one person,
or two different people above the four-eyes threshold) or ``rejected`` → ``exported``;
``on_hold`` pauses a pending invoice; ``duplicate`` and ``quarantined`` end at ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from einvoice.errors import EinvoiceError
from einvoice.model import Invoice
from einvoice.validation.findings import Verdict
from einvoice.validation.leitweg import office_for


class Status(StrEnum):
    RECEIVED = "received"  # read, validation engine failed: validated again later
    PENDING = "pending"  # valid, awaiting approval
    INVALID = "invalid"  # rejected by validation
    ON_HOLD = "on_hold"
    APPROVED = "approved"
    REJECTED = "rejected"  # by a person, with a reason
    EXPORTED = "exported"  # in exactly one export batch
    DUPLICATE = "duplicate"  # same seller, number, type and gross total as an earlier invoice
    QUARANTINED = "quarantined"  # could not be read


class Role(StrEnum):
    """Who takes a transition: the service itself, or an authenticated member of staff."""

    SYSTEM = "system"
    STAFF = "staff"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    HOLD = "hold"
    RELEASE = "release"
    REASSIGN = "reassign"
    ASSIGN = "assign"
    EXPORT = "export"


@dataclass(frozen=True)
class Transition:
    """From which statuses an action may start, where it leads (None: the status stays, or,
    for ``approve``, is decided by the four-eyes rule) and who may take it."""

    sources: frozenset[Status]
    target: Status | None
    role: Role


def _from(*statuses: Status) -> frozenset[Status]:
    return frozenset(statuses)


TRANSITIONS: Mapping[Action, Transition] = {
    Action.APPROVE: Transition(_from(Status.PENDING), Status.APPROVED, Role.STAFF),
    Action.REJECT: Transition(_from(Status.PENDING, Status.ON_HOLD), Status.REJECTED, Role.STAFF),
    Action.HOLD: Transition(_from(Status.PENDING), Status.ON_HOLD, Role.STAFF),
    Action.RELEASE: Transition(_from(Status.ON_HOLD), Status.PENDING, Role.STAFF),
    Action.REASSIGN: Transition(
        _from(Status.RECEIVED, Status.PENDING, Status.ON_HOLD, Status.INVALID), None, Role.STAFF),
    Action.ASSIGN: Transition(_from(Status.PENDING, Status.ON_HOLD), None, Role.STAFF),
    Action.EXPORT: Transition(_from(Status.APPROVED), Status.EXPORTED, Role.SYSTEM),
}

# a corrected invoice resent after one of these is a new invoice, not a duplicate of it
NOT_ORIGINALS: frozenset[Status] = _from(Status.QUARANTINED, Status.INVALID, Status.REJECTED)


class WorkflowError(EinvoiceError):
    """A transition that is not allowed; nothing was changed."""


def check_transition(action: Action, status: str, role: Role, invoice_id: int) -> None:
    """Raise unless ``role`` may take ``action`` on an invoice that is ``status``."""
    rule = TRANSITIONS[action]
    if role is not rule.role:
        raise WorkflowError(f"{action} is taken by {rule.role}, not by {role}")
    if status not in rule.sources:
        allowed = ", ".join(sorted(rule.sources))
        raise WorkflowError(f"invoice {invoice_id} is {status}: cannot {action} "
                            f"(allowed from {allowed})")


# ------------------------------------------------------------------ approval

def approvals_needed(gross_total: Decimal | None, threshold: Decimal) -> int:
    """Four-eyes rule: above the threshold two different people must approve."""
    return 2 if gross_total is not None and gross_total > threshold else 1


@dataclass(frozen=True)
class ApprovalOutcome:
    status: Status
    have: int
    needed: int


def approval(invoice_id: int, actor: str, earlier: Iterable[str], gross_total: Decimal | None,
             threshold: Decimal) -> ApprovalOutcome:
    """What one more approval by ``actor`` makes of a pending invoice; nobody counts twice."""
    approvers = set(earlier)
    if actor in approvers:
        raise WorkflowError(f"{actor} has already approved invoice {invoice_id}; a second "
                            "approval must come from someone else")
    have = len(approvers) + 1
    needed = approvals_needed(gross_total, threshold)
    return ApprovalOutcome(Status.APPROVED if have >= needed else Status.PENDING, have, needed)


# ------------------------------------------------------------------ ingest

def status_after_validation(verdict: Verdict | None) -> Status:
    """accept → pending, reject → invalid; no verdict (the validation engine failed) leaves it
    received, to be validated again."""
    if verdict is None or verdict is Verdict.UNDEFINED:
        return Status.RECEIVED
    return Status.PENDING if verdict is Verdict.ACCEPT else Status.INVALID


def seller_key(model: Invoice) -> str | None:
    """Who the seller is for duplicate detection: VAT id if given, else the normalised name."""
    if model.seller.vat_id:
        return model.seller.vat_id.replace(" ", "").upper()
    if model.seller.name:
        return " ".join(model.seller.name.split()).casefold()
    return None


@dataclass(frozen=True)
class DuplicateKey:
    """Same seller, number, type and gross total: the same invoice sent again."""

    seller_key: str
    number: str
    type_code: str | None
    gross_total: Decimal


def duplicate_key(model: Invoice) -> DuplicateKey | None:
    """The key to look an earlier copy up by; None when the invoice lacks a part of it."""
    seller = seller_key(model)
    gross = model.totals.with_vat
    if seller is None or model.number is None or gross is None:
        return None
    return DuplicateKey(seller, model.number, model.type_code, gross)


def pay_by(model: Invoice, payment_days: int) -> date | None:
    """BT-9 when given, else the invoice date plus the configured payment target."""
    if model.due_date:
        return model.due_date
    return model.issue_date + timedelta(days=payment_days) if model.issue_date else None


def skonto_deadline(model: Invoice) -> tuple[date, Decimal] | None:
    """The discount earliest to lose: (last day, percent) of the shortest Skonto term, counted
    from the invoice date (BT-2) as the XRechnung Skonto terms say."""
    terms = model.skonto
    if not terms or model.issue_date is None:
        return None
    first = min(terms, key=lambda term: term.days)
    return model.issue_date + timedelta(days=first.days), first.percent


@dataclass(frozen=True)
class IngestDecision:
    """What an ingested invoice becomes: its status and the values that order the inbox."""

    status: Status
    office: str | None = None
    pay_by: date | None = None
    skonto_until: date | None = None
    skonto_percent: Decimal | None = None
    account: str | None = None


def decide_ingest(model: Invoice | None, verdict: Verdict | None, duplicate_of: int | None,
                  routes: Mapping[str, str], payment_days: int) -> IngestDecision:
    """Unreadable → quarantined; an earlier copy → duplicate; else by the verdict. The office
    comes from the Leitweg-ID (BT-10), the account is pre-filled from BT-19."""
    if model is None:
        return IngestDecision(Status.QUARANTINED)
    status = Status.DUPLICATE if duplicate_of is not None else status_after_validation(verdict)
    skonto = skonto_deadline(model)
    return IngestDecision(
        status=status, office=office_for(model.buyer_reference, routes),
        pay_by=pay_by(model, payment_days), skonto_until=skonto[0] if skonto else None,
        skonto_percent=skonto[1] if skonto else None,
        account=model.buyer_accounting_reference)


# ------------------------------------------------------------------ supplier warnings

def normalise_iban(value: str) -> str:
    return value.replace(" ", "").upper()


def iban_ok(value: str) -> bool:
    from schwifty import IBAN  # its bank registry is large: loaded when an IBAN is checked
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(value)
    except (SchwiftyException, ValueError):
        return False
    return True


def supplier_flags(seller_name: str | None, ibans: Iterable[str],
                   known_ibans: Iterable[str] | None) -> list[str]:
    """Warnings a clerk must see before approving. ``known_ibans`` is None when the supplier is
    not on file. An IBAN the supplier never used before is the classic fraud pattern ("please
    pay to our new account")."""
    out: list[str] = []
    if known_ibans is None and seller_name:
        out.append("unbekannter Lieferant / unknown supplier")
    known = {normalise_iban(i) for i in known_ibans or ()}
    for iban in ibans:
        if not iban_ok(iban):
            out.append(f"ungültige IBAN / invalid IBAN {iban}")
        elif known_ibans is not None and normalise_iban(iban) not in known:
            out.append(f"neue IBAN / IBAN not on file {iban}")
    return out
