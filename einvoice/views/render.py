"""A readable German HTML page (and PDF) of an invoice, for finance staff who cannot read XML.

The page is laid out like a paper invoice (parties, header data, lines, totals, VAT, payment),
and every business term is labelled in German with its EN 16931 id taken from the model's field
metadata. Whatever the layout does not place explicitly lands in a "Weitere Angaben" section, so
no value that was read can go missing from the view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal, get_currency_name
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel

from einvoice.model import AllowanceCharge, Identifier, Invoice, Line
from einvoice.validation.report import VERDICT_DE
from einvoice.views.labels import (
    CODES,
    DOCUMENT_TYPES,
    LABELS,
    LEVEL_DE,
    STATUS_DE,
)

LOCALE = "de_DE"

_MONEY = {92, 93, 99, 100, *range(106, 119), 131, 136, 137, 141, 142, 146, 147, 148} - {111, 118}
_PERCENT = {94, 96, 101, 103, 119, 138, 143, 152}
_COUNTRY = {"BT-40", "BT-55", "BT-69", "BT-80", "BT-159"}
_NAME_FIRST = _COUNTRY | {"BT-130", "BT-150"}
_GERMAN = Locale.parse(LOCALE)
_env = Environment(loader=PackageLoader("einvoice", "templates"),
                   autoescape=select_autoescape(["html"]))


# ---------------------------------------------------------------- formatting

def _plain(value: Decimal) -> Decimal:
    """The value without trailing zeros and without exponent notation (20.00 -> 20)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def money(value: Decimal, currency: str | None) -> str:
    """``1.234,56 €``; more decimals only where they carry value (unit price ``0,0125 €``)."""
    if not currency:
        return format_decimal(_plain(value), locale=LOCALE, decimal_quantization=False)
    return format_currency(_plain(value), currency, locale=LOCALE, decimal_quantization=False)


def quantity(value: Decimal) -> str:
    """``1.234,5``: German separators, every significant decimal kept."""
    return format_decimal(_plain(value), locale=LOCALE, decimal_quantization=False)


def day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def size(n: int) -> str:
    """Byte count for people: ``812 Byte``, ``12,3 kB``, ``4,1 MB``."""
    if n < 1000:
        return f"{n}\xa0Byte"
    unit, scaled = ("kB", n / 1000) if n < 1_000_000 else ("MB", n / 1_000_000)
    return f"{format_decimal(round(scaled, 1), locale=LOCALE)}\xa0{unit}"


def code(term: str, value: str) -> str:
    """A code with its German meaning where known: ``380 – Rechnung``, ``Stück (H87)``,
    ``Deutschland (DE)``."""
    if term in _COUNTRY:
        meaning = _GERMAN.territories.get(value)
    elif term in ("BT-5", "BT-6"):
        meaning = get_currency_name(value, locale=LOCALE)
        meaning = None if meaning == value else meaning
    else:
        meaning = CODES.get(term, {}).get(value)
    if meaning and term in _NAME_FIRST:
        return f"{meaning} ({value})"
    return f"{value} – {meaning}" if meaning else value


def iban(value: str) -> str:
    """IBANs in groups of four, as printed on paper; other account ids unchanged."""
    compact = value.replace(" ", "")
    if len(compact) > 14 and compact[:2].isalpha() and compact[2:4].isdigit():
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return value


# ---------------------------------------------------------------- walking the model

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
class _View:
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
            return f"{quantity(value)} %" if num in _PERCENT else quantity(value)
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


ADDRESS_LAYOUT = (("line1",), ("line2",), ("line3",), ("post_code", "city"), ("subdivision",),
                  ("country",))
CONTACT_LAYOUT = (("name",), ("phone",), ("email",))


# ---------------------------------------------------------------- page sections

def _vat(rate: str, category: str) -> str:
    """``19 % (S)``: rate with the VAT category code."""
    return f"{rate} ({category})".strip() if category else rate


