"""Bank statements in ISO 20022 camt.053 (``BkToCstmrStmt``): the booked lines, read as the
payment import needs them. The file comes from outside like an invoice does, so it goes through
the hardened parser (``xmlsafe``: no DTD, no entities, a size limit) and every value is read
strictly: an amount that is not an ISO 20022 decimal or a date that is not a date makes that one
line unreadable (``problem``), never a guess.

One line per entry (``Ntry``); a batch entry with several transactions (``NtryDtls/TxDtls``)
gives one line per transaction with its own amount. Versions camt.053.001.02 to .13 differ in
where a few values sit (``Sts`` or ``Sts/Cd``, ``Cdtr/Nm`` or ``Cdtr/Pty/Nm``, ``TxDtls/Amt`` or
``TxDtls/AmtDtls/TxAmt/Amt``); both places are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lxml import etree

from einvoice.errors import UnsupportedDocument
from einvoice.formats.values import clean, text_of
from einvoice.formats.xmlsafe import DEFAULT_MAX_XML_BYTES, parse_xml

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."
_AMOUNT = re.compile(r"\d{1,18}(\.\d{1,5})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_NOT_PROVIDED = "NOTPROVIDED"


@dataclass(frozen=True)
class BankLine:
    """One booked movement: ``debit`` is money leaving the account (a payment we made)."""

    where: str  # "statement S-1, entry 3" (", transaction 2" in a batch entry)
    statement: str | None
    entry_ref: str | None  # the bank's reference (AcctSvcrRef, else NtryRef)
    debit: bool
    status: str | None  # BOOK, PDNG, INFO
    reversal: bool
    amount: Decimal | None
    currency: str | None
    booking_date: date | None
    end_to_end_id: str | None
    unstructured: tuple[str, ...] = ()  # RmtInf/Ustrd
    references: tuple[str, ...] = ()  # RmtInf/Strd: CdtrRefInf/Ref, RfrdDocInf/Nb
    creditor: str | None = None
    creditor_iban: str | None = None
    problem: str | None = None  # a value that could not be read

    @property
    def booked(self) -> bool:
        return self.status == "BOOK"


@dataclass(frozen=True)
class Statement:
    ids: tuple[str, ...]
    lines: tuple[BankLine, ...]


@dataclass(frozen=True)
class _Head:
    """What all lines of one entry share."""

    statement: str | None
    entry_ref: str | None
    status: str | None
    reversal: bool
    booking_date: date | None


class _Reader:
    """Paths in the statement's own namespace (``c:``), whichever camt.053 version it is."""

    def __init__(self, namespace: str) -> None:
        self.ns = {"c": namespace}

    def all(self, el: etree._Element, path: str) -> list[etree._Element]:
        return list(el.iterfind(self._q(path), self.ns))

    def one(self, el: etree._Element, *paths: str) -> etree._Element | None:
        for path in paths:
            found = el.find(self._q(path), self.ns)
            if found is not None:
                return found
        return None

    def text(self, el: etree._Element | None, *paths: str) -> str | None:
        return None if el is None else text_of(self.one(el, *paths))

    def texts(self, el: etree._Element | None, path: str) -> tuple[str, ...]:
        if el is None:
            return ()
        return tuple(t for t in (text_of(x) for x in self.all(el, path)) if t)

    @staticmethod
    def _q(path: str) -> str:
        return "/".join(f"c:{step}" for step in path.split("/"))


