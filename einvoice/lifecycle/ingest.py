"""The ingest decisions: what a read and validated document becomes (status, duplicate key,
office, pay-by, Skonto)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from einvoice.lifecycle.binding import UNCLEARED
from einvoice.lifecycle.keys import name_key, number_key, vat_key
from einvoice.lifecycle.machine import NOT_ORIGINALS, Status
from einvoice.model import Invoice
from einvoice.validation.findings import Verdict
from einvoice.validation.leitweg import office_for


def status_after_validation(verdict: Verdict | None) -> Status:
    """accept → pending, reject → invalid; no verdict (the validation engine failed) leaves it
    received, to be validated again."""
    if verdict is None or verdict is Verdict.UNDEFINED:
        return Status.RECEIVED
    return Status.PENDING if verdict is Verdict.ACCEPT else Status.INVALID


def status_after_revalidation(status: str, verdict: Verdict | None,
                              held: bool = False) -> Status | None:
    """A document left received, validated again: where it moves now (pending, invalid; on
    hold instead of pending when ingest found its channel does not speak for the seller:
    ``held``, stored as ``invoice.unbound``), or None when it stays: still no verdict, or no
    longer received (moved meanwhile)."""
    if status != Status.RECEIVED:
        return None
    after = status_after_validation(verdict)
    if after is Status.RECEIVED:
        return None
    return Status.ON_HOLD if held and after is Status.PENDING else after


def seller_key(model: Invoice) -> str | None:
    """Who the seller is for duplicate detection: the VAT id if given, else the name (both as
    ``lifecycle.keys`` compares them)."""
    return vat_key(model.seller.vat_id) or name_key(model.seller.name)


@dataclass(frozen=True)
class DuplicateKey:
    """Same seller, number, type and gross total: the same invoice sent again. Seller and
    number are keys (``lifecycle.keys``): a number differing only in case, width, invisible
    characters, dashes or spaces is the same number."""

    seller_key: str
    number_key: str
    type_code: str | None
    gross_total: Decimal


def duplicate_key(model: Invoice) -> DuplicateKey | None:
    """The key to look an earlier copy up by; None when the invoice lacks a part of it."""
    seller, number = seller_key(model), number_key(model.number)
    gross = model.totals.with_vat
    if seller is None or number is None or gross is None:
        return None
    return DuplicateKey(seller, number, model.type_code, gross)


class EarlierCopy(Protocol):
    """An invoice already stored (or decided earlier in the same batch): what decides whether
    it is the original of a new one."""

    @property
    def id(self) -> int: ...
    @property
    def seller_key(self) -> str: ...
    @property
    def number_key(self) -> str: ...
    @property
    def type_code(self) -> str | None: ...
    @property
    def gross_total(self) -> Decimal | None: ...
    @property
    def status(self) -> str: ...
    @property
    def unbound(self) -> bool: ...
    @property
    def duplicate_of(self) -> int | None: ...


def original_among(key: DuplicateKey, earlier: Iterable[EarlierCopy], held: bool) -> int | None:
    """The original a new invoice with ``key`` is a copy of: the first (lowest id) earlier
    invoice with the same seller and number keys, type and gross total that is not itself a
    duplicate and not in a status after which a resent invoice is new (``NOT_ORIGINALS``). An
    unbound invoice not yet cleared by a person (``UNCLEARED``) is the original only of another
    ``held`` one: a forgery never makes the genuine supplier's invoice a duplicate."""
    found = [copy.id for copy in earlier
             if (copy.seller_key, copy.number_key, copy.type_code, copy.gross_total)
             == (key.seller_key, key.number_key, key.type_code, key.gross_total)
             and copy.duplicate_of is None and copy.status not in NOT_ORIGINALS
             and (held or not copy.unbound or copy.status not in UNCLEARED)]
    return min(found, default=None)


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
                  routes: Mapping[str, str], payment_days: int,
                  held: bool = False) -> IngestDecision:
    """Unreadable → quarantined; valid but ``held`` (the channel does not speak for the seller,
    ``lifecycle.binding``) → on hold, even when it is a copy, so that a person sees it; an
    earlier copy → duplicate; else by the verdict. The office comes from the Leitweg-ID
    (BT-10), the account is pre-filled from BT-19."""
    if model is None:
        return IngestDecision(Status.QUARANTINED)
    status = status_after_validation(verdict)
    if held and status is Status.PENDING:
        status = Status.ON_HOLD
    elif duplicate_of is not None:
        status = Status.DUPLICATE
    skonto = skonto_deadline(model)
    return IngestDecision(
        status=status, office=office_for(model.buyer_reference, routes),
        pay_by=pay_by(model, payment_days), skonto_until=skonto[0] if skonto else None,
        skonto_percent=skonto[1] if skonto else None,
        account=model.buyer_accounting_reference)