def _line(v: _View, line: Line) -> dict[str, Any]:
    item = line.item
    row: dict[str, Any] = {"id": v.cell(line, "id"), "name": v.cell(item, "name"),
           "description": v.cell(item, "description"), "quantity": v.cell(line, "quantity"),
           "unit": v.cell(line, "unit_code"), "price": v.cell(line.price, "net"),
           "per": " ".join(p for p in (v.cell(line.price, "base_quantity"),
                                      v.cell(line.price, "base_quantity_unit")) if p),
           "vat": _vat(v.cell(line, "vat_rate"), v.cell(line, "vat_category", raw=True)),
           "net": v.cell(line, "net_amount")}
    details = [e for ac in line.allowances_charges for e in _line_charge(v, ac)]
    for c in item.classifications:
        details += v.phrase("Klassifizierung des Artikels", c, None,
                            [("code", ""), ("scheme", ", Schema "), ("version", ", Version ")])
    for a in item.attributes:
        details += v.phrase("Artikelattribut", a, None, [("name", ""), ("value", ": ")])
    row["details"] = details + v.all(line, "BG-25")
    return row


def _line_charge(v: _View, ac: AllowanceCharge) -> list[Entry]:
    """A line allowance or charge in one phrase: ``10,00 € (10 % von 100,00 €) – 95: Rabatt``."""
    taken = {a: v.take(ac, a, "BG-27/BG-28")
             for a in ("amount", "percent", "base_amount", "reason_code", "reason")}
    val = {a: ", ".join(e.value for e in entries) for a, entries in taken.items()}
    terms = [e.term for entries in taken.values() for e in entries]
    basis = " von ".join(p for p in (val["percent"], val["base_amount"]) if p)
    reason = ": ".join(p for p in (val["reason_code"], val["reason"]) if p)
    text = " – ".join(p for p in (val["amount"] + (f" ({basis})" if basis else ""), reason) if p)
    label = "Zuschlag zur Position" if ac.is_charge else "Nachlass zur Position"
    return [Entry(", ".join(terms), label, text.strip())] if terms else []


def _charge(v: _View, ac: AllowanceCharge, role: str) -> dict[str, Any]:
    reason = " – ".join(p for p in (v.cell(ac, "reason_code", role), v.cell(ac, "reason", role))
                        if p)
    vat = _vat(v.cell(ac, "vat_rate", role), v.cell(ac, "vat_category", role, raw=True))
    return {"kind": "Zuschlag" if ac.is_charge else "Nachlass", "reason": reason,
            "base": v.cell(ac, "base_amount", role), "percent": v.cell(ac, "percent", role),
            "vat": vat, "amount": v.cell(ac, "amount", role)}


def _skonto(inv: Invoice) -> list[str]:
    """Skonto terms in words, with the last day to pay when the invoice date is known."""
    texts = []
    for s in inv.skonto:
        text = f"{quantity(s.percent)} % Skonto bei Zahlung innerhalb von {s.days} Tagen"
        if inv.issue_date:
            text += f" ab Rechnungsdatum, also bis {day(inv.issue_date + timedelta(days=s.days))}"
        if s.base_amount is not None:
            text += f"; Basisbetrag {money(s.base_amount, inv.currency)}"
        texts.append(text)
    return texts


def _party(v: _View, party: BaseModel | None, role: str) -> list[Entry]:
    """A party block: names first, then postal address and contact as on a letter, then the
    rest (identifiers, tax numbers) term by term."""
    if party is None:
        return []
    names = [e for a in ("name", "trading_name", "party_name") if a in type(party).model_fields
             for e in v.take(party, a)]
    address = getattr(party, "address", None)
    contact = getattr(party, "contact", None)
    sub = {"BG-4": ("BG-5", "BG-6"), "BG-7": ("BG-8", "BG-9"), "BG-11": ("BG-12", None),
           "BG-13": ("BG-15", None)}[role]
    return (names + v.joined("Anschrift", address, sub[0], ADDRESS_LAYOUT)
            + v.joined("Kontakt", contact, sub[1], CONTACT_LAYOUT) + v.all(party, role))


