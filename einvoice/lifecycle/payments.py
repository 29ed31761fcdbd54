"""Which invoice a line of a bank statement pays: the decision, over values the caller read.

A line pays an invoice when it is a booked debit (money we sent), refers to the invoice and
carries its amount. It refers to the invoice when its end-to-end reference or a structured
reference (creditor reference, referred document number) is the invoice number (BT-1) or the
remittance information the supplier asked for (BT-83), or when that number stands as a word of
its unstructured remittance text. The amount is the amount due (BT-115, else the gross total) in
the invoice currency, or that amount less the Skonto the invoice grants. Several invoices that
fit (the same number at two suppliers) are narrowed by the creditor's IBAN; what is still more
than one is ambiguous and is listed, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from einvoice.formats.camt import BankLine
from einvoice.lifecycle.machine import NOT_ORIGINALS, Status
from einvoice.lifecycle.suppliers import normalise_iban

# invoices a payment may belong to: a duplicate shares number and amount with its original,
# and a document that is not an original was never to be paid (its resent copy may be)
PAYMENT_CANDIDATES: frozenset[Status] = frozenset(
    set(Status) - NOT_ORIGINALS - {Status.DUPLICATE})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Candidate:
    """An invoice as the matching sees it."""

    invoice_id: int
    status: str
    number: str | None
    remittance: str | None  # BT-83
    amount: Decimal | None  # BT-115, else the gross total
    currency: str | None
    skonto_percent: Decimal | None = None
    ibans: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineMatch:
    """The invoices a line pays: exactly one (matched), several (ambiguous) or none, then
    ``reason`` says why."""

    line: BankLine
    invoice_ids: tuple[int, ...]
    reason: str

    @property
    def matched(self) -> bool:
        return len(self.invoice_ids) == 1

    @property
    def ambiguous(self) -> bool:
        return len(self.invoice_ids) > 1


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def keys(c: Candidate) -> set[str]:
    """What a bank line may quote to refer to the invoice."""
    return {_norm(k) for k in (c.number, c.remittance) if k and k.strip()}


def refers(line: BankLine, c: Candidate) -> bool:
    """Does the line name the invoice (see the module text)?"""
    mine = keys(c)
    quoted = {_norm(r) for r in (line.end_to_end_id, *line.references) if r}
    if mine & quoted:
        return True
    text = _norm(" ".join(line.unstructured))
    return any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", text) for k in mine)


def amounts(c: Candidate) -> set[Decimal]:
    """The amounts that pay the invoice: in full, or less its Skonto (rounded to the cent)."""
    if c.amount is None:
        return set()
    out = {c.amount}
    if c.skonto_percent:
        out.add((c.amount * (100 - c.skonto_percent) / 100).quantize(CENT, ROUND_HALF_UP))
    return out


def match(line: BankLine, candidates: list[Candidate]) -> LineMatch:
    """The invoice this line pays, if exactly one; see the module text."""
    def none(reason: str) -> LineMatch:
        return LineMatch(line, (), reason)

    if line.problem:
        return none(f"unreadable: {line.problem}")
    if not line.debit:
        return none("a credit (money received), not a payment")
    if line.reversal:
        return none("a reversal, not a payment")
    if not line.booked:
        return none(f"not booked (status {line.status or 'missing'})")
    if line.booking_date is None:
        return none("no booking date")
    named = [c for c in candidates if refers(line, c)]
    if not named:
        return none("names no invoice number or reference of an open invoice")
    fitting = [c for c in named if c.currency == line.currency
               and line.amount in amounts(c)]
    if not fitting:
        which = ", ".join(f"{c.invoice_id} ({c.amount} {c.currency})" for c in named)
        return none(f"the amount differs from that of invoice {which}")
    if len(fitting) > 1 and line.creditor_iban:
        iban = normalise_iban(line.creditor_iban)
        to_them = [c for c in fitting if iban in {normalise_iban(i) for i in c.ibans}]
        fitting = to_them or fitting
    ids = tuple(sorted(c.invoice_id for c in fitting))
    if len(ids) > 1:
        return LineMatch(line, ids, "fits several invoices: not guessed")
    return LineMatch(line, ids, "reference and amount")
