"""DATEV Buchungsstapel (EXTF, format category 21, format version 13) for supplier invoices.

Files ``EXTF_Buchungsstapel_<YYYY>.csv`` (one per calendar year of the document date, and per
fiscal year when that does not start on 1 January, because Belegdatum is ``TTMM`` and DATEV takes
the year from the header period): Windows-1252 (characters it lacks become ``?``), CRLF, ``;``,
text in double quotes, amounts with decimal comma. Line 1 is the 31-field header, line 2 the
heading of all 125 columns of format version 13, then one booking per line.

Booking (the usual way for an incoming invoice): Konto = the supplier's creditor account,
Gegenkonto = the expense G/L account, Soll/Haben ``H`` (creditor credited) on an invoice and
``S`` on a credit note; one line per VAT breakdown (BG-23) carrying the gross amount of that rate
(BT-116 + BT-117) with the input-tax key (BU-Schlüssel) for the rate, so DATEV derives the tax and
the lines of an invoice add up to BT-112. A negative amount flips S/H (DATEV amounts are always
positive); a zero amount is not booked. With ``per_line``: one booking per invoice line (its net
amount plus its VAT, on the line's own account and cost centre) and per document-level allowance
or charge; rounding differences within a rate go to the largest booking of that rate, so the
invoice still adds up to BT-112 exactly.

Foreign currency (BT-5 not EUR): Umsatz stays in it, Kurs (``kurs``), Basis-Umsatz (amount ×
the item's ``eur_rate``, cents half up) and WKZ Basis-Umsatz ``EUR`` are added (EUR: empty).

Tax keys: ``datev_tax_keys`` is looked up by ``"<category>:<rate>"`` (e.g. ``"AE:19"``), then by
category (``"AE"``), then by rate (``"19"``); no match: no key. The header's creation time is
local time in the batch's zone (the ``timezone`` setting, kept in ``DatevParams``).

Formula injection (``csvcells``): accounting opens this file in a spreadsheet too. Text fields are
neutralised (a leading ``'`` where a spreadsheet would see a formula; DATEV keeps it as part of the
text): Buchungstext (seller name, line item name or note, allowance reason), Beleginfo - Inhalt
(invoice number, seller name, VAT id, file name), WKZ Umsatz (BT-5 from the invoice), KOST1 (typed
by staff or on file), BU-Schlüssel (a setting) and the header's "exported by". Belegfeld 1 allows no
``'``: of its characters only ``+`` and ``-`` start a formula, so leading ones are dropped (the full
number stays in Beleginfo - Inhalt 1). Typed fields are formatted here and never start with a
trigger, so they are never touched: Umsatz, Kurs and Basis-Umsatz (always positive, S/H carries
the sign), Konto and Gegenkonto (digits, see ``plan._account``; a default account in the settings
that is none and looks like a formula is neutralised all the same), Belegdatum, Belegfeld 2,
Leistungsdatum and Fälligkeit (dates), Soll/Haben (``S``/``H``), Beleglink (``sha256:<hex>``) and
the header's numbers, dates and constants.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from einvoice.export import BatchInfo, DatevParams, ExportItem
from einvoice.export.csvcells import Cells
from einvoice.export.datev_columns import COL, COLUMNS
from einvoice.views.formatting import plain

CENT = Decimal("0.01")

# Columns 4-6 per developer.datev.de/datev/platform/de/dtvf/formate/buchungsstapel: an Umsatz in
# foreign currency needs Kurs, Basis-Umsatz and WKZ Basis-Umsatz; Kurs (never 0, at most 4 digits
# before and 6 after the comma) converts it into the base currency. It is quoted per 1 EUR
# (Mengennotierung, like the euro reference rates of DATEV's rate table): EUR = amount / Kurs.
KURS_LIMIT = Decimal(10000)


def kurs(eur_rate: Decimal) -> Decimal:
    """Kurs from EUR per unit: units of the invoice currency per 1 EUR, 6 decimals, half up."""
    return (1 / eur_rate).quantize(Decimal("0.000001"), ROUND_HALF_UP)


_BELEGFELD_BAD = re.compile(r"[^a-zA-Z0-9$&%*+\-/]+")
CELLS = Cells(quote_all_text=True)  # text always in quotes; a batch's own: see ``write``


def _text(value: str | None, limit: int, cells: Cells = CELLS) -> str:
    """A quoted text field: no line breaks, quotes doubled, at most ``limit`` characters,
    neutralised against formulas (see the module's docstring)."""
    if value is None:
        return ""
    return cells.text(" ".join(value.split()), limit)


def _amount(value: Decimal) -> str:
    """DATEV's own rule: always positive (S/H carries the sign), cents, decimal comma."""
    return plain(abs(value).quantize(CENT, ROUND_HALF_UP)).replace(".", ",")


def belegfeld(number: str | None, guard: bool = True) -> str:
    """Belegfeld 1: only ``a-zA-Z0-9$&%*+-/``, at most 36 characters, and (``guard``) never a
    leading ``+`` or ``-``, which a spreadsheet takes for a formula."""
    field = _BELEGFELD_BAD.sub("-", number or "").strip("-")
    return (field.lstrip("+-") if guard else field)[:36]


def rate_text(rate: Decimal | None) -> str:
    """19.00 → ``19``, 5.5 → ``5.5``: the key of ``datev_tax_keys``."""
    return "" if rate is None else plain(rate.normalize())


def tax_key(params: DatevParams, category: str | None, rate: Decimal | None) -> str:
    rate_s = rate_text(rate)
    for key in (f"{category}:{rate_s}", category or "", rate_s):
        if key and key in params.tax_keys:
            return params.tax_keys[key]
    return ""


@dataclass(frozen=True)
class Booking:
    """One booking line before formatting; ``amount`` signed as seen from the invoice."""

    item: ExportItem
    amount: Decimal
    account: str
    cost_centre: str | None
    key: str
    text: str
    rate: Decimal | None
    category: str | None = None


def _gross(net: Decimal, rate: Decimal | None) -> Decimal:
    return (net * (1 + (rate or Decimal(0)) / 100)).quantize(CENT, ROUND_HALF_UP)


def _group_key(category: str | None, rate: Decimal | None) -> tuple[str, str]:
    return (category or "", rate_text(rate or Decimal(0)))


def _per_rate(item: ExportItem, params: DatevParams) -> list[Booking]:
    model = item.model
    text = model.seller.name or model.seller.trading_name or ""
    out = []
    for vb in model.vat_breakdown:
        gross = (vb.taxable_amount or Decimal(0)) + (vb.tax_amount or Decimal(0))
        out.append(Booking(item, gross, item.account, item.cost_centre,
                           tax_key(params, vb.category, vb.rate), text, vb.rate, vb.category))
    if not model.vat_breakdown:  # not EN 16931 conformant, but book the total all the same
        out.append(Booking(item, model.totals.with_vat or Decimal(0), item.account,
                           item.cost_centre, "", text, None))
    return out


def _per_line(item: ExportItem, params: DatevParams) -> list[Booking]:
    model = item.model
    assigned = {lb.position: lb for lb in item.lines}
    groups: dict[tuple[str, str], list[Booking]] = defaultdict(list)
    for pos, line in enumerate(model.lines, start=1):
        lb = assigned.get(pos)
        account = (lb.account if lb and lb.account else None) or item.account
        cost = (lb.cost_centre if lb and lb.cost_centre else None) or item.cost_centre
        name = line.item.name or line.note or f"Position {line.id or pos}"
        groups[_group_key(line.vat_category, line.vat_rate)].append(Booking(
            item, _gross(line.net_amount or Decimal(0), line.vat_rate), account, cost,
            tax_key(params, line.vat_category, line.vat_rate), name, line.vat_rate,
            line.vat_category))
    for ac in model.allowances_charges:
        net = ac.amount or Decimal(0)
        label = ac.reason or ("Zuschlag" if ac.is_charge else "Nachlass")
        groups[_group_key(ac.vat_category, ac.vat_rate)].append(Booking(
            item, _gross(net if ac.is_charge else -net, ac.vat_rate), item.account,
            item.cost_centre, tax_key(params, ac.vat_category, ac.vat_rate), label, ac.vat_rate,
            ac.vat_category))
    targets = {_group_key(vb.category, vb.rate): (vb.taxable_amount or Decimal(0))
               + (vb.tax_amount or Decimal(0)) for vb in model.vat_breakdown}
    out: list[Booking] = []
    for key, target in targets.items():
        found = _match(key, list(groups))
        if found is None:  # no line of this rate: book the breakdown itself
            out.extend(b for b in _per_rate(item, params)
                       if _group_key(b.category, b.rate) == key)
            continue
        bookings = groups.pop(found)
        diff = target - sum((b.amount for b in bookings), Decimal(0))
        if diff:
            i = max(range(len(bookings)), key=lambda j: abs(bookings[j].amount))
            b = bookings[i]
            bookings[i] = replace(b, amount=b.amount + diff)
        out.extend(bookings)
    for rest in groups.values():
        out.extend(rest)
    return out


def _match(key: tuple[str, str], keys: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The line group for a VAT breakdown: same category and rate, else the only group of the
    category, else of the rate, else the only group left."""
    if key in keys:
        return key
    for same in ([k for k in keys if k[0] == key[0]], [k for k in keys if k[1] == key[1]],
                 keys):
        if len(same) == 1:
            return same[0]
    return None


def bookings(item: ExportItem, params: DatevParams) -> list[Booking]:
    """The booking lines of one invoice (zero amounts left out)."""
    lines = _per_line(item, params) if params.per_line and item.model.lines else \
        _per_rate(item, params)
    return [b for b in lines if b.amount.quantize(CENT, ROUND_HALF_UP)]


def document_date(item: ExportItem) -> date:
    return item.model.issue_date or date(1970, 1, 1)


def _ddmmyyyy(d: date | None) -> str:
    return d.strftime("%d%m%Y") if d else ""


def _row(b: Booking, batch: BatchInfo, cells: Cells) -> str:
    item = b.item
    model = item.model
    credit = model.is_credit_note
    if b.amount < 0:
        credit = not credit
    f = [""] * len(COLUMNS)
    typed = cells.typed
    f[COL["Umsatz (ohne Soll/Haben-Kz)"]] = typed(_amount(b.amount))
    f[COL["Soll/Haben-Kennzeichen"]] = '"S"' if credit else '"H"'
    f[COL["WKZ Umsatz"]] = _text(model.currency or "EUR", 3, cells)
    if item.eur_rate is not None:
        f[COL["Kurs"]] = typed(plain(kurs(item.eur_rate)).replace(".", ","))
        f[COL["Basis-Umsatz"]] = typed(_amount(b.amount * item.eur_rate))
        f[COL["WKZ Basis-Umsatz"]] = '"EUR"'
    f[COL["Konto"]] = typed(item.creditor)
    f[COL["Gegenkonto (ohne BU-Schlüssel)"]] = typed(b.account)
    f[COL["BU-Schlüssel"]] = _text(b.key, 4, cells) if b.key else ""
    f[COL["Belegdatum"]] = typed(document_date(item).strftime("%d%m"))
    f[COL["Belegfeld 1"]] = _text(belegfeld(model.number, cells.guard), 36, cells)
    if item.pay_by:
        f[COL["Belegfeld 2"]] = _text(item.pay_by.strftime("%d%m%y"), 12, cells)
    f[COL["Buchungstext"]] = _text(b.text, 60, cells)
    f[COL["Beleglink"]] = _text(f"sha256:{item.original_sha256}", 210, cells)
    infos = [("Rechnungsnummer", model.number), ("einvoice-ID", str(item.invoice_id)),
             ("Datei", item.files[0] if item.files else None),
             ("Lieferant", model.seller.name), ("USt-IdNr.", model.seller.vat_id),
             ("Exportstapel", f"{batch.batch_id}")]
    for n, (kind, content) in enumerate(((k, c) for k, c in infos if c), start=1):
        f[COL[f"Beleginfo - Art {n}"]] = _text(kind, 20, cells)
        f[COL[f"Beleginfo - Inhalt {n}"]] = _text(content, 210, cells)
    if b.cost_centre:
        f[COL["KOST1 - Kostenstelle"]] = _text(b.cost_centre, 36, cells)
    if model.delivery and model.delivery.actual_date:
        f[COL["Leistungsdatum"]] = typed(_ddmmyyyy(model.delivery.actual_date))
    if item.pay_by:
        f[COL["Fälligkeit"]] = typed(_ddmmyyyy(item.pay_by))
    return cells.row(f)


def _fiscal_year_start(d: date, mmdd: str) -> date:
    start = date(d.year, int(mmdd[:2]), int(mmdd[2:]))
    return start if start <= d else date(d.year - 1, start.month, start.day)


def _header(params: DatevParams, batch: BatchInfo, fy_start: date, first: date, last: date,
            cells: Cells) -> str:
    created = batch.created_at.astimezone(params.zone)
    stamp = created.strftime("%Y%m%d%H%M%S") + f"{created.microsecond // 1000:03d}"
    fields = [
        '"EXTF"', "700", "21", '"Buchungsstapel"', "13", stamp, "", '"RE"',
        _text(batch.actor, 25, cells), '""', str(params.adviser), str(params.client),
        fy_start.strftime("%Y%m%d"), str(params.account_length), first.strftime("%Y%m%d"),
        last.strftime("%Y%m%d"), _text(f"Rechnungseingang {batch.batch_id}", 30, cells), '""',
        "1", "0", "0", '"EUR"', "", '""', "", "", _text(params.chart, 2, cells), "", "", '""',
        '""']
    assert len(fields) == 31
    return cells.row(fields)


def file_name(year: int, fy_start: date) -> str:
    if (fy_start.month, fy_start.day) == (1, 1):
        return f"EXTF_Buchungsstapel_{year}.csv"
    return f"EXTF_Buchungsstapel_{year}_WJ{fy_start.year}.csv"


def write(items: Sequence[ExportItem], params: DatevParams, batch: BatchInfo
          ) -> dict[str, bytes]:
    """The booking files of a batch: name → bytes, one file per (calendar, fiscal) year."""
    cells = Cells(quote_all_text=True, guard=params.formula_guard)
    parts: dict[tuple[int, date], list[ExportItem]] = defaultdict(list)
    for item in items:
        d = document_date(item)
        parts[(d.year, _fiscal_year_start(d, params.fiscal_year_start))].append(item)
    out: dict[str, bytes] = {}
    for (year, fy_start), part in sorted(parts.items()):
        dates = [document_date(i) for i in part]
        lines = [_header(params, batch, fy_start, min(dates), max(dates), cells),
                 cells.row(COLUMNS)]
        lines.extend(_row(b, batch, cells) for item in part for b in bookings(item, params))
        text = "\r\n".join(lines) + "\r\n"
        out[file_name(year, fy_start)] = text.encode("cp1252", errors="replace")
    return out