def _page(inv: Invoice) -> dict[str, Any]:
    """Everything the template shows, formatted; ``rest`` collects what no section placed."""
    v = _View(inv)
    take = v.take
    header = [e for a in ("number", "issue_date", "type_code", "due_date", "buyer_reference",
                          "currency", "vat_currency", "tax_point_date", "tax_point_date_code")
              for e in take(inv, a)]
    header += v.all(inv.invoicing_period, "BG-14")
    header += take(inv, "business_process") + take(inv, "specification_id")
    references = [e for a in ("purchase_order_reference", "sales_order_reference",
                              "contract_reference", "project_reference", "tender_reference",
                              "receiving_advice_reference", "despatch_advice_reference",
                              "invoiced_object_id", "buyer_accounting_reference")
                  for e in take(inv, a)]
    for preceding in inv.preceding_invoices:
        references += v.phrase("Vorausgegangene Rechnung", preceding, "BG-3",
                               [("number", ""), ("issue_date", " vom ")])
    notes = [{"subject": take(note, "subject_code"), "text": take(note, "text")}
             for note in inv.notes]
    lines = [_line(v, line) for line in inv.lines]
    charges = [_charge(v, ac, "BG-20/BG-21") for ac in inv.allowances_charges]
    vat = [{"category": v.cell(b, "category"), "rate": v.cell(b, "rate"),
            "taxable": v.cell(b, "taxable_amount"), "tax": v.cell(b, "tax_amount"),
            "exemption": " – ".join(p for p in (v.cell(b, "exemption_reason_code"),
                                                v.cell(b, "exemption_reason")) if p)}
           for b in inv.vat_breakdown]
    attachments = [{"reference": v.cell(d, "reference"), "description": v.cell(d, "description"),
                    "uri": v.cell(d, "external_uri"),
                    "filename": v.cell(d.attachment, "filename"),
                    "mime": v.cell(d.attachment, "mime_code"),
                    "size": size(len(d.attachment.content))
                    if d.attachment and take(d.attachment, "content") else ""}
                   for d in inv.supporting_documents]
    return {
        "title": f"{DOCUMENT_TYPES.get(inv.type_code or '', 'Rechnung')} {inv.number or ''}",
        "seller": _party(v, inv.seller, "BG-4"), "buyer": _party(v, inv.buyer, "BG-7"),
        "header": header, "references": references, "notes": notes, "lines": lines,
        "charges": charges, "totals": v.all(inv.totals, "BG-22"), "vat": vat,
        "payment_terms": take(inv, "payment_terms"), "skonto": _skonto(inv),
        "payment": [e for a in ("means_code", "means_text", "remittance_information")
                    for e in take(inv.payment, a)],
        "accounts": [{"name": v.cell(t, "account_name"), "iban": v.cell(t, "account_id"),
                      "bic": v.cell(t, "service_provider_id")}
                     for t in (inv.payment.credit_transfers if inv.payment else [])],
        "payment_other": v.all(inv.payment, "BG-16"), "payee": v.all(inv.payee, "BG-10"),
        "tax_representative": _party(v, inv.tax_representative, "BG-11"),
        "delivery": _party(v, inv.delivery, "BG-13"), "attachments": attachments,
        "rest": v.all(inv),
    }


def render_invoice_html(model: Invoice, *, status: str | None = None,
                        verdict: str | None = None,
                        findings: Sequence[tuple[str, str, str]] = (),
                        source: str | None = None) -> str:
    """The invoice as a self-contained German HTML page, with optional case data: the source
    file name, workflow status, validation verdict and findings as (level, rule id, message)."""
    case = {"source": source,
            "status": f"{STATUS_DE.get(status, status)} ({status})" if status else None,
            "verdict": f"{VERDICT_DE.get(verdict, verdict)} ({verdict})" if verdict else None,
            "findings": [{"level": level, "level_de": LEVEL_DE.get(level, level), "rule": rule,
                          "message": message} for level, rule, message in findings]}
    return _env.get_template("invoice.html").render(p=_page(model), case=case)
