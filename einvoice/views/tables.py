"""Terminal tables (rich) of invoice lists, the inbox, a history and the supplier master, in the
German conventions finance staff expect (1.234,56 €, 24.12.2026, local time).

Every value from outside is text, never markup or a terminal control (``terminal.SafeTable``:
a ``str`` cell is foreign, our styling is a ``Text``).

Every table fits an 80-column terminal: no outer border, one space between columns; dates, times,
amounts and IBANs never wrap (``no_wrap`` with their full width as the minimum); text
wraps at words and folds a word longer than its column rather than cutting it; and what matters
less moves into another column's second line instead of taking a column of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from rich import box
from rich.table import Column

from einvoice.lifecycle import Status
from einvoice.store import tables as t
from einvoice.views.formatting import count, day, iban, money
from einvoice.views.labels import status_words
from einvoice.views.listing import Listed
from einvoice.views.queries import InboxRow
from einvoice.views.story import Event, event_rows
from einvoice.views.terminal import SafeTable, safe, stack

DATE_WIDTH, TIME_WIDTH, IBAN_WIDTH = 10, 19, 27  # 24.12.2026, … 14:05:33, DE02 1203 … 51
NUMBER_WIDTH = 20  # an invoice number this long stays whole; a longer one folds


def text(header: str, *, min_width: int | None = None) -> Column:
    """A column of words: wrapped, a long word folded, never cut."""
    return Column(header, overflow="fold", min_width=min_width)


def fixed(header: str, width: int | None = None, *, right: bool = False) -> Column:
    """A column whose values must stay whole on one line (dates, amounts, IBANs, ids); one
    too long for any terminal is folded, never cut."""
    return Column(header, no_wrap=True, overflow="fold", min_width=width,
                  justify="right" if right else "left")


def amount(header: str) -> Column:
    return fixed(header, right=True)


def reference(header: str) -> Column:
    """Invoice numbers: whole up to ``NUMBER_WIDTH``; a longer one (any length a supplier
    likes) folds, so that it can never push the seller, date or amount off the table."""
    return text(header, min_width=NUMBER_WIDTH)


def table(title: str, *columns: Column) -> SafeTable:
    """The one table style: a rule under the header, no outer border, no edge padding; cells
    and title shown as text (``SafeTable``)."""
    return SafeTable(*columns, title=title, box=box.SIMPLE_HEAD, show_edge=False,
                 collapse_padding=True, title_justify="left")


def invoice_table(rows: Sequence[Listed]) -> SafeTable:
    """``einvoice list``: the status below the invoice number; a document that names no seller
    (one that could not be read) shows its file name there."""
    out = table(count(len(rows), "Rechnung / invoice", "Rechnungen / invoices"),
                fixed("ID", right=True), reference("Nummer / Status"),
                text("Verkäufer / Datei", min_width=10), fixed("Datum", DATE_WIDTH),
                amount("Brutto"))
    for row in rows:
        out.add_row(str(row.id), stack(row.number, status_words(row.status).de),
                    row.seller_name or safe(row.filename, "italic"),
                    day(row.issue_date), money(row.gross_total, row.currency))
    return out


def inbox_table(rows: list[InboxRow]) -> SafeTable:
    """The date to act by first (``Skonto`` below it when that is the Skonto deadline); below
    the seller the German flags only (`show` and `--json` carry the full texts)."""
    out = table(f"Eingang: {count(len(rows), 'Rechnung', 'Rechnungen')}, dringendste zuerst",
                fixed("ID", right=True), fixed("Handeln bis", DATE_WIDTH), reference("Nummer"),
                text("Verkäufer / Hinweise", min_width=10), amount("Brutto"))
    for r in rows:
        inv = r.invoice
        when = day(r.act_by) + ("\nSkonto" if inv.skonto_until else "")
        notes = [f.split(" / ")[0] for f in r.flags]
        if inv.status != Status.PENDING:
            notes.insert(0, status_words(inv.status).de)
        out.add_row(str(inv.id), when, stack(inv.number),
                    stack(inv.seller_name, safe("; ".join(notes), "yellow") if notes else None),
                    money(inv.gross_total, inv.currency))
    return out


def events_table(title: str, events: Sequence[Event]) -> SafeTable:
    """Who did what when and why, one event a row; the status it led to below the action."""
    out = table(title, fixed("Zeit", TIME_WIDTH), text("Wer", min_width=8),
                text("Aktion → Status", min_width=12), text("Grund / Einzelheiten", min_width=12))
    for e in events:
        led_to = e.change.rpartition("→ ")[2]
        shown = stack(e.what, f"→ {led_to}" if led_to and led_to != e.what else None)
        out.add_row(e.when, e.who, shown, e.why)
    return out


def history_table(invoice_id: int, events: list[t.AuditEvent], zone: ZoneInfo,
                  names: Mapping[str, str] | None = None) -> SafeTable:
    """``einvoice history``: times in ``zone`` (stored in UTC), people by their register
    names."""
    return events_table(f"Verlauf / history: Rechnung {invoice_id}",
                        event_rows(events, names or {}, zone))


def supplier_table(rows: list[t.Supplier]) -> SafeTable:
    """The supplier master: IBANs whole, one a line; the booking data in one column."""
    out = table(f"Lieferanten / suppliers: {len(rows)}", fixed("ID", right=True),
                text("Name", min_width=10), text("USt-IdNr."), fixed("IBANs", IBAN_WIDTH),
                text("Buchung / E-Mail", min_width=12))
    for sup in rows:
        booking = [f"{label} {value}" for label, value in (
            ("Konto", sup.account), ("Kostenstelle", sup.cost_centre),
            ("Kreditor", sup.creditor_account)) if value]
        out.add_row(str(sup.id), sup.name, sup.vat_id or "",
                    stack(*(iban(i) for i in sup.ibans.split(","))),
                    stack(*booking, sup.email))
    return out
