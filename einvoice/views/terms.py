"""The model's business terms as people read them: each value with its German label and
EN 16931 id (from the model's field metadata), formatted in the German conventions, and a record
of which terms a page has placed, so that nothing read can go missing from the view."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from einvoice.model import AllowanceCharge, Identifier, Invoice
from einvoice.views.formatting import day, iban, money, number, size
from einvoice.views.labels import LABELS, code

_MONEY = {92, 93, 99, 100, *range(106, 119), 131, 136, 137, 141, 142, 146, 147, 148} - {111, 118}
_PERCENT = {94, 96, 101, 103, 119, 138, 143, 152}


@dataclass(frozen=True)
class Entry:
    """One business term as shown: German label, term id, formatted value."""

    term: str
    label: str
    value: str


def _term_of(owner: BaseModel, attr: str, role: str | None) -> str | None:
    """The term id of ``owner.attr`` in ``role`` (allowance or charge by ``is_charge``). A
    per-role field in a role its metadata does not name (a VAT category on a line allowance)
    gets the first role's id with ``*``: shown as "sinngemäß" rather than dropped."""
    extra = type(owner).model_fields[attr].json_schema_extra
    if not isinstance(extra, dict):
        return None
    if "term" in extra:
        return str(extra["term"])
    if isinstance(owner, AllowanceCharge) and role and "/" in role:
        role = role.split("/")[owner.is_charge]
    terms = extra.get("terms")
    if not isinstance(terms, dict) or not terms:
        return None
    return str(terms[role]) if role in terms else f"{next(iter(terms.values()))}*"


def _label(term: str, attr: str) -> str:
    label = LABELS.get(term.rstrip("*"), attr)
    return f"{label} (sinngemäß)" if term.endswith("*") else label


_Leaf = tuple[BaseModel, str, str | None]


def _is_group(value: object) -> bool:
    return isinstance(value, BaseModel) and not isinstance(value, Identifier)


@dataclass
class TermView:
    """Formats the terms of one invoice and remembers which were shown, for the fallback."""

    invoice: Invoice
    shown: set[tuple[int, str]] = field(default_factory=set)

    def fmt(self, term: str, value: object) -> str:
        term = term.rstrip("*")
        num = int(term[3:]) if term[3:].isdigit() else 0
        if isinstance(value, Identifier):
            return f"{value.value} (Schema {value.scheme})" if value.scheme else value.value
        if isinstance(value, bytes):
            return f"eingebettete Datei, {size(len(value))}"
        if isinstance(value, date):
            return day(value)
        if isinstance(value, Decimal):
            if num in _MONEY:
                return money(value, self.invoice.currency)
            if num == 111:
                return money(value, self.invoice.vat_currency)
            return f"{number(value)} %" if num in _PERCENT else number(value)
        if term == "BT-84":
            return iban(str(value))
        return code(term, str(value))

    def take(self, owner: BaseModel | None, attr: str, role: str | None = None) -> list[Entry]:
        """The entries of one term (several for a repeated one), marked as shown."""
        value = None if owner is None else getattr(owner, attr)
        term = None if owner is None else _term_of(owner, attr, role)
        if owner is None or term is None or value is None:
            return []
        self.shown.add((id(owner), attr))
        label = _label(term, attr)
        return [Entry(term, label, self.fmt(term, v)) for v in
                (value if isinstance(value, list) else [value])]

    def cell(self, owner: BaseModel | None, attr: str, role: str | None = None, *,
             raw: bool = False) -> str:
        """One term's value for a table cell ("" when empty; ``raw``: the bare code), marked
        as shown."""
        entries = self.take(owner, attr, role)
        if raw and entries:
            return str(getattr(owner, attr))
        return ", ".join(e.value for e in entries)

    def leaves(self, owner: BaseModel, role: str | None) -> Iterator[_Leaf]:
        """Every non-empty term below ``owner`` in model order: (holder, attribute, role)."""
        for attr in type(owner).model_fields:
            value = getattr(owner, attr)
            term = _term_of(owner, attr, role)
            if term is None or value is None or value == []:
                continue
            child = term if term.startswith("BG-") else role
            if isinstance(value, list) and _is_group(value[0]):
                for item in value:
                    yield from self.leaves(item, child)
            elif _is_group(value):
                yield from self.leaves(value, child)
            else:
                yield owner, attr, role

    def all(self, owner: BaseModel | None, role: str | None = None) -> list[Entry]:
        """Entries for every term below ``owner`` not shown elsewhere yet."""
        if owner is None:
            return []
        return [entry for holder, attr, r in list(self.leaves(owner, role))
                if (id(holder), attr) not in self.shown
                for entry in self.take(holder, attr, r)]

    def joined(self, label: str, owner: BaseModel | None, role: str | None,
               layout: Sequence[Sequence[str]]) -> list[Entry]:
        """Several terms as one entry, one output line per attribute group: an address reads
        like the address on an envelope, with all its term ids in the label."""
        terms, lines = [], []
        for attrs in layout:
            parts = [e for a in attrs for e in self.take(owner, a, role)]
            terms += [e.term for e in parts]
            if parts:
                lines.append(" ".join(e.value for e in parts))
        return [Entry(", ".join(terms), label, "\n".join(lines))] if lines else []

    def phrase(self, label: str, owner: BaseModel, role: str | None,
               parts: Sequence[tuple[str, str]]) -> list[Entry]:
        """Several terms as one line, each present value after its prefix:
        ``[("code", ""), ("scheme", ", Schema ")]`` gives ``0721-880X, Schema IB``."""
        taken = [(prefix, e) for attr, prefix in parts for e in self.take(owner, attr, role)]
        if not taken:
            return []
        text = "".join(prefix + e.value for prefix, e in taken).removeprefix(taken[0][0])
        return [Entry(", ".join(e.term for _, e in taken), label, text)]
