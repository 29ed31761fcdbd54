"""Terminal views (rich) of invoice lists and single invoices, in the German conventions
finance staff expect (1.234,56 €, 24.12.2026, local time)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from einvoice.lifecycle import Status
from einvoice.model import Address, Contact, Invoice
from einvoice.store import tables as t
from einvoice.views.casepage import case_section
from einvoice.views.formatting import day, local_time, money, number, size
from einvoice.views.labels import status_words
from einvoice.views.queries import Case, InboxRow


def invoice_table(rows: list[tuple[t.Invoice, t.Document]]) -> Table:
    table = Table(title=f"{len(rows)} Rechnungen / invoices", show_lines=False)
    for heading, justify in (("ID", "right"), ("Status", "left"), ("Nummer", "left"),
                             ("Verkäufer", "left"), ("Datum", "left"), ("Brutto", "right"),
                             ("Datei", "left")):
        table.add_column(heading, justify=justify)  # type: ignore[arg-type]
    for inv, doc in rows:
        table.add_row(str(inv.id), inv.status, inv.number or "", inv.seller_name or "",
                      day(inv.issue_date), money(inv.gross_total, inv.currency),
                      doc.filename or "")
    return table


def _address(addr: Address | None) -> str:
    if addr is None:
        return ""
    parts = [addr.line1, addr.line2, addr.line3,
             " ".join(p for p in (addr.post_code, addr.city) if p), addr.subdivision, addr.country]
    return "\n".join(p for p in parts if p)


def _contact(contact: Contact | None) -> str | None:
    if contact is None:
        return None
    return ", ".join(p for p in (contact.name, contact.phone, contact.email) if p)


def _kv(title: str, pairs: Sequence[tuple[str, str | None]]) -> Table:
    table = Table(title=title, show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        if value:
            table.add_row(key, value)
    return table


def _header(case: Case, m: Invoice, zone: ZoneInfo) -> Table:
    inv, doc = case.invoice, case.document
    return _kv("Rechnung", [
        ("ID / Status", f"{inv.id} / {status_words(inv.status).de} ({inv.status})"
         + (f" (Duplikat von {inv.duplicate_of})" if inv.duplicate_of else "")),
        ("Rechnungsnummer (BT-1)", m.number), ("Rechnungsdatum (BT-2)", day(m.issue_date)),
        ("Art (BT-3)", m.type_code), ("Währung (BT-5)", m.currency),
        ("Fällig (BT-9)", day(m.due_date)), ("Leitweg-ID (BT-10)", m.buyer_reference),
        ("Bestellung (BT-13)", m.purchase_order_reference),
        ("Spezifikation (BT-24)", m.specification_id),
        ("Datei", f"{doc.filename or ''} ({doc.kind}, SHA-256 {doc.sha256[:16]}…)"),
        ("Eingang", f"{case.submission.channel}, "
                    f"{local_time(case.submission.received_at, zone)}"),
    ])


def _parties(m: Invoice) -> Table:
    grid = Table.grid(padding=(0, 4))
    grid.add_row(
        _kv("Verkäufer (BG-4)", [("Name", m.seller.name), ("USt-IdNr.", m.seller.vat_id),
                                 ("Steuernr.", m.seller.tax_registration_id),
                                 ("Anschrift", _address(m.seller.address)),
                                 ("Kontakt", _contact(m.seller.contact))]),
        _kv("Käufer (BG-7)", [("Name", m.buyer.name), ("USt-IdNr.", m.buyer.vat_id),
                              ("Anschrift", _address(m.buyer.address))]),
    )
    return grid


def _payment(m: Invoice) -> Table:
    pay = m.payment
    pairs: list[tuple[str, str | None]] = []
    if pay:
        pairs.append(("Zahlungsart (BT-81)", pay.means_code))
        pairs.append(("Verwendungszweck (BT-83)", pay.remittance_information))
        pairs += [(f"IBAN {i}", f"{ct.account_id} {ct.service_provider_id or ''}")
                  for i, ct in enumerate(pay.credit_transfers, 1)]
    pairs.append(("Zahlungsbedingungen (BT-20)", m.payment_terms))
    pairs += [(f"Skonto {i}", f"{number(s.percent)} % bei Zahlung binnen {s.days} Tagen")
              for i, s in enumerate(m.skonto, 1)]
    return _kv("Zahlung", pairs)


def _totals(m: Invoice) -> Table:
    c = m.currency
    tot = m.totals
    table = _kv("Summen (BG-22)", [
        ("Summe Positionen (BT-106)", money(tot.line_net, c)),
        ("Nachlässe (BT-107)", money(tot.allowances, c)),
        ("Zuschläge (BT-108)", money(tot.charges, c)),
        ("Netto (BT-109)", money(tot.without_vat, c)), ("USt (BT-110)", money(tot.vat, c)),
        ("Brutto (BT-112)", money(tot.with_vat, c)), ("Bezahlt (BT-113)", money(tot.prepaid, c)),
        ("Zahlbetrag (BT-115)", money(tot.payable, c)),
    ])
    vat = Table(title="USt-Aufschlüsselung (BG-23)", title_justify="left")
    for heading in ("Kategorie", "Satz", "Basis", "Steuer"):
        vat.add_column(heading, justify="right")
    for b in m.vat_breakdown:
        vat.add_row(b.category or "", f"{number(b.rate)} %", money(b.taxable_amount, c),
                    money(b.tax_amount, c))
    grid = Table.grid(padding=(0, 4))
    grid.add_row(table, vat)
    return grid


def _lines(m: Invoice) -> Table:
    table = Table(title=f"Positionen (BG-25): {len(m.lines)}", title_justify="left")
    for heading, justify in (("Pos", "right"), ("Artikel", "left"), ("Menge", "right"),
                             ("Einheit", "left"), ("Preis", "right"), ("USt", "right"),
                             ("Netto", "right")):
        table.add_column(heading, justify=justify)  # type: ignore[arg-type]
    for line in m.lines:
        table.add_row(line.id or "", line.item.name or "", number(line.quantity),
                      line.unit_code or "",
                      money(line.price.net, m.currency),
                      f"{line.vat_category or ''} {number(line.vat_rate)} %",
                      money(line.net_amount, m.currency))
    return table


def _attachments(m: Invoice) -> Table:
    table = Table(title="Anlagen (BG-24)", title_justify="left")
    for heading in ("Referenz", "Beschreibung", "Datei", "Größe / Link"):
        table.add_column(heading)
    for d in m.supporting_documents:
        att = d.attachment
        where = size(len(att.content)) if att else (d.external_uri or "")
        table.add_row(d.reference, d.description or "", att.filename or "" if att else "", where)
    return table


def case_view(case: Case, zone: ZoneInfo) -> RenderableType:
    """Everything a clerk needs to judge an invoice, on one screen; times in ``zone``."""
    m = case.model
    if m is None:
        section = case_section(case, zone)
        return Panel(Group(section.unreadable or "", _kv("", section.facts)), title=section.title)
    parts: list[RenderableType] = [_header(case, m, zone), _parties(m), _payment(m), _totals(m),
                                   _lines(m)]
    if m.supporting_documents:
        parts.append(_attachments(m))
    if case.findings:
        parts.append(_findings(case))
    if case.flags:
        parts.append(Panel("\n".join(case.flags), title="Hinweise / flags", style="yellow"))
    if case.events:
        parts.append(history_table(case.invoice.id or 0, case.events, zone))
    return Group(*parts)


def _findings(case: Case) -> Table:
    title = f"Prüfung: {case.invoice.verdict or '–'} ({case.invoice.scenario or 'kein Szenario'})"
    table = Table(title=title, title_justify="left")
    for heading in ("Stufe", "Regel", "BT", "Meldung"):
        table.add_column(heading)
    for f in case.findings:
        level = f.effective.value
        style = {"error": "red", "warning": "yellow"}.get(level, "")
        table.add_row(f"[{style}]{level}[/]" if style else level, f.rule_id, f.term or "",
                      f.message)
    return table


def inbox_table(rows: list[InboxRow]) -> Table:
    """Compact enough for an 80-column terminal: the date to act by first, German flags only
    (`show` and `--json` carry the full texts)."""
    table = Table(title=f"Eingang: {len(rows)} Rechnungen, dringendste zuerst")
    for heading, justify in (("ID", "right"), ("Handeln bis", "left"), ("Verkäufer", "left"),
                             ("Nummer", "left"), ("Brutto", "right"), ("Hinweise", "left")):
        table.add_column(heading, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        inv = r.invoice
        when = day(r.act_by) + (" Skonto" if inv.skonto_until else "")
        notes = [f.split(" / ")[0] for f in r.flags]
        if inv.status != Status.PENDING:
            notes.insert(0, status_words(inv.status).de)
        table.add_row(str(inv.id), when, inv.seller_name or "", inv.number or "",
                      money(inv.gross_total, inv.currency),
                      "[yellow]" + "; ".join(notes) + "[/]" if notes else "")
    return table


def history_table(invoice_id: int, events: list[t.AuditEvent], zone: ZoneInfo) -> Table:
    """Who did what when, times in ``zone`` (stored in UTC)."""
    table = Table(title=f"Verlauf / history of invoice {invoice_id}")
    for heading in ("Zeit", "Wer", "Aktion", "Vorher", "Nachher", "Grund / Details"):
        table.add_column(heading)
    for ev in events:
        table.add_row(local_time(ev.at, zone, seconds=True), ev.actor, ev.action, ev.before or "",
                      ev.after or "", " ".join(filter(None, (ev.reason, ev.detail))))
    return table


def supplier_table(rows: list[t.Supplier]) -> Table:
    table = Table(title="Lieferanten / suppliers")
    for heading in ("ID", "Name", "USt-IdNr.", "IBANs", "Konto", "Kostenstelle", "Kreditor"):
        table.add_column(heading)
    for sup in rows:
        table.add_row(str(sup.id), sup.name, sup.vat_id or "", sup.ibans.replace(",", "\n"),
                      sup.account or "", sup.cost_centre or "", sup.creditor_account or "")
    return table
