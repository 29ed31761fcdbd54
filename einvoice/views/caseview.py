"""``einvoice show`` in the terminal: the case (status, office, pay-by date, Skonto, rule
release and profile, the approvals with names and local times, warnings with their reasons, the
history) above the invoice (header, parties, payment, totals, VAT, lines, attachments, the
findings of the check) — the same facts as the page of ``einvoice view`` (``casepage``), laid
out for 80 columns (``tables``); every value from outside shown as text (``terminal``)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from einvoice.model import Address, Contact, Invoice
from einvoice.views.casepage import CaseSection, case_section
from einvoice.views.formatting import day, iban, money, number, size
from einvoice.views.labels import LEVEL_DE, code
from einvoice.views.queries import Case
from einvoice.views.story import Plan
from einvoice.views.tables import amount, events_table, fixed, table, text
from einvoice.views.terminal import SafeTable, safe, stack

Value = str | Text | None  # a str is foreign text


def _kv(title: str, pairs: Sequence[tuple[str, Value]]) -> SafeTable:
    """Label and value, the value wrapped (never cut) in what is left of the line."""
    out = SafeTable(title=title or None, show_header=False, box=None, title_justify="left",
                pad_edge=False)
    out.add_column(style="bold", no_wrap=True)
    out.add_column(overflow="fold")
    for key, value in pairs:
        if value:
            out.add_row(key, value)
    return out


def _address(addr: Address | None) -> Text | None:
    if addr is None:
        return None
    return stack(addr.line1, addr.line2, addr.line3,
                 " ".join(p for p in (addr.post_code, addr.city) if p), addr.subdivision,
                 addr.country)


def _contact(contact: Contact | None) -> str | None:
    if contact is None:
        return None
    return ", ".join(p for p in (contact.name, contact.phone, contact.email) if p)


def _header(m: Invoice) -> SafeTable:
    return _kv("Rechnung / invoice", [
        ("Rechnungsnummer (BT-1)", m.number), ("Rechnungsdatum (BT-2)", day(m.issue_date)),
        ("Art (BT-3)", m.type_code and code("BT-3", m.type_code)),
        ("Währung (BT-5)", m.currency),
        ("Fällig (BT-9)", day(m.due_date)), ("Leitweg-ID (BT-10)", m.buyer_reference),
        ("Bestellung (BT-13)", m.purchase_order_reference),
        ("Spezifikation (BT-24)", m.specification_id),
    ])


def _parties(m: Invoice) -> Group:
    """Seller, then buyer: one below the other, so that addresses keep their lines."""
    return Group(
        _kv("Verkäufer (BG-4)", [("Name", m.seller.name), ("USt-IdNr.", m.seller.vat_id),
                                 ("Steuernr.", m.seller.tax_registration_id),
                                 ("Anschrift", _address(m.seller.address)),
                                 ("Kontakt", _contact(m.seller.contact))]),
        _kv("Käufer (BG-7)", [("Name", m.buyer.name), ("USt-IdNr.", m.buyer.vat_id),
                              ("Anschrift", _address(m.buyer.address))]))


def _payment(m: Invoice) -> SafeTable:
    pay = m.payment
    pairs: list[tuple[str, Value]] = []
    if pay:
        pairs.append(("Zahlungsart (BT-81)", pay.means_code and code("BT-81", pay.means_code)))
        pairs.append(("Verwendungszweck (BT-83)", pay.remittance_information))
        pairs += [(f"IBAN {i} (BT-84)", stack(iban(ct.account_id), ct.service_provider_id
                                              and f"BIC {ct.service_provider_id}"))
                  for i, ct in enumerate(pay.credit_transfers, 1)]
    pairs.append(("Zahlungsbedingungen (BT-20)", m.payment_terms))
    pairs += [(f"Skonto {i}", f"{number(s.percent)} % bei Zahlung binnen {s.days} Tagen")
              for i, s in enumerate(m.skonto, 1)]
    return _kv("Zahlung", pairs)


def _totals(m: Invoice) -> Group:
    c = m.currency
    tot = m.totals
    sums = _kv("Summen (BG-22)", [
        ("Summe Positionen (BT-106)", money(tot.line_net, c)),
        ("Nachlässe (BT-107)", money(tot.allowances, c)),
        ("Zuschläge (BT-108)", money(tot.charges, c)),
        ("Netto (BT-109)", money(tot.without_vat, c)), ("USt (BT-110)", money(tot.vat, c)),
        ("Brutto (BT-112)", money(tot.with_vat, c)), ("Bezahlt (BT-113)", money(tot.prepaid, c)),
        ("Zahlbetrag (BT-115)", money(tot.payable, c)),
    ])
    vat = table("USt-Aufschlüsselung (BG-23)", text("Kategorie"), fixed("Satz", right=True),
                amount("Basis"), amount("Steuer"))
    for b in m.vat_breakdown:
        vat.add_row(b.category or "", f"{number(b.rate)} %", money(b.taxable_amount, c),
                    money(b.tax_amount, c))
    return Group(sums, vat)


def _lines(m: Invoice) -> SafeTable:
    out = table(f"Positionen (BG-25): {len(m.lines)}", fixed("Pos", right=True),
                text("Artikel", min_width=10), fixed("Menge", right=True), text("Einheit"),
                amount("Preis"), fixed("USt", right=True), amount("Netto"))
    for line in m.lines:
        out.add_row(line.id or "", line.item.name or "", number(line.quantity),
                    line.unit_code or "", money(line.price.net, m.currency),
                    " ".join(p for p in (line.vat_category, line.vat_rate is not None
                                         and f"{number(line.vat_rate)} %") if p),
                    money(line.net_amount, m.currency))
    return out


def _attachments(m: Invoice) -> SafeTable:
    out = table("Anlagen (BG-24)", text("Referenz"), text("Beschreibung"), text("Datei"),
                text("Größe / Link"))
    for d in m.supporting_documents:
        att = d.attachment
        where = size(len(att.content)) if att else (d.external_uri or "")
        out.add_row(d.reference, d.description or "", att.filename or "" if att else "", where)
    return out


def _findings(case: Case) -> SafeTable:
    out = table(f"Prüfung: {case.invoice.verdict or '–'} "
                f"({case.invoice.scenario or 'kein Szenario'})",
                text("Stufe"), text("Regel"), text("BT"), text("Meldung", min_width=20))
    for f in case.findings:
        level = f.effective.value
        style = {"error": "red", "warning": "yellow"}.get(level, "")
        words = LEVEL_DE.get(level, level)
        out.add_row(safe(words, style), f.rule_id, f.term or "", f.message)
    return out


def _story(section: CaseSection) -> list[RenderableType]:
    parts: list[RenderableType] = [_kv(section.title, section.facts)]
    if section.flags:
        parts.append(Panel(stack(*section.flags), title="Hinweise / flags", style="yellow"))
    if section.approvals:
        parts.append(_kv("Freigaben / approvals", section.approvals))
    return parts


def case_view(case: Case, zone: ZoneInfo, plan: Plan = ()) -> RenderableType:
    """Everything a clerk needs to judge an invoice, on one screen; times in ``zone``,
    ``plan`` the approval it passes (``approval.steps.plan``)."""
    section = case_section(case, zone, plan)
    parts = _story(section)
    m = case.model
    if m is None:
        parts.insert(1, safe(section.unreadable))
    else:
        parts += [_header(m), _parties(m), _payment(m), _totals(m), _lines(m)]
        if m.supporting_documents:
            parts.append(_attachments(m))
    if case.findings:
        parts.append(_findings(case))
    if section.events:
        parts.append(events_table("Verlauf / history", section.events))
    return Group(*parts)