def read_statement(data: bytes, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> Statement:
    """The lines of a camt.053 file; raises an ``InputError`` for anything that is not one
    (malformed or hostile XML, another message type)."""
    root = parse_xml(data, max_bytes).getroot()
    name = etree.QName(root)
    if not (name.namespace or "").startswith(NAMESPACE_PREFIX) or name.localname != "Document":
        raise UnsupportedDocument(f"not a camt.053 bank statement (root element {root.tag})")
    r = _Reader(name.namespace or "")
    body = r.one(root, "BkToCstmrStmt")
    if body is None:
        raise UnsupportedDocument("not a camt.053 bank statement (no BkToCstmrStmt)")
    ids: list[str] = []
    lines: list[BankLine] = []
    for n, stmt in enumerate(r.all(body, "Stmt"), 1):
        stmt_id = r.text(stmt, "Id")
        ids.append(stmt_id or f"#{n}")
        for i, entry in enumerate(r.all(stmt, "Ntry"), 1):
            lines.extend(_entry(r, entry, stmt_id, f"statement {stmt_id or n}, entry {i}"))
    return Statement(tuple(ids), tuple(lines))


def _entry(r: _Reader, entry: etree._Element, stmt_id: str | None,
           where: str) -> list[BankLine]:
    problems: list[str] = []
    amount, currency = _amount(r.one(entry, "Amt"), problems)
    booked_on = _date(r.text(entry, "BookgDt/Dt", "BookgDt/DtTm"), problems)
    base = _Head(stmt_id, r.text(entry, "AcctSvcrRef") or r.text(entry, "NtryRef"),
                 r.text(entry, "Sts/Cd") or r.text(entry, "Sts"),
                 r.text(entry, "RvslInd") in ("true", "1"), booked_on)
    debit = r.text(entry, "CdtDbtInd")
    txs = r.all(entry, "NtryDtls/TxDtls")
    if len(txs) <= 1:
        tx = txs[0] if txs else None
        return [_line(r, tx, where, debit, amount, currency, problems, base)]
    out = []
    for j, tx in enumerate(txs, 1):
        own: list[str] = list(problems)
        tx_amount, tx_currency = _amount(r.one(tx, "Amt", "AmtDtls/TxAmt/Amt",
                                               "AmtDtls/InstdAmt/Amt"), own)
        if tx_amount is None and not own:
            own.append("a transaction of a batch entry without its own amount")
        out.append(_line(r, tx, f"{where}, transaction {j}", r.text(tx, "CdtDbtInd") or debit,
                         tx_amount, tx_currency, own, base))
    return out


def _line(r: _Reader, tx: etree._Element | None, where: str, debit: str | None,
          amount: Decimal | None, currency: str | None, problems: list[str],
          head: _Head) -> BankLine:
    if debit not in ("DBIT", "CRDT"):
        problems.append(f"credit/debit indicator {debit!r}")
    e2e = r.text(tx, "Refs/EndToEndId")
    parties = None if tx is None else r.one(tx, "RltdPties")
    refs = (*r.texts(tx, "RmtInf/Strd/CdtrRefInf/Ref"), *r.texts(tx, "RmtInf/Strd/RfrdDocInf/Nb"))
    return BankLine(
        where=where, statement=head.statement, entry_ref=head.entry_ref, status=head.status,
        reversal=head.reversal, booking_date=head.booking_date, debit=debit == "DBIT",
        amount=amount, currency=currency,
        end_to_end_id=None if e2e is None or e2e.upper() == _NOT_PROVIDED else e2e,
        unstructured=r.texts(tx, "RmtInf/Ustrd"), references=refs,
        creditor=r.text(parties, "Cdtr/Pty/Nm", "Cdtr/Nm"),
        creditor_iban=r.text(parties, "CdtrAcct/Id/IBAN"),
        problem="; ".join(problems) or None)


def _amount(el: etree._Element | None, problems: list[str]) -> tuple[Decimal | None,
                                                                      str | None]:
    """An ISO 20022 amount: digits with a point, no sign, and its currency attribute."""
    text, currency = text_of(el), clean(None if el is None else el.get("Ccy"))
    if text is None or not _AMOUNT.fullmatch(text):
        problems.append(f"amount {text!r} is not a decimal amount")
        return None, currency
    if currency is None or not _CURRENCY.fullmatch(currency):
        problems.append(f"currency {currency!r} is not an ISO 4217 code")
        return Decimal(text), None
    return Decimal(text), currency


def _date(text: str | None, problems: list[str]) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        problems.append(f"booking date {text!r} is not a date")
        return None
