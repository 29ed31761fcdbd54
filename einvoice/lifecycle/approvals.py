"""The approval rules: four-eyes in EUR, the municipal steps in order, who may sign which step
and up to which amount, and when an invoice is approved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from einvoice.lifecycle.machine import Member, NotPermitted, Status, WorkflowError

APPROVE_STEP = "approve"  # the one step of the plain procedure
SACHLICH, ANORDNUNG = "sachlich", "anordnung"  # never signed by the same person


def in_euro(amount: Decimal, currency: str | None, rates: Mapping[str, Decimal]) -> Decimal | None:
    """The amount in EUR, exact (never rounded in anyone's favour); None when the currency has
    no rate (``rates``: EUR per unit)."""
    if currency == "EUR":
        return amount
    rate = rates.get(currency) if currency else None
    return None if rate is None else amount * rate


def approvals_needed(gross_total: Decimal | None, currency: str | None, threshold: Decimal,
                     rates: Mapping[str, Decimal]) -> int:
    """Four-eyes rule: above the threshold (EUR) two different people must approve; so must
    they for an amount in a currency without a rate."""
    if gross_total is None:
        return 1
    euro = in_euro(gross_total, currency, rates)
    return 2 if euro is None or euro > threshold else 1


def procedure(steps: Sequence[str], needed: int) -> tuple[tuple[str, int], ...]:
    """(step, signatures it needs) in order: an office's municipal steps one signature each,
    else the plain approval by ``needed`` different people."""
    return tuple((step, 1) for step in steps) if steps else ((APPROVE_STEP, needed),)


@dataclass(frozen=True)
class Signature:
    """One approval given: its step, the login that signed and the colleague it was for."""

    step: str
    by: str
    on_behalf_of: str | None

    @property
    def people(self) -> frozenset[str]:
        return frozenset(p for p in (self.by, self.on_behalf_of) if p)


def next_step(plan: Sequence[tuple[str, int]], done: Iterable[Signature]) -> str | None:
    """The first step with fewer signatures than it needs; None: the invoice is approved."""
    signed = Counter(sig.step for sig in done)
    return next((step for step, needed in plan if signed[step] < needed), None)


def may_sign(member: Member, step: str, gross_total: Decimal | None, currency: str | None,
             rates: Mapping[str, Decimal], invoice_id: int) -> None:
    """A municipal step needs its permission; an approval counts only up to the signer's limit,
    so one above it is refused rather than recorded without effect."""
    login, limit = member.login, member.limit
    if step != APPROVE_STEP and step not in member.steps:
        raise NotPermitted(f"{login} may not sign the step {step} (einvoice staff add {login} "
                           f"--step {step} grants it)")
    if limit is None or gross_total is None:
        return
    euro = in_euro(gross_total, currency, rates)
    up_to = f"{login} may approve up to {limit.normalize():f} EUR: invoice {invoice_id} is"
    if euro is None:
        raise NotPermitted(f"{up_to} in {currency} and `eur_rates` has no rate for it; nothing "
                           "recorded")
    if euro > limit:
        raise NotPermitted(f"{up_to} {euro.normalize():f} EUR; nothing recorded, someone whose "
                           "limit covers it must approve")


@dataclass(frozen=True)
class ApprovalOutcome:
    status: Status
    have: int  # signatures of the signed step, this one included
    needed: int
    next_step: str | None


def approval(invoice_id: int, new: Signature, earlier: Sequence[Signature],
             plan: Sequence[tuple[str, int]]) -> ApprovalOutcome:
    """What one more signature makes of a pending invoice. It must be the next open step;
    nobody signs a step twice, nor the Anordnung after sachlich richtig; an approval on behalf
    of a colleague never counts as one of the two people of the four-eyes rule."""
    # when every step is signed (the settings changed since), the last one takes the signature
    step = next_step(plan, earlier) or plan[-1][0]
    if new.step != step:
        raise WorkflowError(f"invoice {invoice_id}: the next step is {step}, not {new.step}")
    needed = dict(plan)[step]
    same = [sig for sig in earlier if sig.step == step]
    twice = new.people & {person for sig in same for person in sig.people}
    if twice:
        raise WorkflowError(f"{min(twice)} has already approved invoice {invoice_id}; a second "
                            "approval must come from someone else")
    if new.on_behalf_of and needed > 1:
        raise WorkflowError(f"invoice {invoice_id} needs {needed} approvals given in person: "
                            f"one on behalf of {new.on_behalf_of} does not count")
    if step == ANORDNUNG:
        clash = new.people & {p for sig in earlier if sig.step == SACHLICH for p in sig.people}
        if clash:
            raise WorkflowError(f"{min(clash)} signed sachlich richtig for invoice "
                                f"{invoice_id}: the Anordnung must come from someone else")
    after = next_step(plan, [*earlier, new])
    return ApprovalOutcome(Status.APPROVED if after is None else Status.PENDING, len(same) + 1,
                           needed, after)
